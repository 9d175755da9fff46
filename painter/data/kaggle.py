"""The one reader of Kaggle's CSV files and of those laid out like them: the label files
(``all_data_info.csv``, ``train_info.csv``), the pairs to score (``submission_info.csv``:
``index,image1,image2``), and submissions and solutions (``index,sameArtist``).

Every problem with one is an ``InputError`` naming the file (and the line, for a bad value):
missing, a folder, empty, binary or not UTF-8, malformed, cut short, without the expected
columns, a value of the wrong type, an index given twice.
"""
from __future__ import annotations

import codecs
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, MissingInputError, first_line

__all__ = ["read_kaggle_csv", "read_pairs", "read_scores", "PAIRS_CSV", "SCORES_CSV"]

LABELS_CSV = ("Kaggle's all_data_info.csv (columns new_filename, in_train, artist...) "
              "or train_info.csv (columns filename, artist...)")
PAIRS_CSV = "a CSV with columns index,image1,image2 (Kaggle's submission_info.csv)"
SCORES_CSV = "a CSV with columns index,sameArtist"

# what a binary file given as a CSV most likely is, by its first bytes
_MAGIC = {b"\xff\xd8\xff": "a JPEG image", b"\x89PNG": "a PNG image", b"PK\x03\x04": "a zip archive"}
_EXPECTED = {"integer": "an integer", "number": "a number", "label": "0 or 1", "text": "a file name",
             "flag": "True or False"}


def _check_text(path: Path, expected: str):
    """``path`` is an existing, non-empty UTF-8 text file whose last line is not cut short."""
    if not path.exists():
        raise MissingInputError(f"{path}: file not found; expected {expected}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected {expected}")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty; expected {expected}")
    with open(path, "rb") as f:
        head = f.read(1 << 13)
        f.seek(max(0, size - (1 << 16)))
        tail = f.read()
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), None)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)   # not final: a character may straddle the end
        binary = b"\0" in head
    except UnicodeDecodeError:
        binary = True
    if kind or binary:
        raise InputError(f"{path}: not a text CSV ({kind or 'binary, or text not in UTF-8'}); expected {expected}")
    if not tail.endswith(b"\n"):   # a complete CSV ends with a newline, or at least a whole row
        header = next(csv.reader([head.decode(errors="replace").splitlines()[0]]))
        last = next(csv.reader([tail.decode(errors="replace").splitlines()[-1]]))
        if len(last) < len(header):
            raise InputError(f"{path}: its last line is cut short ({len(last)} of {len(header)} fields): a truncated "
                             f"file; expected {expected}")


def _read(path, expected: str, columns, chunksize=None, **read_csv):
    """Yield the chunks of a CSV (one when ``chunksize`` is None) read by ``pd.read_csv`` after
    ``_check_text``; each holds ``columns`` and the first holds a row at least."""
    path = Path(path)
    _check_text(path, expected)
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark that would join the first column's name
        reader = pd.read_csv(path, chunksize=chunksize, encoding="utf-8-sig", **read_csv)
        for k, chunk in enumerate([reader] if chunksize is None else reader):
            _require(path, chunk, columns, expected)
            if k == 0 and chunk.empty:
                raise InputError(f"{path}: has a header but no rows; expected {expected}")
            yield chunk
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputError(f"{path}: not a readable CSV ({first_line(e)}); expected {expected}") from None


