"""The split-training harness that chooses an attribution calibration: splits of a collection's
training paintings, a same-artist model trained on each split's reference part, its held-out
paintings scored against that reference and smaller ones drawn from it, and
``painter.attribution.fit_attribution_calibration`` fitted on the pooled scores.

``benchmarks/attribution.py`` runs it (``--save-calibration`` writes the packaged model's
``attribution.json``); importable as ``benchmarks.recipes.calibration_splits`` from the repository root.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from painter.attribution import (AGGREGATES, AttributionCalibration, fit_attribution_calibration, group_scores,
                                 load_reference, tradeoff)
from painter.attribution.calibration import pooled_probabilities
from painter.features.spec import DEFAULT_FEATURES

__all__ = ["validation_queries", "choose_calibration", "validation_scores", "fit_pooled"]


def validation_queries(labels, seed: int = 0, val_artists: float = 0.2, val_images: float = 0.2, prefer=None):
    """Indices ``(reference, known_queries, unknown_queries)`` of one split of training paintings.

    ``val_artists`` of the artists are held out whole (their paintings stand in for unknown
    painters; ``prefer``-red names first, e.g. those the features' backbone never saw);
    ``val_images`` of every other artist's paintings are questioned paintings of reference
    artists; the rest is the reference (and the validation model's training set).
    """
    from painter.data.pairs import validation_split
    return validation_split(np.asarray(labels), val_artists, val_images, seed=seed, prefer=prefer)


def choose_calibration(data_dir, work_dir, seeds=(0, 1, 2), aggregates=AGGREGATES, train_kwargs=None,
                       also=(), reference_sizes=(15, 30, 70), draws: int = 3, fixed_threshold: bool = False,
                       progress: bool = True, temperature_from: str = "whole"):
    """Choose the aggregate and fit the calibration on splits of ``data_dir``'s training paintings.

    For every seed: split (``validation_queries``), train a same-artist model on the reference
    part only (``painter.same_artist.training.train``, ``train_kwargs``) so that questioned paintings are new to
    it as test paintings are to the final model, and score the held-out paintings against the
    reference, and against ``draws`` smaller references of every size in ``reference_sizes``
    drawn from its artists (the questioned paintings of the artists left out are not asked: the
    model knows them, as the packaged model knows artists missing from a user's reference; pass
    ``reference_sizes=()`` and ``fixed_threshold=True`` for a model trained on the reference it
    will serve, as ``DEFAULT_CALIBRATION`` was). The
    splits' scores are pooled per aggregate and ``fit_attribution_calibration`` fits each (the
    temperature on the whole references, or with ``temperature_from="all"`` on every size); the
    aggregate with the best balanced answer accuracy wins, averaged over the whole references and
    each smaller size as the fit weighs them (``_ranked``).

    ``also``: more training sources for the split models, for a model that learned from more
    artists than its reference (such as the packaged one); each split leaves out of them every
    painting of its held-out artists and every questioned painting, so that the stand-ins for
    unknown painters stay unknown.

    Returns ``(AttributionCalibration, table, curve)``: the table has one row per aggregate, best first, with
    its validation figures on the whole references (``attribution_metrics``), ``balanced@n`` on the
    smaller ones, their mean with the whole's (``balanced_sizes``) and its fitted parameters;
    ``curve`` is the chosen one's ``tradeoff`` on the whole references.
    Work files (split folders, models) go in ``work_dir``.
    """
    pooled = validation_scores(data_dir, work_dir, seeds, aggregates, train_kwargs, also, reference_sizes, draws,
                               progress)
    # the data folder as seen from the repository (runs/pbn_clean), not this machine's absolute path
    shown = os.path.relpath(Path(data_dir).resolve(), Path(__file__).resolve().parents[2])
    return fit_pooled(pooled, f"{len(seeds)} splits of {shown}'s training paintings", fixed_threshold,
                      temperature_from)


def validation_scores(data_dir, work_dir, seeds=(0, 1, 2), aggregates=AGGREGATES, train_kwargs=None, also=(),
                      reference_sizes=(15, 30, 70), draws: int = 3, progress: bool = True) -> dict:
    """``choose_calibration``'s validation scores: ``{aggregate: (scores, truth, whole)}``, three
    lists with one entry per reference (every split's whole reference, then ``draws`` smaller ones
    of each size in ``reference_sizes``; ``whole``: whether it is a split's whole reference), as
    ``fit_attribution_calibration`` takes them. Split models are trained once and kept in
    ``work_dir``; a size added at the end of ``reference_sizes`` leaves the earlier sizes' draws
    as they were."""
    from painter.same_artist import make_method
    from painter.same_artist.training import (hyperparameters_of, learned_features, load_training_images, train,
                                              unseen_first)
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
        from painter.same_artist.predict import load_pair_model
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
    return pooled


def fit_pooled(pooled: dict, what: str, fixed_threshold: bool = False, temperature_from: str = "whole"):
    """``choose_calibration``'s choice on ``validation_scores``' pooled scores (``what``: where
    they come from, for the note): every aggregate fitted, the best by ``_ranked``."""
    rows, fits = [], {}
    for how, (scores, truth, whole) in pooled.items():
        cal, metrics = fit_attribution_calibration(scores, truth, how, whole, fixed_threshold, temperature_from)
        fits[how] = cal
        rows.append({"aggregate": how, **metrics, "temperature": cal.temperature, "none_slope": cal.none_slope,
                     "none_bias": cal.none_bias, "none_size_slope": cal.none_size_slope})
    table = _ranked(pd.DataFrame(rows))
    best = fits[table["aggregate"][0]]
    scores, truth, whole = pooled[best.aggregate]
    curve = tradeoff(*pooled_probabilities(list(zip(scores, truth)), best, whole))
    smaller = ", ".join(f"{c[9:]}: {table[c][0]:.3f}" for c in table.columns if c.startswith("balanced@"))
    note = (f"chosen on {what}: balanced answer accuracy "
            f"{table['balanced'][0]:.3f}, top-1 {table['top1'][0]:.3f}, none rate {table['none_rate'][0]:.3f}"
            + (f"; on smaller references drawn from them, balanced answer accuracy by number of artists {smaller}"
               if smaller else ""))
    return AttributionCalibration(**{**best.to_dict(), "note": note}), table, curve


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
    from painter.cache import content_key
    from painter.same_artist.training import load_training_images
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
