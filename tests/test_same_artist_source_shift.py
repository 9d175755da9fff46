"""The sources a model learned: questions without context answered as each painting's source needs."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from painter.features import DEFAULT_FEATURES, FeatureSpec
from painter.layers import SourcePrior, SourceProbability, SourceShift
from painter.same_artist.calibration import dot_embedder
from painter.same_artist.context import adapt
from painter.same_artist.lda import lda_projection
from painter.same_artist.model import PairModel
from painter.same_artist.source_shift import (SOURCE_PRIOR, SOURCE_SHIFT, artist_sources, fit_source_shift,
                                              with_source_shift)

D = 24


def _paintings(rng, n_artists, per_artist, offset=0.0):
    y = np.repeat(np.arange(n_artists), per_artist)
    centres = rng.normal(0, 0.5, (n_artists, D))
    return (centres[y] + rng.normal(0, 1, (len(y), D)) + offset).astype(np.float32), y


@pytest.fixture(scope="module")
def toy():
    """A dot model fitted on 60 artists of the user's source and 40 of another (offset by 3 per
    dimension), the model with its source shift, and new artists of each source."""
    rng = np.random.default_rng(0)
    offset = np.random.default_rng(1).normal(0, 3, D).astype(np.float32)
    home, y_home = _paintings(rng, 60, 15)
    other, y_other = _paintings(rng, 40, 4, offset)
    F, y = np.vstack([home, other]), np.r_[y_home, 60 + y_other]
    model = PairModel(DEFAULT_FEATURES, dot_embedder(lda_projection(F, y, 100, pca_dim=20), 2.0, 4.0, 0.2), "dot",
                      bias=-2.0, threshold=0.3, method="lda")
    sources = np.r_[np.zeros(len(home), int), np.ones(len(other), int)]
    shifted = with_source_shift(model, [home, other], sources, y, ["home", "museum"])
    new_home, g_home = _paintings(rng, 40, 4)
    new_other, g_other = _paintings(rng, 40, 4, offset)
    return model, shifted, (new_home, g_home), (new_other, g_other), ([home, other], sources, y)


def _scores(model, G, g):
    z = model.embed_features(G)
    i, j = np.triu_indices(len(G), 1)
    return g[i] == g[j], model.score_pairs(z, i, j)


def test_the_layers_move_each_row_by_its_sources_share_of_the_offsets_and_weigh_its_profile():
    probability = SourceProbability(2)
    probability.build((None, 2))
    W = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)   # P(source 1) = sigmoid(x_0 - 1)
    probability.set_weights([W, np.array([0.0, -1.0], np.float32)])
    x = np.array([[1.0, 0.0], [3.0, 1.0]], np.float32)
    p = np.asarray(probability(x))
    np.testing.assert_allclose(p[:, 1], [0.5, 1 / (1 + np.exp(-2))], rtol=1e-6)
    shift = SourceShift()
    shift.build([(None, 2), (None, 2)])
    shift.set_weights([np.array([[0, 0], [2, 4]], np.float32)])
    np.testing.assert_allclose(np.asarray(shift([x, p])), x - p[:, 1:] * [2, 4], rtol=1e-6)
    prior = SourcePrior()
    prior.build([(None, 3), (None, 2)])
    # class 0: the user's own source (every source); class 1: source 1 only; class 2: source 0 only
    A = np.array([[1, 0, 1], [1, 1, 0]], np.float32)
    c = np.zeros((2, 3), np.float32)
    prior.set_weights([A, np.float32(0.1), np.float32(0.0)])
    np.testing.assert_array_equal(np.asarray(prior([c, p])), c)   # off
    prior.set_weights([A, np.float32(0.1), np.float32(1.0)])
    np.testing.assert_allclose(np.asarray(prior([c, p])), -0.1 * np.stack([0 * p[:, 0], p[:, 0], p[:, 1]], 1),
                               rtol=1e-6, atol=1e-7)
    assert SourceProbability.from_config(probability.get_config()).n_sources == 2


def test_artist_sources_give_the_users_artists_every_source():
    artists = np.array(["b", "a", "c", "a", "c"])
    sources = np.array([0, 1, 1, 0, 2])
    np.testing.assert_array_equal(artist_sources(artists, sources, 3),
                                  [[1, 1, 0], [1, 1, 1], [1, 1, 1]])   # a and b: the user's; c: sources 1 and 2


def test_fit_source_shift_gives_the_users_source_no_offset_and_the_other_its_mean():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (200, 3)), rng.normal(0, 1, (50, 3)) + [6, 0, 0]])
    sources = np.r_[np.zeros(200, int), np.ones(50, int)]
    W, b, M = fit_source_shift(X, sources, strength=0.5)
    assert W.shape == (3, 2) and b.shape == (2,) and M.shape == (2, 3)
    assert not W[:, 0].any() and b[0] == 0 and not M[0].any()
    np.testing.assert_allclose(M[1], 0.5 * X[200:].mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="every source from 0 to 2 needs paintings"):
        fit_source_shift(X, np.where(sources == 1, 2, 0))


def test_without_context_the_other_sources_paintings_are_answered_as_their_source_needs(toy):
    model, shifted, (home, g_home), (other, g_other), _ = toy
    same, before = _scores(model, other, g_other)
    _, after = _scores(shifted, other, g_other)
    assert roc_auc_score(same, after) > roc_auc_score(same, before) + 0.02
    # the offset made every pair of the other source look alike; the shift takes most of that back
    assert (after[~same] >= model.threshold).mean() < (before[~same] >= model.threshold).mean() - 0.2
    _, home_before = _scores(model, home, g_home)
    _, home_after = _scores(shifted, home, g_home)
    assert np.abs(home_after - home_before).max() < 0.02   # the user's own source stays where it was
    assert shifted.info["source_shift"] == {"sources": ["home", "museum"], "strength": SOURCE_SHIFT,
                                            "prior": SOURCE_PRIOR, "paintings": [900, 160]}


def _museum_share(model, X):
    """The mean share of the 40 museum artists (classes 60-99) in the profiles of ``X``, groups
    left out (the profile's artists only)."""
    inner = next(layer for layer in model.embedder.layers if layer.name.startswith("lda_embedding"))
    if inner.name != "lda_embedding":   # the adapted model's groups around it
        inner = inner.get_layer("lda_embedding")
    c = np.asarray(inner(X)[1]) / 0.2
    p = np.exp(c - c.max(1, keepdims=True))
    return (p[:, 60:].sum(1) / p.sum(1)).mean()


def test_context_replaces_the_source_shift_and_keeps_the_prior_of_each_paintings_own_source(toy):
    model, shifted, (home, _), (other, _), (features, sources, y) = toy
    no_prior = with_source_shift(model, features, sources, y, ["home", "museum"], prior=0.0)
    a, b = adapt(no_prior, other), adapt(shifted, other)
    assert b.info["context"]["groups"] == [5]
    np.testing.assert_allclose(b.embed_features(other), a.embed_features(other), atol=2e-3)   # seen as photographs
    assert shifted.embed_features(other[:1]) != pytest.approx(b.embed_features(other[:1]), abs=1e-3)
    a, b = adapt(no_prior, home), adapt(shifted, home)
    assert np.abs(b.embed_features(home) - a.embed_features(home)).max() > 0.01   # the museum artists less likely


def test_with_context_and_groups_the_prior_makes_artists_of_another_source_less_likely(toy):
    model, shifted, (home, _), (other, _), (features, sources, y) = toy
    no_prior = with_source_shift(model, features, sources, y, ["home", "museum"], prior=0.0)
    # without context the prior is off; with it, a painting of the user's source leaves the museum artists
    assert _museum_share(shifted, home) == _museum_share(no_prior, home)
    with_context = [adapt(m, home) for m in (no_prior, shifted)]
    assert _museum_share(with_context[1], home) < _museum_share(with_context[0], home) / 3
    with_context = [adapt(m, other) for m in (no_prior, shifted)]
    assert _museum_share(with_context[1], other) == pytest.approx(_museum_share(with_context[0], other), rel=0.1)
    # without the collection's groups (attribute, submit --no-groups, a small collection) it stays off
    assert _museum_share(adapt(shifted, home, groups=False), home) == _museum_share(adapt(no_prior, home, groups=False),
                                                                                  home)
    assert _museum_share(adapt(shifted, home[:40]), home) == _museum_share(adapt(no_prior, home[:40]), home)


def test_a_shift_fitted_again_replaces_the_first_and_other_models_are_refused(toy):
    model, shifted, _, (other, _), (features, sources, y) = toy
    again = with_source_shift(shifted, features, sources, y, ["home", "museum"], strength=0.0, prior=0.0)
    np.testing.assert_allclose(again.embed_features(other), model.embed_features(other), atol=1e-5)
    adapted = adapt(model, other)
    with pytest.raises(ValueError, match="needs an lda model's own Keras embedder"):
        with_source_shift(adapted, features, sources, y, ["home", "museum"])
    with pytest.raises(ValueError, match="99 artists among the paintings, but the model's profile has 100"):
        with_source_shift(model, features, sources, np.minimum(y, 98), ["home", "museum"])


def test_a_model_with_its_sources_saves_and_loads(toy, tmp_path):
    _, shifted, _, (other, _), _ = toy
    shifted.save(tmp_path / "m")
    loaded = PairModel.load(tmp_path / "m", exported=False)
    np.testing.assert_allclose(loaded.embed_features(other), shifted.embed_features(other), atol=1e-6)
    home = toy[2][0]
    np.testing.assert_allclose(adapt(loaded, home).embed_features(home), adapt(shifted, home).embed_features(home),
                               atol=1e-6)   # the prior's sources and strength, used with context


def test_train_learns_its_other_sources(clean_dir, tmp_path):
    from tests.conftest import noise_paintings
    from painter.errors import InputError
    from painter.same_artist.training import train
    for k in range(3):
        (tmp_path / "photos" / f"photographer_{k}").mkdir(parents=True)
        noise_paintings(tmp_path / "photos" / f"photographer_{k}", 4, seed=k)
    spec = FeatureSpec("efficientnet_lite0", 64)
    model = train(clean_dir, tmp_path / "m", spec=spec, base="none", other_sources=[tmp_path / "photos"],
                  progress=False)
    assert model.info["source_shift"]["paintings"] == [model.info["n_images"] - 12, 12]
    assert PairModel.load(tmp_path / "m").info["source_shift"]["sources"] == [str(clean_dir), str(tmp_path / "photos")]
    with pytest.raises(InputError, match="nowhere"):
        train(clean_dir, tmp_path / "m2", spec=spec, base="none", other_sources=[tmp_path / "nowhere"], progress=False)
    with pytest.raises(InputError, match="photos: no usable training painting of its own in this other source"):
        train(clean_dir, tmp_path / "m3", spec=spec, base="none", also=[tmp_path / "photos"],
              other_sources=[tmp_path / "photos"], progress=False)
