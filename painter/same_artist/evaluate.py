"""``evaluate``: how a same-artist model does on a labelled collection (a folder per artist).

    labelled paintings -> every pair (or every same-artist pair and a sample of the others) ->
    P(same) -> ROC AUC, balanced accuracy of the verdict, same / different rates, per artist

A user measures a model on their own collection before trusting it: the figures are split into
pairs of artists the model learned from (``seen``) and pairs with an artist it never saw
(``unseen``), as the competition's pairs are.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, no_usable_images
from .context import CollectionContext
from .predict import load_pair_model

__all__ = ["evaluate", "Evaluation", "collection_pairs", "verdict_rates"]


def collection_pairs(labels, max_pairs: int = 5_000_000, seed: int = 0):
    """``(i, j)`` pairs of a collection: all of them, or, past ``max_pairs``, every same-artist
    pair and a uniform sample of the different-artist ones (AUC and the rates are unbiased)."""
    labels = np.asarray(labels)
    n = len(labels)
    if n * (n - 1) // 2 <= max_pairs:
        return np.triu_indices(n, 1)
    groups = pd.Series(range(n)).groupby(labels).indices.values()
    same = [np.array(np.meshgrid(idx, idx)).reshape(2, -1) for idx in groups]
    same = np.concatenate(same, axis=1)
    same = same[:, same[0] < same[1]]
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, n, (2, 2 * max(max_pairs - same.shape[1], 1)))
    keep = labels[i] != labels[j]
    i, j = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
    return np.concatenate([same[0], i]), np.concatenate([same[1], j])


def verdict_rates(same, p, threshold) -> dict:
    """ROC AUC, and at ``threshold``: the share of same-artist pairs called "same", of
    different-artist pairs called "different", and their mean (balanced accuracy)."""
    from sklearn.metrics import roc_auc_score
    same, yes = np.asarray(same, bool), np.asarray(p) >= threshold
    out = {"pairs": int(len(same)), "same_pairs": int(same.sum())}
    if same.all() or not same.any():
        return out
    tpr, tnr = float(yes[same].mean()), float((~yes[~same]).mean())
    return {**out, "auc": float(roc_auc_score(same, p)), "balanced_accuracy": (tpr + tnr) / 2,
            "same_called_same": tpr, "different_called_different": tnr}


class Evaluation:
    """The figures of one model on one collection: ``summary`` (dict: ``all``, ``seen``, ``unseen``
    -> ``verdict_rates``), ``artists`` (DataFrame, one row per artist), ``threshold``, and the
    pairs (``i``, ``j``, ``same``, ``p``, ``kind``) the plots draw."""

    def __init__(self, summary, artists, threshold, pairs, model, context):
        self.summary, self.artists, self.threshold, self.pairs = summary, artists, threshold, pairs
        self.model, self.context = model, context

    def table(self) -> pd.DataFrame:
        rows = {k: v for k, v in self.summary.items() if "auc" in v}
        return pd.DataFrame(rows).T[["pairs", "same_pairs", "auc", "balanced_accuracy", "same_called_same",
                                     "different_called_different"]]

    def save(self, out) -> Path:
        """``evaluation.json``, ``artists.csv``, ``roc.png`` and ``scores.png`` in ``out``."""
        from ..plots import plot_roc, plot_score_distributions
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluation.json").write_text(json.dumps(
            {"model": self.model, "context": self.context, "threshold": self.threshold, "summary": self.summary},
            indent=2))
        self.artists.to_csv(out / "artists.csv", index=False)
        p = self.pairs
        plot_roc(p["same"], p["p"], p["kind"], out / "roc.png")
        plot_score_distributions(p["same"], p["p"], self.threshold, out / "scores.png")
        return out


def _name(artist: str) -> str:
    """An artist's name as compared with the model's list: a folder's ``Claude_Monet`` is ``claude monet``."""
    return " ".join(str(artist).replace("_", " ").lower().split())


def _artist_rows(labels, learned, i, j, same, yes) -> pd.DataFrame:
    """Per artist: paintings, whether the model learned the artist (``learned``: per painting),
    and the verdict's rates on the pairs that involve the artist."""
    names, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    a, b = inverse[i], inverse[j]
    n = len(names)
    same_pairs = np.bincount(a[same], minlength=n)
    same_yes = np.bincount(a[same & yes], minlength=n)
    diff = ~same
    diff_pairs = np.bincount(a[diff], minlength=n) + np.bincount(b[diff], minlength=n)
    diff_no = np.bincount(a[diff & ~yes], minlength=n) + np.bincount(b[diff & ~yes], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"artist": names, "paintings": np.bincount(inverse, minlength=n),
                             "known_to_model": learned[first], "same_pairs": same_pairs,
                             "same_called_same": same_yes / same_pairs, "different_pairs": diff_pairs,
                             "different_called_different": diff_no / diff_pairs})


def evaluate(collection, model=None, context=None, max_pairs: int = 5_000_000, seed: int = 0,
             progress: bool = True) -> Evaluation:
    """How ``model`` does on a labelled ``collection``.

    Parameters
    ----------
    collection : a folder per artist (``root/<artist>/<image>``) or a cleaned folder (its
        training paintings)
    model : a ``PairModel`` or model folder; None: the default model
    context : unlabelled paintings to adapt the model to (see ``predict_pairs``); ``"self"``: the
        collection's own paintings, as ``predict_pair(a, b, context=the folder)`` answers
    max_pairs : past this many pairs, every same-artist pair and a sample of the others

    Returns an ``Evaluation``. Unreadable paintings are named in one error (nothing is skipped
    silently); a collection with a single artist or no same-artist pair is refused.
    """
    from .training import load_training_images
    paths, labels = load_training_images(collection)
    if len(np.unique(labels)) < 2:
        raise InputError(f"{collection}: one artist only; evaluation needs paintings by two artists or more")
    model = load_pair_model(model)
    z, failed = model.embed_files(paths, progress=progress)
    if failed:
        if len(failed) == len(paths):
            raise no_usable_images(collection, failed, "paintings")
        path, reason = next(iter(failed.items()))
        raise InputError(f"{collection}: {len(failed)} of {len(paths)} paintings could not be read (first "
                         f"{path}: {reason}); remove or repair them")
    if context is not None:   # the paintings checked first; the adapted embedder reads their cached features
        model = CollectionContext.cached(paths if str(context) == "self" else context).adapt(model, progress=progress)
        z, _ = model.embed_files(paths, progress=False)
    i, j = collection_pairs(labels, max_pairs, seed)
    same = labels[i] == labels[j]
    if not same.any():
        raise InputError(f"{collection}: no artist has two paintings; evaluation needs same-artist pairs")
    p = model.score_pairs(z, i, j)
    known = {_name(a) for a in model.info.get("artists", [])}
    learned = np.array([_name(a) in known for a in labels])
    kind = np.where(learned[i] & learned[j], "seen", "unseen")
    summary = {"all": verdict_rates(same, p, model.threshold)}
    summary.update({k: verdict_rates(same[kind == k], p[kind == k], model.threshold) for k in ("seen", "unseen")})
    artists = _artist_rows(labels, learned, i, j, same, p >= model.threshold)
    where = str(model.directory) if model.directory is not None else model.method
    described = None if context is None else ("the collection itself" if str(context) == "self" else str(context))
    return Evaluation(summary, artists, model.threshold, {"i": i, "j": j, "same": same, "p": p, "kind": kind},
                      where, described)
