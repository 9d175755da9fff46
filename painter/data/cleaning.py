"""Kaggle archives -> clean, uniform RGB JPEGs plus a report of every CSV image.

Images are read straight out of ``train.zip`` / ``train_N.zip`` / ``test.zip`` (no extracted
copy on disk), with ``replacements_for_corrupted_files.zip`` taking precedence over the
archive copy, so the source archives are only ever read.
"""
from __future__ import annotations

import os
import re
import shutil
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..errors import InputError, ParameterError, check_folder, check_out_folder, first_line, what_folder
from .kaggle import read_kaggle_csv
from .images import ImageError, fit_square, is_image_name, load_image

__all__ = ["clean_kaggle", "find_archives", "detail_copy", "REPORT_NAME", "DETAIL_DIR"]

REPORT_NAME = "cleaning_report.csv"
DETAIL_DIR = "detail"   # <out>/detail/<split>/<name>: the painting at its resolution, long side capped
REPLACEMENTS = "replacements_for_corrupted_files.zip"
_CSV_FILES = ("all_data_info.csv", "train_info.csv", "submission_info.csv", "solution_painter.csv")


@dataclass(frozen=True)
class _Source:
    archive: str   # zip path
    member: str    # member name inside it


def find_archives(kaggle_dir) -> dict:
    """Map ``"train"``/``"test"`` to the zip files present (``train.zip`` or ``train_N.zip``)."""
    kaggle_dir = Path(kaggle_dir)
    found = {"train": [], "test": []}
    for p in sorted(kaggle_dir.glob("*.zip")):
        m = re.fullmatch(r"(train|test)(_\d+)?\.zip", p.name)
        if m:
            found[m.group(1)].append(p)
    return found


def _index_archive(path: Path, sources: dict):
    """Record every image member of a zip as ``file name -> (split, _Source)``."""
    try:
        with zipfile.ZipFile(path) as z:
            members = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{path}: not a readable zip archive ({first_line(e)}); download it again") from None
    for member in members:
        name = member.rsplit("/", 1)[-1]
        if not is_image_name(name):
            continue
        top = member.split("/", 1)[0] if "/" in member else path.stem
        split = "test" if top.startswith("test") else "train"
        sources[name] = (split, _Source(str(path), member))


_open_zips: dict = {}


def _read_member(src: _Source) -> bytes:
    z = _open_zips.get(src.archive)
    if z is None:  # one open handle per archive and worker process
        z = _open_zips[src.archive] = zipfile.ZipFile(src.archive)
    return z.read(src.member)


def detail_copy(path) -> str:
    """The detail copy of a cleaned painting ``<out>/<split>/<name>`` (``clean_kaggle(detail=)``)
    when there is one, else ``path`` itself."""
    p = Path(path)
    copy = p.parent.parent / DETAIL_DIR / p.parent.name / p.name
    return str(copy) if copy.is_file() else str(path)


def _save(im, out_path: Path, quality: int):
    tmp = out_path.with_name(out_path.name + ".part")
    im.save(tmp, "JPEG", quality=quality)
    os.replace(tmp, out_path)  # atomic: an interrupted run never leaves half a file


def _convert(job):
    """Worker: decode one source image, write the normalised JPEG (and its detail copy, when
    asked and missing). Returns (name, error)."""
    name, src, out_path, size, quality, detail_path, detail = job
    try:
        data = _read_member(src)
        label = f"{Path(src.archive).name}:{src.member}"
        if detail_path is not None and not detail_path.is_file():
            _save(load_image(data, name=label, max_side=detail), detail_path, quality)
        if not out_path.is_file():
            im = load_image(data, size, name=label)
            # never enlarge: upsampling adds no detail, and the resampling blurs the brushwork
            _save(fit_square(im, min(size, *im.size)), out_path, quality)
        return name, None
    except ImageError as e:
        return name, e.reason
    except (zipfile.BadZipFile, OSError, KeyError) as e:
        return name, f"cannot read {src.member} from {Path(src.archive).name}: {e}"


