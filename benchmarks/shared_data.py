"""Shared by the benchmark scripts: the real data's location and a clear stop when it is absent."""
import sys
from pathlib import Path

PBN_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbn_dev"
RUNS = Path(__file__).resolve().parents[1] / "runs"   # git-ignored outputs, whatever the working folder


def require_pbn_dev():
    if not (PBN_DEV / "all_data_info.csv").is_file():
        sys.exit(f"benchmark needs the real data at {PBN_DEV} (see README: Data)")
    return PBN_DEV


def clean_pbn_dev(out):
    """Clean pbn_dev into ``out`` once (resumable, seconds when already done)."""
    from painter.data.cleaning import clean_kaggle
    clean_kaggle(require_pbn_dev(), out, size=256, progress=False)
    return Path(out)
