import keras
import numpy as np
import pandas as pd
import pytest

from painter.features import FeatureSpec
from painter.layers import AbsDiff
from painter.same_artist import make_method, method_names
from painter.same_artist.networks import build_pair_head, build_siamese
from painter.same_artist.training import train
from tests.callbacks import Interrupt, Steps

SMALL = FeatureSpec("efficientnet_lite0", 64)


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


@pytest.mark.parametrize("method", [m for m in method_names() if m != "siamese"])   # siamese: test_siamese_fit.py
def test_every_method_beats_chance(method, rich_clean, tmp_path):
    epochs = {} if method == "lda" else {"epochs": 8}
    model = train(rich_clean, tmp_path / method, method=method, spec=SMALL, val_artists=0.25, progress=False, **epochs)
    assert model.info["validation"]["seen"]["auc"] > 0.75, model.info["validation"]
    assert model.info["validation"]["all"]["auc"] > 0.6, model.info["validation"]
    assert (tmp_path / method / "config.json").is_file()


def test_early_stopping_restores_best_val_auc(rich_clean, tmp_path):
    out = tmp_path / "bce"
    model = train(rich_clean, out, method="bce", spec=SMALL, epochs=12, progress=False)
    history = pd.read_csv(out / "history.csv")
    best = history["val_auc"].max()
    # the saved head scores the validation pairs as the best epoch did (sklearn vs Keras AUC: close)
    assert abs(model.info["validation"]["all"]["auc"] - best) < 0.03
    cb = make_method("bce", patience=3).fit_callbacks(None)[0]
    assert (cb.monitor, cb.mode, cb.restore_best_weights, cb.patience) == ("val_auc", "max", True, 3)


def test_training_resumes_after_interruption(rich_clean, tmp_path):
    out = tmp_path / "resume"
    with pytest.raises(KeyboardInterrupt):
        train(rich_clean, out, method="contrastive", spec=SMALL, epochs=4, patience=10, progress=False,
              callbacks=[Interrupt(2)])
    assert (out / "backup").is_dir() and not (out / "config.json").exists()
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    train(rich_clean, out, method="contrastive", spec=SMALL, epochs=4, patience=10, progress=False)
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]          # epochs 2 and 3 added, not 0 to 3 again
    assert not (out / "backup").exists() and (out / "config.json").is_file()


def test_resumed_fit_continues_the_optimizer_state(rich_clean, tmp_path):
    """The optimizer's step counter after an interrupted + resumed fit equals an uninterrupted fit's."""
    steps = {}
    with pytest.raises(KeyboardInterrupt):
        train(rich_clean, tmp_path / "a", method="contrastive", spec=SMALL, epochs=3, patience=10, progress=False,
              callbacks=[Interrupt(1)])
    train(rich_clean, tmp_path / "a", method="contrastive", spec=SMALL, epochs=3, patience=10, progress=False,
          callbacks=[Steps(steps, "resumed")])
    train(rich_clean, tmp_path / "b", method="contrastive", spec=SMALL, epochs=3, patience=10, progress=False,
          callbacks=[Steps(steps, "whole")])
    assert steps["resumed"] == steps["whole"] > 0


def test_a_finished_folder_is_trained_afresh(rich_clean, tmp_path):
    out = tmp_path / "done"
    train(rich_clean, out, method="contrastive", spec=SMALL, epochs=2, patience=10, progress=False)
    train(rich_clean, out, method="contrastive", spec=SMALL, epochs=3, patience=10, progress=False)
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0, 1, 2]   # not resumed from epoch 2


def test_lda_scorer_folds_into_a_dot_product():
    """z_a·z_b of the saved embedder equals alpha cos(e_a, e_b) + beta p_a·p_b, p = softmax(class cosines / T)."""
    from scipy.special import softmax

    from painter.same_artist.calibration import dot_embedder
    from painter.same_artist.lda import choose_scorer
    from painter.same_artist.lda import lda_projection
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(6), 30)
    F = (rng.normal(size=(6, 40))[y] + 0.8 * rng.normal(size=(len(y), 40))).astype(np.float32)
    base = lda_projection(F, y, 6)
    E, C = base.predict(F, verbose=0)
    assert E.shape == (180, 5) and C.shape == (180, 6)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert (C.argmax(1) == y).mean() > 0.9          # nearest class mean recovers the classes
    i, j = rng.integers(0, 180, 400), rng.integers(0, 180, 400)
    kind = np.where(np.arange(400) < 200, "seen", "unseen")
    T, w, table = choose_scorer(E, C, i, j, (y[i] == y[j]).astype(int), kind)
    assert T in (0.05, 0.07, 0.1, 0.14, 0.2) and w in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0) and len(table) == 30
    chosen = next(r["mean"] for r in table if (r["temperature"], r["cos_weight"]) == (T, w))
    assert max(r["mean"] for r in table) == chosen
    z = dot_embedder(base, 2.0, 3.0, temperature=0.1).predict(F, verbose=0)
    P = softmax(C / 0.1, axis=1)
    expected = 2.0 * np.sum(E[i] * E[j], 1) + 3.0 * np.sum(P[i] * P[j], 1)
    np.testing.assert_allclose(np.sum(z[i] * z[j], 1), expected, rtol=1e-4, atol=1e-5)