def clean_kaggle(kaggle_dir, out_dir, size: int = 256, workers: int | None = None,
                 quality: int = 95, progress: bool = True, detail: int | None = None) -> pd.DataFrame:
    """Turn the Kaggle Painter by Numbers files into a clean data folder.

    Parameters
    ----------
    kaggle_dir : path
        Folder with ``all_data_info.csv`` and any of ``train.zip``, ``train_N.zip``,
        ``test.zip``, ``replacements_for_corrupted_files.zip``.
    out_dir : path
        Receives ``train/``, ``test/`` (RGB JPEGs, short side resized to ``size`` and centre
        cropped to ``size`` x ``size``; a smaller painting is only centre-cropped to a square),
        copies of the CSVs and ``cleaning_report.csv``.
    size : int
        Output side in pixels (default 256).
    workers : int, optional
        Decoding processes; default all cores.
    detail : int, optional
        Also write ``detail/train/``, ``detail/test/``: each painting at its own resolution
        with its long side capped at ``detail`` pixels (never enlarged), which features with
        views (``FeatureSpec.views``) read in place of the square.

    Returns
    -------
    pandas.DataFrame
        The report, one row per CSV image (plus any archive image the CSV does not list):
        ``filename, split, status, source, reason`` with status one of ``ok``, ``replaced``,
        ``missing``, ``unreadable``, ``not_in_csv``; with ``detail``, a ``detail`` column holds
        the detail copy's path relative to ``out_dir`` (empty where there is none).

    A second run skips images already written, so an interrupted run resumes (a detail copy
    asked for later is added to the paintings already cleaned).
    """
    if size < 32:
        raise ParameterError(f"clean_kaggle: size must be >= 32, got {size}")
    if detail is not None and detail < size:
        raise ParameterError(f"clean_kaggle: detail must be >= size ({size}), got {detail}")
    kaggle_dir, out_dir = check_folder(kaggle_dir, "Kaggle"), check_out_folder(out_dir, "data")
    info = read_kaggle_csv(kaggle_dir / "all_data_info.csv", required=("in_train",))
    sources = {}
    archives = find_archives(kaggle_dir)
    if not archives["train"] + archives["test"]:
        raise InputError(f"{kaggle_dir}: no train.zip, train_N.zip or test.zip; {what_folder('Kaggle')}")
    for path in archives["train"] + archives["test"]:
        _index_archive(path, sources)
    replacements = {}
    if (kaggle_dir / REPLACEMENTS).is_file():
        _index_archive(kaggle_dir / REPLACEMENTS, replacements)

    previous = {}
    report_path = out_dir / REPORT_NAME
    if report_path.is_file():
        try:
            old = pd.read_csv(report_path, dtype=str, keep_default_na=False)
            previous = dict(zip(old["filename"], old["status"]))
        except (ValueError, KeyError, UnicodeDecodeError) as e:   # pandas' errors are ValueErrors
            warnings.warn(f"{report_path}: damaged ({first_line(e)}); every image is converted again", stacklevel=2)
    for split in ("train", "test"):
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        if detail:
            (out_dir / DETAIL_DIR / split).mkdir(parents=True, exist_ok=True)

    rows, jobs = {}, []
    for name, in_train in zip(info["filename"], info["in_train"]):
        split = "train" if in_train.lower() == "true" else "test"
        out_path = out_dir / split / name
        if name in replacements:
            src, status = replacements[name][1], "replaced"
        elif name in sources:
            src, status = sources[name][1], "ok"
        else:
            rows[name] = (name, split, "missing", "", "in no archive")
            continue
        rows[name] = (name, split, status, f"{Path(src.archive).name}:{src.member}", "")
        detail_path = out_dir / DETAIL_DIR / split / name if detail else None
        done = out_path.is_file() and previous.get(name) in ("ok", "replaced")
        if not done or (detail_path is not None and not detail_path.is_file()):
            if not done and out_path.is_file():
                out_path.unlink()   # written by a run whose report did not list it as done
            jobs.append((name, src, out_path, size, quality, detail_path, detail))
    listed = set(info["filename"])
    for name, (split, src) in sorted(sources.items()):
        if name not in listed:
            rows[name] = (name, split, "not_in_csv", f"{Path(src.archive).name}:{src.member}",
                          "not listed in all_data_info.csv")

    workers = workers or os.cpu_count() or 1
    if jobs:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_convert, jobs, chunksize=16)
            for name, error in tqdm(results, total=len(jobs), desc="clean", unit="img", disable=not progress):
                if error:
                    r = rows[name]
                    rows[name] = (r[0], r[1], "unreadable", r[3], error)

    report = pd.DataFrame(list(rows.values()), columns=["filename", "split", "status", "source", "reason"])
    if detail:
        written = [(out_dir / DETAIL_DIR / s / f).is_file() for f, s in zip(report["filename"], report["split"])]
        report["detail"] = [f"{DETAIL_DIR}/{s}/{f}" if w else "" for f, s, w in
                            zip(report["filename"], report["split"], written)]
    for name in _CSV_FILES:
        if (kaggle_dir / name).is_file():
            shutil.copyfile(kaggle_dir / name, out_dir / name)
    tmp = report_path.with_suffix(".part")
    report.to_csv(tmp, index=False)
    os.replace(tmp, report_path)
    return report


def summarize_report(report: pd.DataFrame) -> str:
    """One line per status with its count, and every non-ok image with its reason."""
    counts = report["status"].value_counts()
    lines = [f"{len(report)} images: " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    for r in report[~report["status"].isin(["ok", "replaced"])].itertuples():
        lines.append(f"  {r.status:11s} {r.split}/{r.filename}: {r.reason}")
    return "\n".join(lines)