def _require(path, df: pd.DataFrame, columns, expected: str):
    """``InputError`` naming the ``columns`` that ``df`` (read from ``path``) lacks, if any."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)} (has {', '.join(map(str, df.columns))}); "
                         f"expected {expected}")


def _column(path, chunk: pd.DataFrame, column: str, kind: str, offset: int = 0) -> pd.Series:
    """``chunk[column]`` as ``kind`` (a key of ``_EXPECTED``): int64, float64 or the strings,
    or ``InputError`` at its first bad value (``offset``: rows in the file before ``chunk``)."""
    raw = chunk[column]
    if kind == "text":
        values, bad = raw, raw.isna() | (raw == "")
    elif kind == "flag":
        values, bad = raw, ~raw.astype(str).str.lower().isin(["true", "false"])
    else:
        values = pd.to_numeric(raw, errors="coerce")
        bad = ~np.isfinite(values)          # also NaN: not a number, or an empty cell
        if kind == "integer":
            bad |= values != np.round(values)
        elif kind == "label":
            bad |= ~values.isin([0, 1])
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        value = raw.iloc[k]
        shown = "(empty)" if pd.isna(value) or value == "" else repr(value) if isinstance(value, str) else str(value)
        raise InputError(f"{path}: line {offset + k + 2}: {column} {shown} is not {_EXPECTED[kind]}")
    return values.astype(np.int64) if kind == "integer" else values


def _check_unique(path, index: np.ndarray):
    index = np.sort(index)
    repeated = index[1:][index[1:] == index[:-1]]
    if len(repeated):
        more = len(np.unique(repeated)) - 1
        raise InputError(f"{path}: index {repeated[0]} is given more than once"
                         + (f" (and {more} more)" if more else "") + "; each pair needs its own index")


def read_kaggle_csv(csv_path, required=()) -> pd.DataFrame:
    """Read ``all_data_info.csv`` or ``train_info.csv`` as strings, the file name in ``filename``.

    ``required``: columns that must be present (after the rename), e.g. ``("in_train",)``.
    Raises ``InputError`` naming the file and what is wrong with it (``MissingInputError``, a
    ``FileNotFoundError`` too, when it does not exist).
    """
    [df] = _read(csv_path, LABELS_CSV, (), dtype=str, keep_default_na=False)
    name = "new_filename" if "new_filename" in df.columns else "filename"    # all_data_info.csv, train_info.csv
    if name not in df.columns:
        raise InputError(f"{csv_path}: no 'new_filename' or 'filename' column (columns: {', '.join(df.columns)}); "
                         "needs columns 'new_filename' and 'in_train' (Kaggle's all_data_info.csv) or 'filename' "
                         "(train_info.csv)")
    _require(csv_path, df, required, LABELS_CSV)     # after the file-name column: its message says more
    _column(csv_path, df, name, "text")
    if "in_train" in df.columns:
        _column(csv_path, df, "in_train", "flag")
    return df.rename(columns={"new_filename": "filename"})


def read_pairs(path, chunk_size=None, check=True):
    """Yield the rows of a ``submission_info.csv`` in chunks of ``chunk_size`` (all at once when
    None): ``index`` (int64), ``image1``, ``image2`` (file names). ``check=False`` reads a file
    already checked (by a first pass) without checking its values again."""
    offset, indices = 0, []
    for chunk in _read(path, PAIRS_CSV, ("index", "image1", "image2"), chunk_size,
                       dtype={"image1": str, "image2": str}):
        if check:
            chunk = chunk.assign(index=_column(path, chunk, "index", "integer", offset))
            for column in ("image1", "image2"):
                _column(path, chunk, column, "text", offset)
            offset += len(chunk)
            indices.append(chunk["index"].to_numpy())
        yield chunk
    if check:    # 8 bytes a pair, for as long as the sort takes
        _check_unique(path, np.concatenate(indices))


def read_scores(path, labels=False) -> pd.DataFrame:
    """A submission, or with ``labels`` a solution (``sameArtist`` 0 or 1): ``index`` (int64, each
    once), ``sameArtist`` (float64) and any other columns (``pairKind``)."""
    [df] = _read(path, SCORES_CSV, ("index", "sameArtist"))
    df = df.assign(index=_column(path, df, "index", "integer"),
                   sameArtist=_column(path, df, "sameArtist", "label" if labels else "number"))
    _check_unique(path, df["index"].to_numpy())
    return df