def test_lda_embedding_is_standardize_pca_lda_in_one_layer():
    """The single folded Dense layer gives scikit-learn's standardize -> PCA whiten -> LDA, unit length."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from painter.same_artist.lda import lda_projection
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(5), 40)
    F = (rng.normal(size=(5, 30))[y] + rng.normal(size=(len(y), 30))).astype(np.float32) * rng.uniform(1, 9, 30)
    E = lda_projection(F, y, 5, pca_dim=12).predict(F, verbose=0)[0]
    S = (F - F.mean(0)) / (F.std(0) + 1e-6)
    W = PCA(12, whiten=True, random_state=0).fit_transform(S)
    expected = LinearDiscriminantAnalysis(n_components=4, solver="eigen").fit(W, y)
    expected = W @ expected.scalings_[:, :4]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(E, expected, atol=2e-5)
    assert lda_projection(F, y, 5, pca_dim=12).get_layer("standardize_pca_lda").kernel.shape == (30, 4)


def test_validation_pairs_are_laid_out_as_the_test_pairs():
    """Seen pairs: two held-out paintings of training artists; unseen pairs: a held-out artist in
    each, and 2s / (2s + u) of the different-artist ones with a training artist's painting."""
    from painter.data.pairs import validation_pairs
    from painter.data.pairs import validation_split
    labels = np.repeat([f"artist{k}" for k in range(20)], 10)
    fit, val_seen, val_unseen = validation_split(labels, seed=0)
    assert len(val_unseen) == 40 and len(val_seen) == 32 and len(fit) == 128
    i, j, same, kind = validation_pairs(labels, val_seen, val_unseen, n=1000, seed=1)
    assert (kind == "seen").sum() == (kind == "unseen").sum() == 1000
    np.testing.assert_array_equal(same, labels[i] == labels[j])
    seen, unseen = kind == "seen", kind == "unseen"
    assert np.isin(i[seen], val_seen).all() and np.isin(j[seen], val_seen).all()
    assert same[seen].sum() == same[unseen].sum() == 500
    assert np.isin(j[unseen], val_unseen).all()
    mixed = unseen & np.isin(i, val_seen)
    assert mixed.sum() == round(500 * 64 / (64 + 40)) == 308 and not same[mixed].any()
    assert np.isin(i[unseen & ~mixed], val_unseen).all()


def test_preferred_artists_are_held_out_first_and_the_plain_draw_kept_when_they_agree():
    """A backbone's own held-out artists as ``prefer`` give the plain draw's split exactly (the
    held-out paintings of the seen artists too); other preferences are held out first."""
    from painter.data.pairs import validation_split
    labels = np.repeat([f"artist{k:02d}" for k in range(20)], 10)
    plain = validation_split(labels, seed=0)
    drawn = sorted(set(labels[plain[2]]))
    for got, want in zip(validation_split(labels, seed=0, prefer=drawn), plain, strict=True):
        np.testing.assert_array_equal(got, want)
    others = sorted(set(labels) - set(drawn))
    _, _, unseen = validation_split(labels, seed=0, prefer=others[:3])
    held = set(labels[unseen])
    assert len(held) == 4 and set(others[:3]) < held and (held - set(others[:3])) < set(drawn)
    _, _, unseen = validation_split(labels, seed=0, prefer=others)   # more than needed: 4 of them
    assert len(set(labels[unseen])) == 4 and set(labels[unseen]) < set(others)


def test_choose_threshold_weighs_pair_kinds_equally():
    from painter.same_artist.calibration import choose_threshold
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
    # a misspelled or foreign hyperparameter is an error, not silently dropped
    with pytest.raises(ValueError, match="method 'lda' has no parameter 'pca_dims'; its parameters: pca_dim, "):
        train(tmp_path, tmp_path / "m", pca_dims=12)
    with pytest.raises(ValueError, match="method 'lda' has no parameter 'epochs'"):
        train(tmp_path, tmp_path / "m", epochs=3)
    with pytest.raises(ValueError, match="method 'bce' has no parameter 'pca_dim'"):
        make_method("bce", pca_dim=3)
    assert not (tmp_path / "m").exists()     # refused before anything is written
