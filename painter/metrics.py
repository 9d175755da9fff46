"""How well a model does: same-artist pair metrics (seen and unseen artists apart) and
leave-one-out retrieval metrics."""
from __future__ import annotations

import numpy as np

__all__ = ["balanced_accuracy", "pair_metrics", "retrieval_metrics"]


def balanced_accuracy(same, p, threshold=0.5) -> float:
    """Mean of the accuracy on same-artist pairs and on different-artist pairs."""
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(np.asarray(same).astype(int), (np.asarray(p) >= threshold).astype(int)))


def pair_metrics(same, p, kind=None, threshold: float = 0.5) -> dict:
    """ROC AUC, balanced accuracy and pair counts, overall and per pair kind.

    Parameters
    ----------
    same : (n,) 0/1 truth; p : (n,) scores; kind : (n,) labels such as "seen"/"unseen", optional.

    Returns ``{"all": {...}, "seen": {...}, "unseen": {...}}`` with keys auc, accuracy,
    n_pairs, n_same; NaN scores count as 0.5.
    """
    from sklearn.metrics import roc_auc_score
    same, p = np.asarray(same).astype(int), np.nan_to_num(np.asarray(p, float), nan=0.5)
    groups = {"all": np.ones(len(same), bool)}
    if kind is not None:
        kind = np.asarray(kind)
        groups.update({str(k): kind == k for k in sorted(set(kind.tolist()))})
    out = {}
    for name, m in groups.items():
        if m.sum() and len(set(same[m].tolist())) == 2:
            out[name] = {"auc": float(roc_auc_score(same[m], p[m])),
                         "accuracy": balanced_accuracy(same[m], p[m], threshold),
                         "n_pairs": int(m.sum()), "n_same": int(same[m].sum())}
    return out


def retrieval_metrics(vectors, labels, ks=(1, 5, 10), queries=None, chunk=1024) -> dict:
    """Leave-one-out retrieval quality of L2-normalised ``vectors (n, d)`` for ``labels (n,)``.

    ``queries`` : optional boolean mask ``(n,)`` or index array: which items act as queries
    (e.g. paintings of unseen artists); every item is still searched. The query itself is
    excluded from its ranking. Returns Precision@k and Recall@k (recall:
    the share of the query's same-label items found in the top k), MRR (rank of the first
    same-label item) and mAP over the whole ranking; queries with no other same-label item
    are skipped. ``self_retrieval@1`` (query finds itself) is a sanity line only.
    """
    from sklearn.preprocessing import normalize
    x = normalize(np.asarray(vectors, np.float32))
    labels = np.asarray(labels)
    n = len(x)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} items but vectors has {n} rows")
    qids = np.arange(n) if queries is None else np.arange(n)[np.asarray(queries)]
    out = {f"precision@{k}": 0.0 for k in ks} | {f"recall@{k}": 0.0 for k in ks} | {"mrr": 0.0, "map": 0.0}
    counted = self_hits = 0
    for start in range(0, len(qids), chunk):
        block = qids[start:start + chunk]
        sims = x[block] @ x.T
        for q, row in zip(block, sims):
            order = np.argsort(-row, kind="stable")
            self_hits += order[0] == q
            order = order[order != q]
            rel = labels[order] == labels[q]
            total = rel.sum()
            if total == 0:
                continue
            counted += 1
            for k in ks:
                out[f"precision@{k}"] += rel[:k].sum() / k
                out[f"recall@{k}"] += rel[:k].sum() / total
            hits = np.flatnonzero(rel)
            out["mrr"] += 1.0 / (hits[0] + 1)
            out["map"] += np.mean(np.arange(1, total + 1) / (hits + 1))
    result = {k: float(v / max(counted, 1)) for k, v in out.items()}
    result["queries"] = counted
    result["self_retrieval@1"] = float(self_hits / max(len(qids), 1))
    return result
