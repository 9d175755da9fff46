"""Attribution: which reference artist painted a questioned painting, or none of them.

    questioned painting ─ z_q (E,)                    reference paintings ─ Z (N, E), artist codes (N,)
    pair logits  s_i = z_q · z_i + bias               (the same-artist model's calibrated logit)
    per artist   s_A = aggregate of s_i over A's paintings   (``"mean"`` = nearest class mean)
    P(A | one of them) = softmax(s / T)
    P(one of them) = sigmoid(a · max_A s_A + b + c · ln n_artists)
    P(A) = P(one of them) · P(A | one of them),       P(none) = 1 - P(one of them)
    answer = the most probable outcome: "none" when P(none) >= every P(A)

The aggregate, ``T``, ``a``, ``b`` and ``c`` are a :class:`Calibration`, chosen on splits of
the training paintings only (``benchmarks/recipes/attribution.py``): held-out paintings of reference
artists against paintings of held-out artists, who stand in for unknown painters. The best
artist's score of an unknown painter grows with the number of reference artists (the best of
more draws), so the "none" model reads that number too (``c < 0``): for a model that stays the
same whatever the reference (the packaged one), it is fitted on each split's whole reference and
on smaller references drawn from it (15, 30 and 70 artists), so one calibration serves a user's
30-artist collection and a 175-artist one (below 15 artists the size term extrapolates).
Answering the most probable outcome maximises the balanced answer accuracy when the
probabilities are right and the prior is even (``prior_none=0.5``); it answers "none" more
readily when there are more artists to confuse (lower top-1), as it should.
``P`` assumes even odds that the painter is among the reference artists (``prior_none=0.5``);
pass the odds you believe (measured on pbn_dev's test paintings, 69% by unknown artists). A
calibration fits the kind of model it was chosen for: ``DEFAULT_CALIBRATION`` an lda model
trained on its reference alone (a fixed threshold on P(none), no size term); the packaged model,
which learned from more artists, ships its own ``attribution.json``; ``choose_calibration`` fits
another (``also=``: for a model of more artists than its reference).

A reference (a folder per artist or a cleaned data folder) is embedded once per model: its
``z`` matrix, artist labels and skipped files are cached under ``$PAINTER_CACHE/references``,
keyed by the model's weights and the reference's file list (paths, sizes, modification
times), rebuilt when stale or damaged. Per-artist mean scores come from the artists' mean
``z`` (exact: the pair logit is linear in ``z_i``), nearest paintings from a FAISS index.
"""
from __future__ import annotations

import hashlib
import json
import os
import weakref
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import cache_dir
from .errors import no_usable_images
from .data.images import ImageError
from .features.spec import DEFAULT_FEATURES

__all__ = ["NONE", "Calibration", "DEFAULT_CALIBRATION", "ReferenceSet", "load_reference", "attribute",
           "group_scores", "plot_attribution", "fit_attribution_calibration", "AGGREGATES"]

NONE = "none of the reference artists"
AGGREGATES = ("mean", "max", "top3", "top5", "lme", "mean+top3")


def _check_aggregate(how):
    if how not in AGGREGATES and not (how.startswith("top") and how[3:].isdigit() and int(how[3:]) >= 1):
        raise ValueError(f"aggregate must be one of {AGGREGATES} or 'top<m>', got {how!r}")


@dataclass(frozen=True)
class Calibration:
    """How per-painting pair logits become P(artist) and P(none); see the module docstring.

    aggregate : per-artist score from its paintings' pair logits, one of ``AGGREGATES``
        (``"topm"``: mean of the m best; ``"lme"``: log-mean-exp; ``"mean+top3"``: their average)
    temperature : softmax temperature ``T`` over the artists' scores
    none_slope, none_bias, none_size_slope : ``P(one of them) = sigmoid(none_slope · max_A s_A
        + none_bias + none_size_slope · ln n_artists)``
    threshold : None: the answer is the most probable outcome ("none" when ``P(none)`` is at
        least every artist's ``P``); a number: "none" when ``P(none) >= threshold`` (a fixed
        operating point on the trade-off curve)
    """
    aggregate: str = "mean"
    temperature: float = 1.0
    none_slope: float = 1.0
    none_bias: float = 0.0
    threshold: float | None = None
    note: str = ""
    none_size_slope: float = 0.0

    def __post_init__(self):
        _check_aggregate(self.aggregate)
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be None or in [0, 1], got {self.threshold}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def describe(self) -> str:
        """The answer rule in words."""
        return ("the most probable outcome" if self.threshold is None
                else f"'none' from P(none) {self.threshold:.2f}")

    def answers_none(self, p_art, p_none) -> np.ndarray:
        """``(Q,)`` bool: which queries are answered "none" (``p_art (Q, n_artists)``, ``p_none (Q,)``)."""
        p_none = np.asarray(p_none)
        if self.threshold is not None:
            return p_none >= self.threshold
        return p_none >= np.atleast_2d(p_art).max(axis=1, initial=0.0)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def save(self, model_dir) -> Path:
        """Write ``attribution.json`` in a model folder: ``attribute`` then uses it for that model."""
        path = Path(model_dir) / "attribution.json"
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path


