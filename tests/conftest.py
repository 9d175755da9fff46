"""Shared fixtures: a synthetic Kaggle bundle, its cleaned folder, and the real data's location."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PBN_DEV = SHARED / "pbn_dev"
PBN_REAL = SHARED / "pbn_real_metadata"
needs_pbn_dev = pytest.mark.skipif(not PBN_DEV.is_dir(), reason="../shared/data/pbn_dev not present")
needs_pbn_real = pytest.mark.skipif(not PBN_REAL.is_dir(), reason="../shared/data/pbn_real_metadata not present")


def noise_paintings(folder, n, seed=0, bad=()) -> list:
    """Paths of ``n`` small random-noise JPEGs (40 x 48 px) in ``folder``; those numbered in ``bad``
    hold bytes that are not an image."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(n):
        p = Path(folder) / f"img{k}.jpg"
        if k in bad:
            p.write_bytes(b"not a jpeg")
        else:
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    # Converted weights are reused across runs (conversion takes seconds); features are per test run.
    yield Path(os.environ.setdefault("PAINTER_CACHE", str(Path.home() / ".cache" / "painter")))
    # a one-shot command run by a test may have left an export to a background process
    from painter.runtime import wait_for_exports
    wait_for_exports(timeout=600)


@pytest.fixture(scope="session")
def kaggle_dir(tmp_path_factory):
    from painter.data.synthetic import make_synthetic_kaggle
    return make_synthetic_kaggle(tmp_path_factory.mktemp("kaggle"), n_artists=6, n_test_only=2,
                                 paintings_per_artist=10, size=96, seed=1)


@pytest.fixture(scope="session")
def clean_dir(kaggle_dir, tmp_path_factory):
    from painter.data.cleaning import clean_kaggle
    out = tmp_path_factory.mktemp("clean")
    clean_kaggle(kaggle_dir, out, size=64, workers=2, progress=False)
    return out


@pytest.fixture(scope="session")
def rich_clean(tmp_path_factory):
    """Eight artists of twenty 64 px paintings: enough for the same-artist methods to learn."""
    from painter.data.cleaning import clean_kaggle
    from painter.data.synthetic import make_synthetic_kaggle
    k = make_synthetic_kaggle(tmp_path_factory.mktemp("k"), n_artists=8, n_test_only=2, paintings_per_artist=20,
                              size=96, seed=5)
    out = tmp_path_factory.mktemp("c")
    clean_kaggle(k, out, size=64, workers=2, progress=False)
    return out


@pytest.fixture(scope="session")
def lda_model_dir(clean_dir, _cache, tmp_path_factory):
    """The tiny same-artist model several modules use (``lda`` on 64 px Lite0 features of
    ``clean_dir``), trained once. Always in the test run's cache: training exports in-process, and
    test_runtime's tests start from caches of their own that must not hold those exports."""
    from painter.features import FeatureSpec
    from painter.same_artist.training import train
    out = tmp_path_factory.mktemp("lda_model")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAINTER_CACHE", str(_cache))
        train(clean_dir, out, method="lda", spec=FeatureSpec("efficientnet_lite0", 64), progress=False)
    return out


@pytest.fixture(scope="module")
def paintings(clean_dir):
    """DataFrame file, artist, part (train/test) of the synthetic paintings on disk."""
    info = pd.read_csv(clean_dir / "all_data_info.csv")
    info["part"] = np.where(info["in_train"], "train", "test")
    info["file"] = [clean_dir / p / f for p, f in zip(info["part"], info["new_filename"])]
    return info[[f.is_file() for f in info["file"]]].reset_index(drop=True)
