"""Similar-painting search with FAISS, and retrieval metrics that exclude the query itself.

Embeddings (frozen backbone features, or a trained same-artist model's embedding) are
L2-normalised, so inner product = cosine. Index types: ``"flat"`` (exact, default), ``"ivf"``
(inverted lists, for large collections), ``"hnsw"`` (graph). An index folder holds
``index.faiss``, ``vectors.npy``, ``metadata.csv`` and ``config.json``; new images are added
without re-embedding the old ones.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .features import FeatureSpec, embed_files
from .images import ImageError

__all__ = ["SimilarityIndex", "build_index_from_data", "retrieval_metrics"]


def _normalise(x):
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _make_faiss(dim, index_type, n):
    import faiss
    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
        return index
    if index_type == "ivf":
        nlist = max(1, int(np.sqrt(max(n, 1))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)  # faiss keeps quantizer alive
        index.nprobe = max(1, nlist // 4)
        return index
    raise ValueError(f"index_type must be 'flat', 'ivf' or 'hnsw', got {index_type!r}")


class SimilarityIndex:
    """FAISS index + metadata (``file`` and any label columns such as ``artist``, ``style``)."""

    def __init__(self, embedding="backbone", index_type="flat"):
        self.embedding, self.index_type = str(embedding), index_type
        self.vectors = np.zeros((0, 0), np.float32)
        self.metadata = pd.DataFrame(columns=["file"])
        self.index = None

    def _embed(self, paths, progress=False):
        if self.embedding == "backbone":
            x, failed = embed_files(paths, FeatureSpec("efficientnet_lite0", 224, "style"), progress=progress)
        else:
            from .predict import load_pair_model
            x, failed = load_pair_model(self.embedding).embed_files(paths, progress=progress)
        return x, failed

    def add(self, paths, metadata: pd.DataFrame | None = None, progress=True) -> dict:
        """Embed and add images (skipping files already indexed). Returns ``{path: reason}`` of failures."""
        paths = [str(p) for p in paths]
        meta = metadata.reset_index(drop=True) if metadata is not None else pd.DataFrame({"file": paths})
        meta = meta.assign(file=paths)
        new = ~meta["file"].isin(set(self.metadata["file"]))
        x, failed = self._embed([p for p, n in zip(paths, new) if n], progress)
        ok = ~np.isnan(x).any(1)
        x, meta = _normalise(x[ok]), meta[new.to_numpy()].reset_index(drop=True)[ok]
        if self.index is None:
            self.index = _make_faiss(x.shape[1], self.index_type, len(x))
            if not self.index.is_trained:
                self.index.train(x)
            self.vectors = np.zeros((0, x.shape[1]), np.float32)
        self.index.add(x)
        self.vectors = np.concatenate([self.vectors, x])
        self.metadata = pd.concat([self.metadata, meta], ignore_index=True)
        return failed

    def search_vectors(self, q, k=10):
        """``(scores, ids)`` each ``(n_queries, k)`` for L2-normalised query vectors."""
        return self.index.search(_normalise(q), k)

    def query_file(self, path, k=10) -> pd.DataFrame:
        """The ``k`` most similar indexed paintings to an image file (itself excluded if indexed)."""
        x, failed = self._embed([str(path)])
        if failed:
            raise ImageError(path, failed[str(path)])
        scores, ids = self.search_vectors(x, k + 1)
        rows = [(s, i) for s, i in zip(scores[0], ids[0]) if i >= 0 and self.metadata["file"][i] != str(path)][:k]
        table = self.metadata.iloc[[i for _, i in rows]].reset_index(drop=True)
        table.insert(0, "score", [float(s) for s, _ in rows])
        table.insert(0, "rank", np.arange(1, len(rows) + 1))
        return table

    def plot_neighbours(self, query, table, path):
        """PNG grid: the query, then its neighbours with artist and score."""
        import matplotlib.pyplot as plt
        from .evaluate import _save
        from .images import load_array
        n = len(table) + 1
        fig, axes = plt.subplots(1, n, figsize=(2.1 * n, 2.8), squeeze=False)
        items = [(query, "query")] + [(r.file, f"{getattr(r, 'artist', '')[:18]}\n{r.score:.2f}") for r in table.itertuples()]
        for ax, (f, title) in zip(axes[0], items):
            try:
                ax.imshow(load_array(f, 160))
            except ImageError:
                pass
            ax.set_title(title, fontsize=7)
            ax.axis("off")
        return _save(fig, path)

    def save(self, directory):
        import faiss
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        np.save(directory / "vectors.npy", self.vectors)
        self.metadata.to_csv(directory / "metadata.csv", index=False)
        (directory / "config.json").write_text(json.dumps({"embedding": self.embedding, "index_type": self.index_type}))
        return directory

    @classmethod
    def load(cls, directory):
        import faiss
        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise FileNotFoundError(f"{directory}: not a painter index folder (no config.json)")
        config = json.loads((directory / "config.json").read_text())
        self = cls(config["embedding"], config["index_type"])
        self.index = faiss.read_index(str(directory / "index.faiss"))
        self.vectors = np.load(directory / "vectors.npy")
        self.metadata = pd.read_csv(directory / "metadata.csv", dtype=str, keep_default_na=False)
        return self


def build_index_from_data(data_dir, out_dir, embedding="backbone", index_type="flat", progress=True):
    """Index every painting of a cleaned data folder (train and test) with artist and style."""
    data_dir = Path(data_dir)
    info = pd.read_csv(data_dir / "all_data_info.csv", dtype=str, keep_default_na=False)
    info["file"] = [str(data_dir / ("train" if t.lower() == "true" else "test") / f)
                    for f, t in zip(info["new_filename"], info["in_train"])]
    seen = set(info["artist"][info["in_train"].str.lower() == "true"])
    info["artist_in_train"] = [str(a in seen) for a in info["artist"]]
    on_disk = np.array([Path(f).is_file() for f in info["file"]], dtype=bool)
    skipped = {f: "file not found (not written by cleaning)" for f in info["file"][~on_disk]}
    info = info[on_disk]
    index = SimilarityIndex(embedding, index_type)
    skipped |= index.add(info["file"].tolist(), info[["file", "artist", "style", "artist_in_train"]], progress=progress)
    index.save(out_dir)
    pd.DataFrame(list(skipped.items()), columns=["file", "reason"]).to_csv(Path(out_dir) / "skipped.csv", index=False)
    print(f"indexed {len(index.metadata)} paintings in {out_dir}; {len(skipped)} skipped (listed in skipped.csv)")
    return index


def retrieval_metrics(vectors, labels, ks=(1, 5, 10), queries=None, chunk=1024) -> dict:
    """Leave-one-out retrieval quality of L2-normalised ``vectors (n, d)`` for ``labels (n,)``.

    ``queries`` : optional boolean mask ``(n,)`` or index array: which items act as queries
    (e.g. paintings of unseen artists); every item is still searched. The query itself is
    excluded from its ranking. Returns Precision@k and Recall@k (recall:
    the share of the query's same-label items found in the top k), MRR (rank of the first
    same-label item) and mAP over the whole ranking; queries with no other same-label item
    are skipped. ``self_retrieval@1`` (query finds itself) is a sanity line only.
    """
    x = _normalise(vectors)
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