# Chosen by ``benchmarks/recipes/attribution.py --model runs/base_model_artists2/175_plain --reference-sizes ''
# --fixed-threshold`` on three splits of pbn_dev's training paintings for lda models on the default
# (artist-tuned) features, no test painting or test-only artist used, the held-out artists unseen by
# the backbones: "max" had the best balanced answer accuracy (0.605; top5 0.605, lme 0.605, top3 0.604,
# mean+top3 0.601, mean 0.600). A fixed threshold and no size term: a user's
# model changes with the reference (a 30-artist collection, a 30-artist model), so smaller references
# drawn from a 140-artist model's do not stand for it; fitted on them, it lost 0.03-0.07 balanced
# accuracy on 30- and 70-artist users' models (benchmarks/RESULTS.md).
DEFAULT_CALIBRATION = Calibration(aggregate="max", temperature=4.1737, none_slope=0.05152,
                                  none_bias=-1.2419, threshold=0.34,
                                  note="pbn_dev training paintings, 3 splits: top-1 0.622, none rate 0.897")


# --- scores and probabilities ------------------------------------------------------------------

def group_scores(S, starts, how: str = "mean") -> np.ndarray:
    """Aggregate pair logits per artist.

    Parameters
    ----------
    S : ``(Q, N)`` pair logits of Q queries against N reference paintings, the paintings
        grouped by artist (artist ``c`` owns columns ``starts[c]:starts[c + 1]``)
    starts : ``(n_artists,)`` first column of every artist (increasing, ``starts[0] == 0``)
    how : one of ``AGGREGATES`` or ``"top<m>"``

    Returns ``(Q, n_artists)`` float64 scores, in logit units.
    """
    _check_aggregate(how)
    S = np.atleast_2d(np.asarray(S, np.float64))
    starts = np.asarray(starts, np.int64)
    counts = np.diff(np.append(starts, S.shape[1]))
    if how == "mean+top3":
        return 0.5 * (group_scores(S, starts, "mean") + group_scores(S, starts, "top3"))
    if how == "mean":
        return np.add.reduceat(S, starts, axis=1) / counts
    if how == "max":
        return np.maximum.reduceat(S, starts, axis=1)
    if how == "lme":   # log of the mean odds: between the mean and the max
        top = S.max(axis=1, keepdims=True)
        return np.log(np.add.reduceat(np.exp(S - top), starts, axis=1) / counts) + top
    m = int(how[3:])
    codes = np.repeat(np.arange(len(starts)), counts)
    # sort every row by (artist, -score): each artist keeps its columns, best first
    order = np.lexsort((-S, np.broadcast_to(codes, S.shape)), axis=-1) if S.shape[0] else np.zeros(S.shape, int)
    ranked = np.take_along_axis(S, order, axis=1)
    keep = (np.arange(S.shape[1]) - starts[codes]) < m
    return np.add.reduceat(ranked * keep, starts, axis=1) / np.minimum(counts, m)


def probabilities(scores, calibration: Calibration, prior_none: float = 0.5):
    """``(P_artists (Q, n_artists), P_none (Q,))`` from per-artist scores ``(Q, n_artists)``.

    Every row of ``P_artists`` plus its ``P_none`` sums to 1. ``prior_none``: the prior
    probability that the painter is none of the reference artists (the calibration assumes 0.5).
    """
    from scipy.special import expit, logit, softmax
    if not 0 < prior_none < 1:
        raise ValueError(f"prior_none must be in (0, 1), got {prior_none}")
    s = np.atleast_2d(scores)
    c = calibration
    known = expit(c.none_slope * s.max(axis=1) + c.none_bias + c.none_size_slope * np.log(max(s.shape[1], 1))
                  - logit(prior_none))
    return softmax(s / calibration.temperature, axis=1) * known[:, None], 1.0 - known


