import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from painter.data.images import ImageError
from painter.features import FeatureSpec
from painter.same_artist.predict import PACKAGED_MODEL, default_model_dir, load_pair_model, predict_pair, predict_pairs
from painter.same_artist.submit import score_submission, submit
from painter.same_artist.training import train

SMALL = FeatureSpec("efficientnet_lite0", 64)


def _test_images(clean_dir, n=4):
    return sorted((clean_dir / "test").glob("*.jpg"))[:n]


def test_predict_pair_symmetric_probability(lda_model_dir, clean_dir):
    a, b, c, _ = _test_images(clean_dir)
    p = predict_pair(a, b, model=lda_model_dir)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(predict_pair(b, a, model=lda_model_dir), abs=1e-6)
    many = predict_pairs([(a, b), (b, c), (a, a)], model=lda_model_dir)
    assert many.shape == (3,) and many[0] == pytest.approx(p, abs=1e-6)


def test_predict_pair_bad_files(lda_model_dir, clean_dir, tmp_path):
    a = _test_images(clean_dir)[0]
    with pytest.raises(ImageError, match=r"nope\.jpg: file not found"):
        predict_pair(a, tmp_path / "nope.jpg", model=lda_model_dir)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(a.read_bytes()[:300])
    with pytest.raises(ImageError, match=r"broken\.jpg: truncated"):
        predict_pair(broken, a, model=lda_model_dir)


def test_submit_order_rows_equality_and_missing(lda_model_dir, clean_dir, kaggle_dir, tmp_path):
    info = pd.read_csv(kaggle_dir / "submission_info.csv")
    rng = np.random.default_rng(0)
    info = info.iloc[rng.permutation(len(info))].reset_index(drop=True)  # indices out of order on purpose
    lost = info.loc[0, "image1"]
    info_path = tmp_path / "submission_info.csv"
    info.to_csv(info_path, index=False)
    data = tmp_path / "data"
    shutil.copytree(clean_dir, data)
    (data / "test" / lost).unlink()
    summary = submit(lda_model_dir, data, info_path, tmp_path / "sub.csv", chunk_size=7, progress=False, context=False)
    sub = pd.read_csv(tmp_path / "sub.csv")
    assert list(sub.columns) == ["index", "sameArtist"]
    assert sub["index"].tolist() == info["index"].tolist()
    assert list(summary["unusable_images"]) == [lost]
    has_lost = (info.image1 == lost) | (info.image2 == lost)
    assert summary["neutral_pairs"] == has_lost.sum() and np.all(sub.sameArtist[has_lost] == 0.5)
    for k in np.flatnonzero(~has_lost)[:5]:
        direct = predict_pair(data / "test" / info.image1[k], data / "test" / info.image2[k], model=lda_model_dir)
        assert sub.sameArtist[k] == pytest.approx(direct, abs=2e-6)


def test_score_known_auc(tmp_path):
    pd.DataFrame({"index": [0, 1, 2, 3, 4, 5], "sameArtist": [1, 0, 1, 0, 1, 0],
                  "pairKind": ["seen", "seen", "seen", "unseen", "unseen", "unseen"]}
                 ).to_csv(tmp_path / "sol.csv", index=False)
    pd.DataFrame({"index": [5, 4, 3, 2, 1, 0], "sameArtist": [0.2, 0.9, 0.4, 0.3, 0.6, 0.8]}
                 ).to_csv(tmp_path / "sub.csv", index=False)
    auc = score_submission(tmp_path / "sub.csv", tmp_path / "sol.csv")
    # all: positives (0.8, 0.3, 0.9) vs negatives (0.6, 0.4, 0.2): 7 of 9 orderings right
    assert auc == pytest.approx({"all": 7 / 9, "seen": 0.5, "unseen": 1.0})


def test_score_mismatched_indices_exit_nonzero(tmp_path):
    pd.DataFrame({"index": [0, 1], "sameArtist": [1, 0]}).to_csv(tmp_path / "sol.csv", index=False)
    pd.DataFrame({"index": [0, 2], "sameArtist": [0.3, 0.1]}).to_csv(tmp_path / "sub.csv", index=False)
    with pytest.raises(ValueError, match="different indices"):
        score_submission(tmp_path / "sub.csv", tmp_path / "sol.csv")
    r = subprocess.run([sys.executable, "-m", "painter", "score", str(tmp_path / "sub.csv"), str(tmp_path / "sol.csv")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "different indices" in r.stderr


def test_packaged_default_model_works_offline(clean_dir):
    from painter.features import DEFAULT_FEATURES
    model = load_pair_model(PACKAGED_MODEL)
    # a user's default model builds on it only if it reads the same features
    assert model.method == "lda" and model.scorer == "dot" and model.spec == DEFAULT_FEATURES
    # the packaged model's answers on fixed synthetic paintings, to 3 decimals (any runtime): two
    # paintings of one artist, and one of them with a painting of another artist
    info = pd.read_csv(clean_dir / "all_data_info.csv")
    on_disk = info[info["in_train"] & np.array([(clean_dir / "train" / f).is_file() for f in info["new_filename"]])]
    files = {a: [clean_dir / "train" / f for f in group] for a, group in on_disk.groupby("artist")["new_filename"]}
    same = predict_pair(files["Artist 00"][0], files["Artist 00"][1], model=PACKAGED_MODEL)
    different = predict_pair(files["Artist 00"][0], files["Artist 03"][0], model=PACKAGED_MODEL)
    assert same == pytest.approx(0.999, abs=1e-3) and different == pytest.approx(0.548, abs=1e-3)
    assert same > model.threshold and same > different


def test_the_default_model_is_the_packaged_one_unless_painter_model_names_another(lda_model_dir, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.delenv("PAINTER_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(lda_model_dir, tmp_path / "models_1" / "m")   # a trained model here changes nothing
    assert default_model_dir() == PACKAGED_MODEL
    monkeypatch.setenv("PAINTER_MODEL", str(lda_model_dir))
    assert default_model_dir() == lda_model_dir and load_pair_model().directory == lda_model_dir


def test_cli_predict_pair(lda_model_dir, clean_dir):
    a, b = _test_images(clean_dir, 2)
    r = subprocess.run([sys.executable, "-m", "painter", "predict-pair", str(a), str(b), "--model", str(lda_model_dir)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    model = load_pair_model(lda_model_dir)
    p = predict_pair(a, b, model=lda_model_dir)
    decision = "same artist" if p >= model.threshold else "different artists"
    assert r.stdout.strip() == f"P(same artist) = {p:.2f}; threshold {model.threshold:.2f} -> {decision}"


def test_retraining_into_the_same_folder_changes_the_answer(clean_dir, tmp_path):
    """Loaded models are kept by folder *and content*: a retrained folder is loaded again."""
    a, b = _test_images(clean_dir, 2)
    out = tmp_path / "m"
    train(clean_dir, out, spec=SMALL, pca_dim=8, progress=False)
    first = predict_pair(a, b, model=out)
    assert predict_pair(a, b, model=out) == first                  # same folder, same files: same model
    train(clean_dir, out, spec=SMALL, pca_dim=3, val_artists=0.5, progress=False)
    second = predict_pair(a, b, model=out)
    assert second != pytest.approx(first, abs=1e-6)
    assert second == pytest.approx(float(predict_pairs([(a, b)], model=load_pair_model(str(out)))[0]), abs=1e-7)
