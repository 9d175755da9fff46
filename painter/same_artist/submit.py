"""Kaggle-scale pair scoring: embed every test image once, then score pairs in chunks.

The competition's ~22 million pairs would take two CNN passes each through a Siamese
network; here each of the ~24,000 images is embedded once and pairs are scored from the
embeddings, chunk by chunk, so memory depends on the chunk size, not on the number of pairs.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..data.kaggle import read_pairs, read_scores
from ..errors import InputError, check_folder, check_out_file, no_usable_images
from .predict import load_pair_model

__all__ = ["submit", "score_submission", "find_image", "NEUTRAL"]

logger = logging.getLogger(__name__)

NEUTRAL = 0.5  # the score of a pair whose image is missing or unreadable


def find_image(data_dir: Path, name: str):
    """Path of ``name`` in ``data_dir/test``, ``data_dir/train`` or ``data_dir``; None if absent."""
    for sub in ("test", "train", ""):
        p = data_dir / sub / name
        if p.is_file():
            return p
    return None


def _embed_by_name(model, data_dir, names, progress, context=True, groups=True):
    """``(z (len(names), E), {name: reason}, model)``: each image embedded once, NaN rows for the
    images not found or unusable; with ``context``, by the model adapted to these images first
    (with their ``groups``)."""
    from .context import CollectionContext, adaptable
    located = {n: find_image(data_dir, n) for n in names}
    problems = {n: f"not found in {data_dir}" for n, p in located.items() if p is None}
    found = [n for n, p in located.items() if p is not None]
    z_found, failed = model.embed_files([str(located[n]) for n in found], progress=progress)
    usable = [str(located[n]) for n in found if str(located[n]) not in failed]
    if context and usable and adaptable(model):   # adapted to the usable images, run again on their features
        model = CollectionContext(usable).adapt(model, progress=progress, groups=groups)
        z_found, _ = model.embed_files([str(located[n]) for n in found], progress=False)
    for p, reason in failed.items():
        problems[Path(p).name] = reason
    z = np.full((len(names), z_found.shape[1]), np.nan, np.float32)
    row = {n: k for k, n in enumerate(names)}
    z[[row[n] for n in found]] = z_found
    return z, problems, model


def _write_scores(model, z, row, submission_info, chunk_size, path, progress):
    """Write ``index,sameArtist`` for every pair to ``path``; returns ``(pairs, neutral pairs)``."""
    n_pairs = n_neutral = 0
    with open(path, "w") as f:
        f.write("index,sameArtist\n")
        bar = tqdm(desc="score pairs", unit="pair", unit_scale=True, disable=not progress)
        for chunk in read_pairs(submission_info, chunk_size, check=False):
            p = model.score_pairs(z, chunk["image1"].map(row).to_numpy(), chunk["image2"].map(row).to_numpy())
            bad = np.isnan(p)
            p[bad] = NEUTRAL
            n_neutral += int(bad.sum())
            n_pairs += len(p)
            pd.DataFrame({"index": chunk["index"].to_numpy(), "sameArtist": p}).to_csv(
                f, header=False, index=False, float_format="%.6f")
            bar.update(len(p))
        bar.close()
    return n_pairs, n_neutral


def submit(model_dir, data_dir, submission_info, out, chunk_size: int = 1_000_000, progress: bool = True,
           context: bool = True, groups: bool = True) -> dict:
    """Write ``out`` (``index,sameArtist``, input order, one row per input pair).

    Parameters
    ----------
    model_dir : a trained model folder (or None for the default model)
    data_dir : cleaned data folder holding the images (``test/``, ``train/`` or flat)
    submission_info : CSV with ``index,image1,image2``
    chunk_size : pairs scored and written at a time (bounds memory)
    context : adapt the model to the test images first (``painter.same_artist.context``): they
        are the collection the pairs come from, unlabelled
    groups : with context, the test images' k-means groups join the learned artists in each
        profile (``collection_groups``)

    Returns a summary: pairs, images, unusable images ``{name: reason}``, neutral pairs, seconds.
    Every input is checked before ``out`` is written (``InputError`` naming the file); ``out`` is
    written as ``out.part`` and renamed at the end, so a failed run leaves an earlier ``out`` as it was.
    """
    t0 = time.time()
    model = load_pair_model(model_dir)
    data_dir, out = check_folder(data_dir, "data"), check_out_file(out)
    names = set()
    for chunk in read_pairs(submission_info, chunk_size):     # checks every row before any work
        names.update(chunk["image1"])
        names.update(chunk["image2"])
    names = sorted(names)
    z, problems, model = _embed_by_name(model, data_dir, names, progress, context, groups)
    if len(problems) == len(names):
        raise no_usable_images(data_dir, problems, f"images named in {submission_info}")
    row = {n: k for k, n in enumerate(names)}
    t_embed = time.time() - t0

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    try:
        n_pairs, n_neutral = _write_scores(model, z, row, submission_info, chunk_size, tmp, progress)
    except BaseException:   # also an interrupt: no half-written file is left, an earlier ``out`` is kept
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    summary = {"pairs": n_pairs, "images": len(names), "unusable_images": problems, "neutral_pairs": n_neutral,
               "embed_seconds": round(t_embed, 1), "total_seconds": round(time.time() - t0, 1)}
    logger.info(f"wrote {out}: {n_pairs} pairs over {len(names)} images in {summary['total_seconds']} s "
          f"(embedding {summary['embed_seconds']} s)")
    if problems:
        logger.warning(f"{len(problems)} images unusable; their {n_neutral} pairs scored {NEUTRAL}:\n"
                       + "\n".join(f"  {name}: {reason}" for name, reason in problems.items()))
    return summary


def score_submission(submission, solution) -> dict:
    """ROC AUC of a submission: ``{"all": auc, "seen": auc, "unseen": auc}``.

    ``seen`` / ``unseen`` appear when the solution has a ``pairKind`` column (a kind whose pairs
    are all same-artist, or all not, has no AUC and is left out). Raises ``InputError`` naming
    the file that is not an ``index,sameArtist`` CSV, holds a bad value, or whose indices differ
    from the other's.
    """
    from sklearn.metrics import roc_auc_score
    sub, sol = read_scores(submission), read_scores(solution, labels=True)
    merged = sol.merge(sub, on="index", how="outer", suffixes=("_true", ""), indicator=True)
    missing, extra = (merged.loc[merged["_merge"] == side, "index"].tolist() for side in ("left_only", "right_only"))
    if missing or extra:
        parts = [f"{len(v)} {what} (e.g. {', '.join(map(str, v[:3]))})"
                 for v, what in ((missing, f"of its {len(sol)} indices missing"), (extra, "not in it")) if v]
        raise InputError(f"{submission}: different indices from {solution}: {', '.join(parts)}")
    if merged["sameArtist_true"].nunique() < 2:
        raise InputError(f"{solution}: every pair has sameArtist {merged['sameArtist_true'].iloc[0]:g}; "
                         "a ROC AUC needs pairs of both kinds")
    out = {"all": float(roc_auc_score(merged["sameArtist_true"], merged["sameArtist"]))}
    if "pairKind" in merged.columns:
        for kind, g in merged.groupby("pairKind"):
            if g["sameArtist_true"].nunique() == 2:
                out[str(kind)] = float(roc_auc_score(g["sameArtist_true"], g["sameArtist"]))
    return out