def fit_attribution_calibration(scores, truth, aggregate: str, whole=None, fixed_threshold: bool = False):
    """Fit ``T``, ``a``, ``b`` and ``c`` on validation queries.

    Parameters
    ----------
    scores : ``(Q, n_artists)`` per-artist scores (``group_scores``) of validation queries, or a
        list of such matrices, one per reference
    truth : ``(Q,)`` the true artist's column, or -1 for a painting by none of the artists; or a
        list matching ``scores``
    whole : one bool per reference: the whole references (the others are smaller ones drawn from
        them); default: those with the most artists
    fixed_threshold : False: the answer is the most probable outcome (``threshold=None``); True:
        "none" from the threshold on P(none) that maximises the balanced answer accuracy on the
        whole references (a fixed operating point, for a model that serves one reference size)

    ``T`` minimises the log loss of the true artist on the whole references' known queries;
    ``a``, ``b``, ``c``: a logistic regression of known vs unknown on the best artist's score and
    ``ln n_artists`` (``c`` only when the references differ in size), the known and the unknown
    queries of the whole references and of every smaller size weighted equally (prior 0.5).
    Returns ``(Calibration, metrics)``: ``attribution_metrics`` of the whole references, and
    ``balanced@n``, the balanced answer accuracy on the smaller references of ``n`` artists.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax
    from sklearn.linear_model import LogisticRegression
    if isinstance(scores, np.ndarray) or not len(scores) or np.ndim(scores[0]) < 2:
        scores, truth = [scores], [truth]
    groups = [(np.asarray(s, np.float64), np.asarray(t)) for s, t in zip(scores, truth, strict=True)]
    for k, (s, t) in enumerate(groups):
        if s.ndim != 2 or t.shape != (len(s),):
            raise ValueError(f"reference {k}: scores {s.shape} and truth {t.shape} do not match")
    widths = np.array([s.shape[1] for s, _ in groups])
    whole = widths == widths.max() if whole is None else np.asarray(whole, bool)
    known = np.concatenate([t >= 0 for _, t in groups])
    if not known.any() or known.all():
        raise ValueError("fit_attribution_calibration needs queries of reference artists and of other artists")
    tops = [(s[t >= 0], t[t >= 0]) for (s, t), w in zip(groups, whole) if w]

    def nll(log_t):
        return -np.concatenate([log_softmax(s / np.exp(log_t), axis=1)[np.arange(len(t)), t] for s, t in tops]).mean()

    temperature = float(np.exp(minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded").x))
    n = np.concatenate([np.full(len(t), s.shape[1]) for s, t in groups])
    X = np.stack([np.concatenate([s.max(axis=1) for s, _ in groups]), np.log(n)], axis=1)
    size = np.concatenate([np.full(len(t), 0 if w else s.shape[1]) for (s, t), w in zip(groups, whole)])
    _, cell, count = np.unique(size * 2 + known, return_inverse=True, return_counts=True)   # each weighs the same
    several = len(np.unique(n)) > 1
    lr = LogisticRegression(C=1e6).fit(X[:, : 1 + several], known.astype(int), sample_weight=1.0 / count[cell])
    cal = Calibration(aggregate, temperature, float(lr.coef_[0, 0]), float(lr.intercept_[0]),
                      none_size_slope=float(lr.coef_[0, 1]) if several else 0.0)
    if fixed_threshold:
        curve = tradeoff(*_pooled(groups, cal, whole), grid=np.linspace(0.02, 0.98, 49))
        cal = replace(cal, threshold=float(curve["threshold"][int(np.argmax(curve["balanced"].to_numpy()))]))
    metrics = attribution_metrics(*_pooled(groups, cal, whole), cal)
    for m in np.unique(widths[~whole]):
        pooled = _pooled(groups, cal, ~whole & (widths == m))
        if 0 < (pooled[2] >= 0).sum() < len(pooled[2]):   # both known and unknown questions
            metrics[f"balanced@{m}"] = attribution_metrics(*pooled, cal)["balanced"]
    return cal, metrics


def _pooled(groups, cal, pick):
    """``(P(artist), P(none), truth)`` of the picked ``groups``, stacked (P(artist) padded with
    zeros to the widest reference: a padded column never outranks the true artist)."""
    parts = [(*probabilities(s, cal), t) for (s, t), chosen in zip(groups, pick) if chosen]
    width = max(p.shape[1] for p, _, _ in parts)
    return (np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p, _, _ in parts]),
            np.concatenate([q for _, q, _ in parts]), np.concatenate([t for _, _, t in parts]))


def attribution_metrics(p_art, p_none, truth, calibration) -> dict:
    """Figures of ``calibration``'s answers (a ``Calibration``, or a threshold on P(none): a
    number, or None for the most probable outcome); ``truth`` as in ``fit_attribution_calibration``.

    top1 / top5: the true artist among the 1 / 5 most probable (known queries, "none" ignored);
    answered: right artist and not answered "none" (known); none_rate: answered "none" (unknown
    queries); balanced: their mean; nll: mean -log P(true outcome) over all queries (P(none) for
    unknown ones); none_auc: ROC AUC of P(none) for unknown vs known.
    """
    from sklearn.metrics import roc_auc_score
    truth = np.asarray(truth)
    known = truth >= 0
    rank = (p_art[known] > p_art[known, truth[known]][:, None]).sum(axis=1)
    if not isinstance(calibration, Calibration):
        calibration = Calibration(threshold=calibration)
    flagged = calibration.answers_none(p_art, p_none)
    threshold = calibration.threshold
    p_true = np.where(known, p_art[np.arange(len(truth)), np.maximum(truth, 0)], p_none)
    return {"top1": float((rank < 1).mean()), "top5": float((rank < 5).mean()),
            "answered": float(((rank < 1) & ~flagged[known]).mean()), "none_rate": float(flagged[~known].mean()),
            "balanced": float(0.5 * (((rank < 1) & ~flagged[known]).mean() + flagged[~known].mean())),
            "nll": float(-np.log(np.maximum(p_true, 1e-12)).mean()),
            "none_auc": float(roc_auc_score(~known, p_none)) if 0 < known.sum() < len(known) else float("nan"),
            "n_known": int(known.sum()),
            "n_unknown": int((~known).sum()), "threshold": None if threshold is None else float(threshold)}


def tradeoff(p_art, p_none, truth, grid=np.linspace(0.0, 1.0, 101)) -> pd.DataFrame:
    """Known-artist answer accuracy and unknown-artist "none" rate for every threshold on P(none)."""
    truth = np.asarray(truth)
    known = truth >= 0
    right = p_art[known].argmax(axis=1) == truth[known]
    rows = [{"threshold": float(t), "answered": float((right & (p_none[known] < t)).mean()),
             "none_rate": float((p_none[~known] >= t).mean())} for t in grid]
    table = pd.DataFrame(rows)
    table["balanced"] = 0.5 * (table["answered"] + table["none_rate"])
    return table


# --- the reference set ---------------------------------------------------------------------------

_fingerprints: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def model_fingerprint(model) -> str:
    """SHA-1 of a ``PairModel``'s feature spec, scorer and every weight (memoised per instance)."""
    if model not in _fingerprints:
        spec_key = model.spec.key if model.spec is not None else None   # None: the model reads the images itself
        h = hashlib.sha1(json.dumps([spec_key, model.scorer, model.bias]).encode())
        for net in (model.embedder, model.head):
            if hasattr(net, "get_weights"):
                for w in net.get_weights():
                    h.update(np.ascontiguousarray(w).tobytes())
            elif net is not None:   # an exported embedder: its folder is named by the saved model's content
                h.update(str(net.path).encode())
        _fingerprints[model] = h.hexdigest()
    return _fingerprints[model]


