import keras
import numpy as np
import pandas as pd
import pytest

from painter.siamese import AbsDiff, build_pair_head, build_siamese
from painter.train import METHODS, train


def test_absdiff_layer_values_and_symmetry():
    a = np.array([[1.0, -2.0, 3.0]], np.float32)
    b = np.array([[4.0, 2.0, 3.0]], np.float32)
    assert np.array_equal(AbsDiff()([a, b]).numpy(), [[3.0, 4.0, 0.0]])
    assert np.array_equal(AbsDiff()([b, a]).numpy(), AbsDiff()([a, b]).numpy())


def test_siamese_shapes_and_safe_mode_roundtrip(tmp_path):
    model = build_siamese("efficientnet_lite0", image_size=64, weights=None)
    assert [tuple(i.shape) for i in model.inputs] == [(None, 64, 64, 3)] * 2
    assert model.output_shape == (None, 1)
    head = model.get_layer("pair_head")
    assert [type(l).__name__ for l in head.layers[2:]] == ["AbsDiff", "GlobalMaxPooling2D", "Dropout", "Dense"]
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32) for _ in range(2))
    p = model.predict([a, b], verbose=0)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p, model.predict([b, a], verbose=0), atol=1e-6)
    model.save(tmp_path / "siamese.keras")
    loaded = keras.saving.load_model(tmp_path / "siamese.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict([a, b], verbose=0), p)


def test_pair_head_on_vectors():
    head = build_pair_head((10,))
    assert [type(l).__name__ for l in head.layers[2:]] == ["AbsDiff", "Dropout", "Dense"]


@pytest.fixture(scope="module")
def rich_clean(tmp_path_factory):
    from painter.cleaning import clean_kaggle
    from painter.synthetic import make_synthetic_kaggle
    k = make_synthetic_kaggle(tmp_path_factory.mktemp("k"), n_artists=8, n_test_only=2, paintings_per_artist=20,
                              size=96, seed=5)
    out = tmp_path_factory.mktemp("c")
    clean_kaggle(k, out, size=64, workers=2, progress=False)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_every_method_beats_chance(method, rich_clean, tmp_path):
    model = train(rich_clean, tmp_path / method, method=method, backbone="efficientnet_lite0", image_size=64,
                  epochs=8, val_artists=0.25, progress=False)
    assert model.info["validation"]["seen"]["auc"] > 0.75, model.info["validation"]
    assert model.info["validation"]["all"]["auc"] > 0.6, model.info["validation"]
    assert (tmp_path / method / "config.json").is_file()


def test_early_stopping_restores_best_val_auc(rich_clean, tmp_path):
    out = tmp_path / "bce"
    model = train(rich_clean, out, method="bce", backbone="efficientnet_lite0", image_size=64, epochs=12,
                  progress=False)
    history = pd.read_csv(out / "history.csv")
    best = history["val_auc"].max()
    # the saved head scores the validation pairs as the best epoch did (sklearn vs Keras AUC: close)
    assert abs(model.info["validation"]["all"]["auc"] - best) < 0.03
    cb = __import__("painter.train", fromlist=["_callbacks"])._callbacks(out, 3)[0]
    assert (cb.monitor, cb.mode, cb.restore_best_weights) == ("val_auc", "max", True)


def test_training_resumes_after_interruption(rich_clean, tmp_path):
    out = tmp_path / "resume"
    train(rich_clean, out, method="contrastive", backbone="efficientnet_lite0", image_size=64, epochs=2, progress=False)
    done = len(pd.read_csv(out / "history.csv"))
    train(rich_clean, out, method="contrastive", backbone="efficientnet_lite0", image_size=64, epochs=4, progress=False)
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist()[:done] == list(range(done)) and len(history) > done
