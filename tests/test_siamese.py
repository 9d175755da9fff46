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


def test_lda_scorer_folds_into_a_dot_product():
    """z_a·z_b of the saved embedder equals alpha cos(e_a, e_b) + beta p_a·p_b, p = softmax(class cosines / T)."""
    from scipy.special import softmax

    from painter.train import _choose_scorer, _dot_embedder, _lda
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(6), 30)
    F = (rng.normal(size=(6, 40))[y] + 0.8 * rng.normal(size=(len(y), 40))).astype(np.float32)
    base = _lda(F, y, 6)[0]
    E, C = base.predict(F, verbose=0)
    assert E.shape == (180, 5) and C.shape == (180, 6)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert (C.argmax(1) == y).mean() > 0.9          # nearest class mean recovers the classes
    i, j = rng.integers(0, 180, 400), rng.integers(0, 180, 400)
    kind = np.where(np.arange(400) < 200, "seen", "unseen")
    T, w, table = _choose_scorer(E, C, i, j, (y[i] == y[j]).astype(int), kind)
    assert T in (0.05, 0.07, 0.1, 0.14, 0.2) and w in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0) and len(table) == 30
    assert max(r["mean"] for r in table) == next(r["mean"] for r in table if (r["temperature"], r["cos_weight"]) == (T, w))
    z = _dot_embedder(base, 2.0, 3.0, temperature=0.1).predict(F, verbose=0)
    P = softmax(C / 0.1, axis=1)
    expected = 2.0 * np.sum(E[i] * E[j], 1) + 3.0 * np.sum(P[i] * P[j], 1)
    np.testing.assert_allclose(np.sum(z[i] * z[j], 1), expected, rtol=1e-4, atol=1e-5)


def test_lda_embedding_is_standardize_pca_lda_in_one_layer():
    """The single folded Dense layer gives scikit-learn's standardize -> PCA whiten -> LDA, unit length."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from painter.train import _lda
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(5), 40)
    F = (rng.normal(size=(5, 30))[y] + rng.normal(size=(len(y), 30))).astype(np.float32) * rng.uniform(1, 9, 30)
    E = _lda(F, y, 5, pca_dim=12)[0].predict(F, verbose=0)[0]
    S = (F - F.mean(0)) / (F.std(0) + 1e-6)
    W = PCA(12, whiten=True, random_state=0).fit_transform(S)
    expected = LinearDiscriminantAnalysis(n_components=4, solver="eigen").fit(W, y)
    expected = W @ expected.scalings_[:, :4]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(E, expected, atol=2e-5)
    assert _lda(F, y, 5, pca_dim=12)[0].get_layer("standardize_pca_lda").kernel.shape == (30, 4)


def test_validation_pairs_are_laid_out_as_the_test_pairs():
    """Seen pairs: two held-out paintings of training artists; unseen pairs: a held-out artist in
    each, and 2s / (2s + u) of the different-artist ones with a training artist's painting."""
    from painter.train import _validation_pairs, validation_split
    labels = np.repeat([f"artist{k}" for k in range(20)], 10)
    fit, val_seen, val_unseen = validation_split(labels, seed=0)
    assert len(val_unseen) == 40 and len(val_seen) == 32 and len(fit) == 128
    i, j, same, kind = _validation_pairs(labels, val_seen, val_unseen, n=1000, seed=1)
    assert (kind == "seen").sum() == (kind == "unseen").sum() == 1000
    np.testing.assert_array_equal(same, labels[i] == labels[j])
    seen, unseen = kind == "seen", kind == "unseen"
    assert np.isin(i[seen], val_seen).all() and np.isin(j[seen], val_seen).all()
    assert same[seen].sum() == same[unseen].sum() == 500
    assert np.isin(j[unseen], val_unseen).all()
    mixed = unseen & np.isin(i, val_seen)
    assert mixed.sum() == round(500 * 64 / (64 + 40)) == 308 and not same[mixed].any()
    assert np.isin(i[unseen & ~mixed], val_unseen).all()


def test_choose_threshold_weighs_pair_kinds_equally():
    from painter.evaluate import choose_threshold
    same = np.array([1, 0, 0, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.1, 0.15, 0.35, 0.3])
    kind = np.array(["seen"] * 4 + ["unseen"] * 2)
    # seen pairs split anywhere in (0.2, 0.9]; unseen need 0.3 < t <= 0.35: the first such grid point is 0.31
    assert choose_threshold(same, p, kind) == 0.31
    assert choose_threshold(same, p) == 0.31


def test_train_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="method must be one of"):
        train(tmp_path, tmp_path / "m", method="svm")
    with pytest.raises(ValueError, match="pca_dim must be >= 1, got 0"):
        train(tmp_path, tmp_path / "m", pca_dim=0)
