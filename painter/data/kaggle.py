"""The one reader of Kaggle's label files: ``all_data_info.csv`` and ``train_info.csv``."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["read_kaggle_csv"]


def read_kaggle_csv(csv_path, required=()) -> pd.DataFrame:
    """Read ``all_data_info.csv`` or ``train_info.csv`` as strings, the file name in ``filename``.

    ``required``: columns that must be present (after the rename), e.g. ``("in_train",)``.
    Raises ``FileNotFoundError`` / ``ValueError`` naming the file and what is wrong with it.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: file not found")
    try:
        df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{csv_path}: not a readable CSV ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if "new_filename" in df.columns:        # all_data_info.csv
        df = df.rename(columns={"new_filename": "filename"})
    if "filename" not in df.columns:
        raise ValueError(f"{csv_path}: no 'new_filename' or 'filename' column (columns: {', '.join(df.columns)}); "
                         "needs columns 'new_filename' and 'in_train' (Kaggle's all_data_info.csv) or 'filename' "
                         "(train_info.csv)")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{csv_path}: missing columns {missing} (has: {', '.join(df.columns)}); "
                         "expected Kaggle's all_data_info.csv or train_info.csv")
    return df