def _reference_files(reference):
    """``(paths, artists, missing)`` of a cleaned data folder or a folder-per-artist tree."""
    import warnings

    from .data.labels import flatten, read_training_images
    with warnings.catch_warnings():   # files listed but not on disk are reported in the skipped table
        warnings.simplefilter("ignore")
        d, root = read_training_images(reference)
    files, artists = flatten(d)
    prefix = os.path.join(str(root), "")   # plain string joins: pathlib costs 0.2 s per 10,000 files
    return [prefix + f for f in files], np.array(artists, dtype=object), [prefix + f for f in getattr(d, "missing", [])]


def _list_key(model, paths) -> str:
    h = hashlib.sha1(model_fingerprint(model).encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()[:20]


class ReferenceSet:
    """Reference paintings embedded by one model, grouped by artist.

    Attributes
    ----------
    files : ``(N,)`` paths, grouped by artist; artists : ``(n_artists,)`` names, sorted;
    starts : ``(n_artists,)`` first row of every artist; counts : ``(n_artists,)``
    Z : ``(N, E)`` float32 embeddings; centroids : ``(n_artists, E)`` float64 mean ``z`` per artist
    skipped : DataFrame ``file, reason`` of the paintings that could not be used
    bias : the model's pair-logit bias; key : cache key; model_key : ``model_fingerprint`` of the
        model that embedded it ("" if unknown)
    """

    def __init__(self, files, artists_per_file, Z, bias, skipped=None, key="", model_key=""):
        files, labels = np.asarray(files, dtype=object), np.asarray(artists_per_file, dtype=object)
        order = np.argsort(labels.astype(str), kind="stable")
        self.files, labels, self.Z = files[order], labels[order], np.ascontiguousarray(Z[order], np.float32)
        self.artists, self.starts, self.counts = np.unique(labels.astype(str), return_index=True, return_counts=True)
        self.codes = np.repeat(np.arange(len(self.artists)), self.counts)
        self.bias, self.key, self.model_key = float(bias), key, model_key
        self.skipped = skipped if skipped is not None else pd.DataFrame(columns=["file", "reason"])
        self.centroids = np.add.reduceat(self.Z.astype(np.float64), self.starts, axis=0) / self.counts[:, None] \
            if len(self.Z) else np.zeros((0, self.Z.shape[1]))
        self._index = None

    def __len__(self):
        return len(self.files)

    def __repr__(self):
        return f"ReferenceSet({len(self)} paintings, {len(self.artists)} artists, {len(self.skipped)} skipped)"

    @property
    def index(self):
        """FAISS inner-product index over ``Z`` (exact): the nearest paintings of a query."""
        if self._index is None:
            import faiss
            self._index = faiss.IndexFlatIP(self.Z.shape[1])
            self._index.add(self.Z)
        return self._index

    # --- queries ---------------------------------------------------------------------------------
    def scores(self, zq, aggregate: str = "mean", neighbours: int = 1024) -> np.ndarray:
        """Per-artist scores ``(Q, n_artists)`` of query embeddings ``zq (Q, E)``.

        ``"mean"`` uses the artists' mean ``z`` (Q x n_artists products, exact). The other
        aggregates need each artist's best paintings: they are read from the query's
        ``neighbours`` nearest paintings (FAISS); an artist with fewer than the paintings it
        needs among them is completed with the mean of its other paintings, bounded by the last
        neighbour's logit, which no unretrieved painting exceeds (exact when ``neighbours``
        covers the reference).
        """
        zq = np.atleast_2d(np.asarray(zq, np.float32))
        mean = zq.astype(np.float64) @ self.centroids.T + self.bias
        if aggregate == "mean" or not len(self):
            return mean
        if aggregate == "mean+top3":
            return 0.5 * (mean + self.scores(zq, "top3", neighbours))
        if neighbours >= len(self):
            return group_scores(zq @ self.Z.T + self.bias, self.starts, aggregate)
        sims, ids = self.index.search(zq, neighbours)
        out = np.empty_like(mean)
        for q in range(len(zq)):   # one row per query; each is vectorised over the neighbours
            out[q] = self._sparse_scores(sims[q] + self.bias, ids[q], mean[q], aggregate)
        return out

    def _sparse_scores(self, s, ids, mean, how):
        """Aggregate from the retrieved logits ``s`` of rows ``ids``; unretrieved rows are imputed."""
        floor = s[-1]
        codes = self.codes[ids]
        n_hit = np.bincount(codes, minlength=len(self.artists))
        # the unretrieved paintings of an artist: their mean logit, at most the last retrieved one
        rest_sum = mean * self.counts - np.bincount(codes, weights=s, minlength=len(self.artists))
        rest = np.minimum(rest_sum / np.maximum(self.counts - n_hit, 1), floor)
        if how == "max":
            out = np.full(len(self.artists), -np.inf)
            np.maximum.at(out, codes, s)
            return np.where(n_hit > 0, out, rest)
        if how == "lme":
            top = max(s[0], rest.max())
            total = np.bincount(codes, weights=np.exp(s - top), minlength=len(self.artists))
            total += (self.counts - n_hit) * np.exp(rest - top)
            return np.log(total / self.counts) + top
        m = int(how[3:])
        rank = np.zeros(len(s), int)   # s is sorted best first: rank within artist by cumulative count
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        first = np.searchsorted(sorted_codes, sorted_codes)
        rank[order] = np.arange(len(s)) - first
        keep = rank < m
        top_sum = np.bincount(codes[keep], weights=s[keep], minlength=len(self.artists))
        need = np.minimum(self.counts, m)
        return (top_sum + np.maximum(need - np.minimum(n_hit, m), 0) * rest) / need

    def best_matches(self, zq, artist: int, n: int = 3):
        """``(rows, logits)``: the ``n`` paintings of artist ``artist`` closest to ``zq (E,)``
        (Euclidean distance in ``z``: an identical painting comes first) and their pair logits.

        Closest, not most probable: the pair logit ``z_q · z_i`` also grows with ``|z_i|``, which
        for the lda model is how peaked a painting's artist profile is, so ranking by it would
        show each artist's most typical paintings rather than the ones most like the query."""
        lo, hi = self.starts[artist], self.starts[artist] + self.counts[artist]
        zq = np.asarray(zq, np.float32)
        dot = self.Z[lo:hi] @ zq
        top = np.argsort(np.einsum("ij,ij->i", self.Z[lo:hi], self.Z[lo:hi]) - 2 * dot, kind="stable")[:n]
        return lo + top, dot[top] + self.bias

    # --- files -----------------------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write ``index.faiss`` (the z vectors), ``meta.csv``, ``skipped.csv``, then ``manifest.json``
        (written last, with a CRC of the index: a folder without it is incomplete)."""
        import faiss
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manifest.json").unlink(missing_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        meta = pd.DataFrame({"file": self.files, "artist": self.artists[self.codes]})
        meta.to_csv(directory / "meta.csv", index=False)
        self.skipped.to_csv(directory / "skipped.csv", index=False)
        manifest = {"key": self.key, "model_key": self.model_key, "n": len(self), "dim": int(self.Z.shape[1]), "bias": self.bias,
                    "crc32": zlib.crc32((directory / "index.faiss").read_bytes())}
        tmp = directory / "manifest.json.part"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, directory / "manifest.json")
        return directory

    @classmethod
    def load(cls, directory, key: str | None = None) -> "ReferenceSet":
        """Read a saved set; ``ValueError`` if it is incomplete, damaged or (with ``key``) stale."""
        import faiss
        directory = Path(directory)
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
            blob = (directory / "index.faiss").read_bytes()
            if zlib.crc32(blob) != manifest["crc32"]:
                raise ValueError("index.faiss does not match its checksum")
            if key is not None and manifest["key"] != key:
                raise ValueError("built for another model or file list")
            index = faiss.deserialize_index(np.frombuffer(blob, np.uint8))
            Z = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d).copy()
            meta = pd.read_csv(directory / "meta.csv", dtype=str, keep_default_na=False)
            skipped = pd.read_csv(directory / "skipped.csv", dtype=str, keep_default_na=False)
            if len(meta) != len(Z) or len(Z) != manifest["n"]:
                raise ValueError("meta.csv and index.faiss disagree")
        except (OSError, KeyError, RuntimeError, json.JSONDecodeError, pd.errors.ParserError) as e:
            raise ValueError(f"{directory}: unusable reference cache ({e})") from None
        return cls(meta["file"].to_numpy(object), meta["artist"].to_numpy(object), Z, manifest["bias"], skipped,
                   manifest["key"], manifest.get("model_key", ""))


_loaded_refs: dict = {}


def load_reference(reference, model=None, cache: bool = True, progress: bool = True) -> ReferenceSet:
    """Embed a reference collection with ``model`` (cached), or return a ``ReferenceSet`` as is.

    Parameters
    ----------
    reference : a folder per artist (``root/<artist>/*.jpg``), a cleaned data folder (its
        training paintings, labelled by ``all_data_info.csv``), or a ``ReferenceSet``
    model : ``PairModel``, model folder, or None (see ``painter.same_artist.predict.load_pair_model``)
    cache : read and write ``$PAINTER_CACHE/references/<key>/``; the key covers the model's
        weights and every reference file's path, size and modification time, so an edited,
        added or removed painting (or another model) builds a new set. A damaged cache is rebuilt.

    Paintings that cannot be used are left out and listed in ``.skipped`` (file, reason).
    """
    from .same_artist.predict import load_pair_model
    model = load_pair_model(model)
    if isinstance(reference, ReferenceSet):
        if reference.model_key and reference.model_key != model_fingerprint(model):
            raise ValueError("the reference set was embedded by another model: load_reference(folder, model)")
        return reference
    if model.scorer != "dot":
        raise ValueError("attribution needs a model with the 'dot' scorer (lda, cosface, contrastive, triplet)")
    paths, artists, missing = _reference_files(reference)
    key = _list_key(model, paths + missing)
    random = model.spec is not None and model.spec.random_weights   # a random draw's embeddings are its own
    cache = cache and not random
    if key in _loaded_refs and not random:
        return _loaded_refs[key]
    folder = cache_dir() / "references" / key
    ref = None
    if cache and (folder / "manifest.json").is_file():
        try:
            ref = ReferenceSet.load(folder, key)
        except ValueError as e:
            print(f"rebuilding the reference cache: {e}")
    if ref is None:
        Z, failed = model.embed_files(paths, progress=progress)
        skipped = {p: "file not found (listed in all_data_info.csv, not on disk)" for p in missing} | failed
        ok = ~np.isnan(Z).any(axis=1)
        if not ok.any():
            raise no_usable_images(reference, skipped, "reference paintings")
        skipped = pd.DataFrame(list(skipped.items()), columns=["file", "reason"])
        ref = ReferenceSet(np.array(paths, object)[ok], artists[ok], Z[ok], model.bias, skipped, key,
                           model_fingerprint(model))
        if cache:
            ref.save(folder)
    if len(ref.skipped):
        print(f"{len(ref.skipped)} reference paintings skipped (see .skipped): " +
              "; ".join(f"{f}: {r}" for f, r in ref.skipped.head(3).itertuples(index=False, name=None)) +
              (" ..." if len(ref.skipped) > 3 else ""))
    if not random:
        _loaded_refs[key] = ref
    return ref


# --- attribute -----------------------------------------------------------------------------------

def _model_calibration(model_arg) -> Calibration:
    """``attribution.json`` in the model's folder if there is one, else ``DEFAULT_CALIBRATION``."""
    from .same_artist.predict import default_model_dir
    from .same_artist.model import PairModel
    if isinstance(model_arg, PairModel):
        if "attribution" in model_arg.info:
            return Calibration.from_dict(model_arg.info["attribution"])
        if model_arg.directory is None:
            return DEFAULT_CALIBRATION
        model_arg = model_arg.directory   # a loaded model: its folder's file, as for its path
    path = Path(model_arg) if model_arg is not None else default_model_dir()
    f = path / "attribution.json"
    return Calibration.from_dict(json.loads(f.read_text())) if f.is_file() else DEFAULT_CALIBRATION


def attribute(image, reference, model=None, k: int = 5, calibration: Calibration | None = None,
              prior_none: float = 0.5, n_evidence: int = 3, progress: bool = False) -> pd.DataFrame:
    """Which reference artist painted ``image``, with calibrated probabilities and evidence.

    Parameters
    ----------
    image : path of the questioned painting
    reference : a folder per artist, a cleaned data folder, or a ``ReferenceSet`` (``load_reference``)
    model : ``PairModel``, model folder or None (the default model); a ``"dot"``-scorer model
    k : number of candidate artists listed
    calibration : a ``Calibration``; default: the model folder's ``attribution.json``, else
        ``DEFAULT_CALIBRATION`` (chosen for an lda model trained on its reference alone)
    prior_none : prior probability that the painter is none of the reference artists
    n_evidence : reference paintings listed per candidate

    Returns
    -------
    DataFrame, one row per candidate (best first), then one row for ``NONE``:
        ``rank`` (0 for the none row), ``artist``, ``probability`` (over all artists and
        "none" together, they sum to 1), ``n_reference`` (the artist's usable reference
        paintings), ``best_matches`` (list of the artist's paintings closest to ``image``, see
        ``ReferenceSet.best_matches``), ``match_probability`` (list of their P(same artist) with
        ``image``, as ``predict_pair`` gives it: over-confident for reference paintings the model
        was trained on, whose artist profiles it has learnt by heart).
        ``table.attrs``: ``answer`` (the most probable outcome, an artist or ``NONE``; with a
        calibration's fixed ``threshold``: ``NONE`` when P(none) >= it), ``none`` (bool),
        ``p_none``, ``query``, ``threshold`` (None: the most probable outcome), ``rule`` (the
        answer rule in words), ``skipped`` (the reference's unusable paintings).

    Raises ``ImageError`` (one line: file and reason) when ``image`` cannot be read.
    """
    from scipy.special import expit

    from .data.images import load_image
    load_image(image)   # an unusable query fails in one line before any model or reference work
    from .same_artist.predict import load_pair_model
    calibration = calibration or _model_calibration(model)
    pair_model = load_pair_model(model)
    ref = load_reference(reference, pair_model, progress=progress)
    # one image: a batch of one, not one padded to the bulk batch size (32 forward passes)
    zq, failed = pair_model.embed_files([str(image)], progress=False, batch_size=1)
    if failed:
        raise ImageError(image, failed[str(image)])
    scores = ref.scores(zq, calibration.aggregate)
    p_art, p_none = probabilities(scores, calibration, prior_none)
    p_art, p_none = p_art[0], float(p_none[0])
    rows = []
    for rank, a in enumerate(np.argsort(-p_art, kind="stable")[:k], start=1):
        ids, logits = ref.best_matches(zq[0], a, n_evidence)
        rows.append({"rank": rank, "artist": ref.artists[a], "probability": float(p_art[a]),
                     "n_reference": int(ref.counts[a]), "best_matches": list(ref.files[ids]),
                     "match_probability": [round(float(p), 4) for p in expit(logits)]})
    rows.append({"rank": 0, "artist": NONE, "probability": p_none, "n_reference": 0, "best_matches": [],
                 "match_probability": []})
    table = pd.DataFrame(rows)
    flagged = calibration.answers_none(p_art, [p_none])[0]
    table.attrs.update(answer=NONE if flagged else rows[0]["artist"], none=bool(flagged), p_none=p_none,
                       query=str(image), threshold=calibration.threshold, rule=calibration.describe(),
                       skipped=ref.skipped)
    return table


def plot_attribution(table: pd.DataFrame, path="attribution.png", thumb: int = 128):
    """PNG: the questioned painting and the probabilities (left), each candidate's nearest
    reference paintings (one row per candidate). Returns the path."""
    import matplotlib.pyplot as plt

    from .plots import save_figure as _save
    from .data.images import load_array
    cands = table[table["rank"] > 0]
    n_rows, n_cols = max(len(cands), 2), 1 + max([len(b) for b in cands["best_matches"]] + [1])
    fig = plt.figure(figsize=(2.0 * (n_cols + 1.6), 2.0 * n_rows))
    grid = fig.add_gridspec(n_rows, n_cols + 1, width_ratios=[2.6] + [1] * n_cols)

    def show(ax, f, title, color="black"):
        try:
            ax.imshow(load_array(f, thumb))
        except ImageError:
            ax.text(0.5, 0.5, "unreadable", ha="center", va="center")
        ax.set_title(title, fontsize=7, color=color)
        ax.axis("off")

    half = n_rows // 2
    show(fig.add_subplot(grid[:half, 0]), table.attrs.get("query", ""),
         f"questioned painting\nanswer: {table.attrs.get('answer', '')}")
    ax = fig.add_subplot(grid[half:, 0])
    labels = [a[:22] for a in table["artist"]]
    ax.barh(labels[::-1], table["probability"][::-1], color=["grey"] + ["steelblue"] * len(cands))
    ax.set(xlim=(0, 1), xlabel="probability")
    ax.tick_params(labelsize=7)
    for r, row in enumerate(cands.itertuples()):
        label = fig.add_subplot(grid[r, 1])
        label.text(0.5, 0.5, f"{row.rank}. {row.artist[:24]}\nP = {row.probability:.2f}\n{row.n_reference} paintings",
                   ha="center", va="center", fontsize=8)
        label.axis("off")
        for c, (f, p) in enumerate(zip(row.best_matches, row.match_probability)):
            show(fig.add_subplot(grid[r, 2 + c]), f, f"{Path(f).name[:18]}\nP(same) {p:.2f}")
    return _save(fig, path)


# --- choosing the calibration on training paintings ------------------------------------------------

def validation_queries(labels, seed: int = 0, val_artists: float = 0.2, val_images: float = 0.2, prefer=None):
    """Indices ``(reference, known_queries, unknown_queries)`` of one split of training paintings.

    ``val_artists`` of the artists are held out whole (their paintings stand in for unknown
    painters; ``prefer``-red names first, e.g. those the features' backbone never saw);
    ``val_images`` of every other artist's paintings are questioned paintings of reference
    artists; the rest is the reference (and the validation model's training set).
    """
    from .data.pairs import validation_split
    return validation_split(np.asarray(labels), val_artists, val_images, seed=seed, prefer=prefer)


def choose_calibration(data_dir, work_dir, seeds=(0, 1, 2), aggregates=AGGREGATES, train_kwargs=None,
                       also=(), reference_sizes=(15, 30, 70), draws: int = 3, fixed_threshold: bool = False,
                       progress: bool = True):
    """Choose the aggregate and fit the calibration on splits of ``data_dir``'s training paintings.

    For every seed: split (``validation_queries``), train a same-artist model on the reference
    part only (``painter.same_artist.training.train``, ``train_kwargs``) so that questioned paintings are new to
    it as test paintings are to the final model, and score the held-out paintings against the
    reference, and against ``draws`` smaller references of every size in ``reference_sizes``
    drawn from its artists (the questioned paintings of the artists left out are not asked: the
    model knows them, as the packaged model knows artists missing from a user's reference; pass
    ``reference_sizes=()`` and ``fixed_threshold=True`` for a model trained on the reference it
    will serve, as ``DEFAULT_CALIBRATION`` was). The
    splits' scores are pooled per aggregate and ``fit_attribution_calibration`` fits each; the
    aggregate with the best balanced answer accuracy wins, averaged over the whole references and
    each smaller size as the fit weighs them (``_ranked``).

    ``also``: more training sources for the split models, for a model that learned from more
    artists than its reference (such as the packaged one); each split leaves out of them every
    painting of its held-out artists and every questioned painting, so that the stand-ins for
    unknown painters stay unknown.

    Returns ``(Calibration, table, curve)``: the table has one row per aggregate, best first, with
    its validation figures on the whole references (``attribution_metrics``), ``balanced@n`` on the
    smaller ones, their mean with the whole's (``balanced_sizes``) and its fitted parameters;
    ``curve`` is the chosen one's ``tradeoff`` on the whole references.
    Work files (split folders, models) go in ``work_dir``.
    """
    from .same_artist import make_method
    from .same_artist.training import hyperparameters_of, learned_features, load_training_images, train, unseen_first
    work_dir = Path(work_dir)
    paths, labels = load_training_images(data_dir)
    pooled = {how: ([], [], []) for how in aggregates}   # scores, truth, whole reference?
    # stand-ins for unknown painters unknown to the features too (weights="artists" know 448 artists)
    kwargs = train_kwargs or {}
    estimator = make_method(kwargs.get("method", "lda"), **hyperparameters_of(kwargs))
    prefer = unseen_first(labels, learned_features(estimator, kwargs.get("spec", DEFAULT_FEATURES)))
    for seed in seeds:
        ref_ids, known_ids, unknown_ids = validation_queries(labels, seed, prefer=prefer)
        # named by its reference paintings and training: a folder of another split or features is not reused
        what = json.dumps([np.array(paths)[ref_ids].tolist(), repr(sorted(kwargs.items()))]
                          + ([[os.path.abspath(d) for d in also]] if also else [])).encode()   # earlier folders kept
        split = work_dir / f"split{seed}-{hashlib.sha1(what).hexdigest()[:10]}"
        model_dir = split / "model"
        if not (model_dir / "config.json").is_file():
            data = _symlink_folder(split / "reference", np.array(paths)[ref_ids], labels[ref_ids])
            questioned = np.array(paths)[np.concatenate([known_ids, unknown_ids])]
            extra = [_sources_without(also, set(labels[unknown_ids]), questioned, split / "also")] if also else []
            # no base: it knows the held-out artists
            train(data, model_dir, progress=progress, **{"base": "none", **kwargs, "also": extra})
        from .same_artist.predict import load_pair_model
        model = load_pair_model(model_dir)
        ref = load_reference(split / "reference", model, progress=progress)
        queries = np.concatenate([known_ids, unknown_ids])
        Zq, failed = model.embed_files(np.array(paths)[queries], progress=progress)
        ok = ~np.isnan(Zq).any(axis=1)
        col = {a: c for c, a in enumerate(ref.artists)}
        truth = np.array([col.get(lab, -1) for lab in labels[queries]])[ok]
        S = Zq[ok] @ ref.Z.T + ref.bias
        subsets = _smaller_references(len(ref.artists), reference_sizes, draws, seed)
        for how in aggregates:
            G = group_scores(S, ref.starts, how)
            for k, keep in enumerate(subsets):
                rows, cols = _restricted(truth, keep)
                pooled[how][0].append(G[rows][:, keep])
                pooled[how][1].append(cols)
                pooled[how][2].append(k == 0)
    rows, fits = [], {}
    for how, (scores, truth, whole) in pooled.items():
        cal, metrics = fit_attribution_calibration(scores, truth, how, whole, fixed_threshold)
        fits[how] = cal
        rows.append({"aggregate": how, **metrics, "temperature": cal.temperature, "none_slope": cal.none_slope,
                     "none_bias": cal.none_bias, "none_size_slope": cal.none_size_slope})
    table = _ranked(pd.DataFrame(rows))
    best = fits[table["aggregate"][0]]
    scores, truth, whole = pooled[best.aggregate]
    curve = tradeoff(*_pooled(list(zip(scores, truth)), best, whole))
    smaller = ", ".join(f"{c[9:]}: {table[c][0]:.3f}" for c in table.columns if c.startswith("balanced@"))
    note = (f"chosen on {len(seeds)} splits of {data_dir}'s training paintings: balanced answer accuracy "
            f"{table['balanced'][0]:.3f}, top-1 {table['top1'][0]:.3f}, none rate {table['none_rate'][0]:.3f}"
            + (f"; on smaller references drawn from them, balanced answer accuracy by number of artists {smaller}"
               if smaller else ""))
    return Calibration(**{**best.to_dict(), "note": note}), table, curve


def _ranked(table: pd.DataFrame) -> pd.DataFrame:
    """The aggregates' table best first: by balanced answer accuracy averaged over the whole
    references and every smaller size (``balanced@n``), each size once, as the calibration's fit
    weighs them (a small reference counts as much as the whole: most users' are small); ties:
    lower log loss. Without smaller sizes: the whole references' balanced accuracy."""
    sizes = ["balanced"] + [c for c in table.columns if c.startswith("balanced@")]
    table = table.assign(balanced_sizes=table[sizes].mean(axis=1))
    return table.sort_values(["balanced_sizes", "nll"], ascending=[False, True]).reset_index(drop=True)


def _smaller_references(n_artists, sizes, draws, seed) -> list:
    """Column subsets: every artist, then ``draws`` random sets of each size below ``n_artists``."""
    rng = np.random.default_rng(seed)
    return [np.arange(n_artists)] + [np.sort(rng.choice(n_artists, n, replace=False))
                                     for n in sizes if n < n_artists for _ in range(draws)]


def _restricted(truth, keep):
    """``(rows, truth)`` for a reference of the artists ``keep`` only: queries of the other
    reference artists are dropped, unknown painters (-1) stay, columns are renumbered."""
    column = np.full(max(int(truth.max(initial=-1)), int(keep.max(initial=-1))) + 1, -1)
    column[keep] = np.arange(len(keep))
    new = np.where(truth >= 0, column[np.maximum(truth, 0)], -1)
    rows = (truth < 0) | (new >= 0)
    return rows, new[rows]


def _sources_without(sources, artists, paintings, out) -> Path:
    """One cleaned-layout folder of links to the paintings of ``sources`` minus those of ``artists``
    and any copy of ``paintings`` (by content)."""
    from .cache import content_key
    from .same_artist.training import load_training_images
    paths, labels = load_training_images(list(sources))
    questioned = {content_key(p) for p in paintings}
    keep = [k for k, (p, a) in enumerate(zip(paths, labels)) if a not in artists and content_key(p) not in questioned]
    return _symlink_folder(out, np.array(paths)[keep], np.asarray(labels)[keep])


def _symlink_folder(out, paths, labels) -> Path:
    """A cleaned-layout folder (``all_data_info.csv`` + ``train/``) of symbolic links: artist
    names are kept exactly, whatever characters they hold."""
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    names = []
    for k, p in enumerate(paths):
        name = f"{k:06d}_{Path(p).name}"
        link, target = out / "train" / name, Path(p).resolve()
        if link.is_symlink() and Path(os.readlink(link)) != target:   # a half-written folder of another list
            link.unlink()
        if not link.is_symlink():
            link.symlink_to(target)
        names.append(name)
    info = pd.DataFrame({"artist": labels, "in_train": True, "new_filename": names})
    info.to_csv(out / "all_data_info.csv", index=False)
    return out
