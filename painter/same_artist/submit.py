"""Kaggle-scale pair scoring: embed every test image once, then score pairs in chunks.

The competition's ~22 million pairs would take two CNN passes each through a Siamese
network; here each of the ~24,000 images is embedded once and pairs are scored from the
embeddings, chunk by chunk, so memory depends on the chunk size, not on the number of pairs.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .predict import load_pair_model

__all__ = ["submit", "score_submission", "find_image", "NEUTRAL"]

NEUTRAL = 0.5  # the score of a pair whose image is missing or unreadable


def find_image(data_dir: Path, name: str):
    """Path of ``name`` in ``data_dir/test``, ``data_dir/train`` or ``data_dir``; None if absent."""
    for sub in ("test", "train", ""):
        p = data_dir / sub / name
        if p.is_file():
            return p
    return None


def _read_pairs(path, chunk_size):
    reader = pd.read_csv(path, chunksize=chunk_size, dtype={"image1": str, "image2": str})
    for chunk in reader:
        missing = {"index", "image1", "image2"} - set(chunk.columns)
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)} (need index,image1,image2)")
        yield chunk


def _embed_by_name(model, data_dir, names, progress):
    """``(z (len(names), E), {name: reason})``: each image embedded once, NaN rows for the
    images not found or unusable."""
    located = {n: find_image(data_dir, n) for n in names}
    problems = {n: f"not found in {data_dir}" for n, p in located.items() if p is None}
    found = [n for n, p in located.items() if p is not None]
    z_found, failed = model.embed_files([str(located[n]) for n in found], progress=progress)
    for p, reason in failed.items():
        problems[Path(p).name] = reason
    z = np.full((len(names), z_found.shape[1]), np.nan, np.float32)
    row = {n: k for k, n in enumerate(names)}
    z[[row[n] for n in found]] = z_found
    return z, problems


def submit(model_dir, data_dir, submission_info, out, chunk_size: int = 1_000_000, progress: bool = True) -> dict:
    """Write ``out`` (``index,sameArtist``, input order, one row per input pair).

    Parameters
    ----------
    model_dir : a trained model folder (or None for the default model)
    data_dir : cleaned data folder holding the images (``test/``, ``train/`` or flat)
    submission_info : CSV with ``index,image1,image2``
    chunk_size : pairs scored and written at a time (bounds memory)

    Returns a summary: pairs, images, unusable images ``{name: reason}``, neutral pairs, seconds.
    """
    t0 = time.time()
    model = load_pair_model(model_dir)
    names = set()
    for chunk in _read_pairs(submission_info, chunk_size):
        names.update(chunk["image1"])
        names.update(chunk["image2"])
    names = sorted(names)
    z, problems = _embed_by_name(model, Path(data_dir), names, progress)
    row = {n: k for k, n in enumerate(names)}
    t_embed = time.time() - t0

    n_pairs = n_neutral = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with open(tmp, "w") as f:
        f.write("index,sameArtist\n")
        bar = tqdm(desc="score pairs", unit="pair", unit_scale=True, disable=not progress)
        for chunk in _read_pairs(submission_info, chunk_size):
            i = chunk["image1"].map(row).to_numpy()
            j = chunk["image2"].map(row).to_numpy()
            p = model.score_pairs(z, i, j)
            bad = np.isnan(p)
            p[bad] = NEUTRAL
            n_neutral += int(bad.sum())
            n_pairs += len(p)
            pd.DataFrame({"index": chunk["index"].to_numpy(), "sameArtist": p}).to_csv(
                f, header=False, index=False, float_format="%.6f")
            bar.update(len(p))
        bar.close()
    tmp.replace(out)
    summary = {"pairs": n_pairs, "images": len(names), "unusable_images": problems, "neutral_pairs": n_neutral,
               "embed_seconds": round(t_embed, 1), "total_seconds": round(time.time() - t0, 1)}
    print(f"wrote {out}: {n_pairs} pairs over {len(names)} images in {summary['total_seconds']} s "
          f"(embedding {summary['embed_seconds']} s)")
    if problems:
        print(f"{len(problems)} images unusable; their {n_neutral} pairs scored {NEUTRAL}:")
        for name, reason in problems.items():
            print(f"  {name}: {reason}")
    return summary


def score_submission(submission, solution) -> dict:
    """ROC AUC of a submission: ``{"all": auc, "seen": auc, "unseen": auc}``.

    ``seen`` / ``unseen`` appear when the solution has a ``pairKind`` column. Raises
    ``ValueError`` when the two files' indices differ.
    """
    from sklearn.metrics import roc_auc_score
    sub = pd.read_csv(submission)
    sol = pd.read_csv(solution)
    for name, df, cols in ((submission, sub, {"index", "sameArtist"}), (solution, sol, {"index", "sameArtist"})):
        if not cols <= set(df.columns):
            raise ValueError(f"{name}: needs columns index,sameArtist (has {', '.join(df.columns)})")
    if len(sub) != len(sol) or not np.array_equal(np.sort(sub["index"].to_numpy()), np.sort(sol["index"].to_numpy())):
        extra = set(sub["index"]) ^ set(sol["index"])
        raise ValueError(f"{submission} and {solution} have different indices "
                         f"({len(sub)} vs {len(sol)} rows; e.g. {sorted(extra)[:3]})")
    merged = sol.merge(sub, on="index", suffixes=("_true", ""))
    out = {"all": float(roc_auc_score(merged["sameArtist_true"], merged["sameArtist"]))}
    if "pairKind" in merged.columns:
        for kind, g in merged.groupby("pairKind"):
            out[str(kind)] = float(roc_auc_score(g["sameArtist_true"], g["sameArtist"]))
    return out
