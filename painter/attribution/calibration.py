"""How per-painting pair logits become P(artist) and P(none of them): the ``AttributionCalibration``
(not the same-artist P(same) of ``painter.same_artist.calibration``), the per-artist aggregates and
the fit of a calibration on validation queries (see ``painter.attribution``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from ..errors import ParameterError

__all__ = ["AGGREGATES", "AttributionCalibration", "DEFAULT_CALIBRATION", "group_scores", "probabilities",
           "fit_attribution_calibration", "attribution_metrics", "tradeoff"]

AGGREGATES = ("mean", "max", "top3", "top5", "lme", "mean+top3")


def _check_aggregate(how):
    if how not in AGGREGATES and not (how.startswith("top") and how[3:].isdigit() and int(how[3:]) >= 1):
        raise ParameterError(f"aggregate must be one of {AGGREGATES} or 'top<m>', got {how!r}")


@dataclass(frozen=True)
class AttributionCalibration:
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
            raise ParameterError(f"threshold must be None or in [0, 1], got {self.threshold}")
        if not self.temperature > 0:
            raise ParameterError(f"temperature must be > 0, got {self.temperature}")

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


# Chosen by ``benchmarks/recipes/attribution.py --model MODEL --reference-sizes '' --fixed-threshold``, MODEL an
# lda model of pbn_dev's 175 training artists without a base model, on three splits of its training
# paintings for lda models on the default (artist-tuned) features, no test painting or test-only
# artist used, the held-out artists unseen by the backbones: "max" had the best balanced answer
# accuracy (0.605; top5 0.605, lme 0.605, top3 0.604, mean+top3 0.601, mean 0.600). A fixed
# threshold and no size term: a user's model changes with the reference (a 30-artist collection,
# a 30-artist model), so smaller references drawn from a 140-artist model's do not stand for it;
# fitted on them, it lost 0.03-0.07 balanced accuracy on 30- and 70-artist users' models
# (benchmarks/RESULTS.md).
DEFAULT_CALIBRATION = AttributionCalibration(aggregate="max", temperature=4.1737, none_slope=0.05152,
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


def probabilities(scores, calibration: AttributionCalibration, prior_none: float = 0.5):
    """``(P_artists (Q, n_artists), P_none (Q,))`` from per-artist scores ``(Q, n_artists)``.

    Every row of ``P_artists`` plus its ``P_none`` sums to 1. ``prior_none``: the prior
    probability that the painter is none of the reference artists (the calibration assumes 0.5).
    """
    from scipy.special import expit, logit, softmax
    if not 0 < prior_none < 1:
        raise ParameterError(f"prior_none must be in (0, 1), got {prior_none}")
    s = np.atleast_2d(scores)
    c = calibration
    known = expit(c.none_slope * s.max(axis=1) + c.none_bias + c.none_size_slope * np.log(max(s.shape[1], 1))
                  - logit(prior_none))
    return softmax(s / calibration.temperature, axis=1) * known[:, None], 1.0 - known


def fit_attribution_calibration(scores, truth, aggregate: str, whole=None, fixed_threshold: bool = False,
                                temperature_from: str = "whole"):
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
    temperature_from : ``"whole"``: ``T`` is fitted on the whole references; ``"all"``: on every
        reference, the whole ones and each smaller size weighing the same (for a model that serves
        references of several sizes: a flatter softmax over many artists answers "none" more
        often on few)

    ``T`` minimises the log loss of the true artist on the known queries (``temperature_from``);
    ``a``, ``b``, ``c``: a logistic regression of known vs unknown on the best artist's score and
    ``ln n_artists`` (``c`` only when the references differ in size), the known and the unknown
    queries of the whole references and of every smaller size weighted equally (prior 0.5).
    Returns ``(AttributionCalibration, metrics)``: ``attribution_metrics`` of the whole references, and
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
    if temperature_from not in ("whole", "all"):
        raise ParameterError(f"temperature_from must be 'whole' or 'all', got {temperature_from!r}")
    size = np.array([0 if w else s.shape[1] for (s, _), w in zip(groups, whole)])   # 0: a whole reference
    sizes = [0] if temperature_from == "whole" else np.unique(size)
    tops = [[(s[t >= 0], t[t >= 0]) for (s, t), z in zip(groups, size) if z == m] for m in sizes]

    def nll(log_t):   # mean over the sizes of each size's mean log loss
        return -np.mean([np.concatenate([log_softmax(s / np.exp(log_t), axis=1)[np.arange(len(t)), t]
                                         for s, t in part]).mean() for part in tops])

    temperature = float(np.exp(minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded").x))
    n = np.concatenate([np.full(len(t), s.shape[1]) for s, t in groups])
    X = np.stack([np.concatenate([s.max(axis=1) for s, _ in groups]), np.log(n)], axis=1)
    size = np.concatenate([np.full(len(t), 0 if w else s.shape[1]) for (s, t), w in zip(groups, whole)])
    _, cell, count = np.unique(size * 2 + known, return_inverse=True, return_counts=True)   # each weighs the same
    several = len(np.unique(n)) > 1
    lr = LogisticRegression(C=1e6).fit(X[:, : 1 + several], known.astype(int), sample_weight=1.0 / count[cell])
    cal = AttributionCalibration(aggregate, temperature, float(lr.coef_[0, 0]), float(lr.intercept_[0]),
                                 none_size_slope=float(lr.coef_[0, 1]) if several else 0.0)
    if fixed_threshold:
        curve = tradeoff(*pooled_probabilities(groups, cal, whole), grid=np.linspace(0.02, 0.98, 49))
        cal = replace(cal, threshold=float(curve["threshold"][int(np.argmax(curve["balanced"].to_numpy()))]))
    metrics = attribution_metrics(*pooled_probabilities(groups, cal, whole), cal)
    for m in np.unique(widths[~whole]):
        pooled = pooled_probabilities(groups, cal, ~whole & (widths == m))
        if 0 < (pooled[2] >= 0).sum() < len(pooled[2]):   # both known and unknown questions
            metrics[f"balanced@{m}"] = attribution_metrics(*pooled, cal)["balanced"]
    return cal, metrics


def pooled_probabilities(groups, cal, pick):
    """``(P(artist), P(none), truth)`` of the picked ``groups``, stacked (P(artist) padded with
    zeros to the widest reference: a padded column never outranks the true artist)."""
    parts = [(*probabilities(s, cal), t) for (s, t), chosen in zip(groups, pick) if chosen]
    width = max(p.shape[1] for p, _, _ in parts)
    return (np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p, _, _ in parts]),
            np.concatenate([q for _, q, _ in parts]), np.concatenate([t for _, _, t in parts]))


def attribution_metrics(p_art, p_none, truth, calibration) -> dict:
    """Figures of ``calibration``'s answers (an ``AttributionCalibration``, or a threshold on P(none): a
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
    if not isinstance(calibration, AttributionCalibration):
        calibration = AttributionCalibration(threshold=calibration)
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

