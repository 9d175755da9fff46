"""The collection as context: a shifted collection is brought back, an in-domain one stays as it was."""
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from painter.features import DEFAULT_FEATURES
from painter.same_artist.calibration import dot_embedder
from painter.same_artist.collection_groups import DRAWS, group_means, with_groups
from painter.same_artist.context import CollectionContext, adapt, projection_shifts
from painter.same_artist.lda import lda_projection
from painter.same_artist.model import PairModel
from painter.same_artist.predict import load_pair_model, predict_pairs
from painter.same_artist.submit import submit

D, ARTISTS = 24, 60


def _paintings(rng, centres, per_artist):
    """Features of ``per_artist`` paintings by each artist: its centre plus noise."""
    y = np.repeat(np.arange(len(centres)), per_artist)
    return (centres[y] + rng.normal(0, 1, (len(y), D))).astype(np.float32), y


@pytest.fixture(scope="module")
def toy():
    """A dot model (lda projection + profiles) on Gaussian artists, and artists it never saw."""
    rng = np.random.default_rng(0)
    F, y = _paintings(rng, rng.normal(0, 0.5, (ARTISTS, D)), 15)
    model = PairModel(DEFAULT_FEATURES, dot_embedder(lda_projection(F, y, ARTISTS, pca_dim=20), 2.0, 4.0, 0.2), "dot",
                      bias=-2.0, threshold=0.3, method="lda")
    G, g = _paintings(rng, rng.normal(0, 0.5, (60, D)), 4)   # unseen artists, same source
    return model, G, g


def _auc(model, G, g):
    z = model.embed_features(G)
    i, j = np.triu_indices(len(G), 1)
    return roc_auc_score(g[i] == g[j], model.score_pairs(z, i, j)), model.score_pairs(z, i, j)


def test_an_in_domain_collection_is_left_as_it_was(toy):
    model, G, g = toy
    (shift,) = projection_shifts(model, G)
    assert shift["distance"] < 1.0       # near the training paintings' mean (0): 60 artists' content averages out
    auc_before, before = _auc(model, G, g)
    auc_after, after = _auc(adapt(model, G), G, g)
    assert abs(auc_after - auc_before) < 0.005 and np.abs(after - before).max() < 0.05


def test_a_shifted_collection_is_brought_back(toy):
    model, G, g = toy
    offset = np.random.default_rng(1).normal(0, 4, D).astype(np.float32)   # another camera, another varnish
    auc_home, p_home = _auc(model, G, g)
    auc_away, p_away = _auc(model, G + offset, g)
    adapted = adapt(model, G + offset)
    auc_back, p_back = _auc(adapted, G + offset, g)
    (shift,) = adapted.info["context"]["shift"]
    assert shift["shrink"] > 0.95 and adapted.info["context"]["paintings"] == len(G)
    assert auc_away < auc_home - 0.03                 # the shift hurts the ranking ...
    assert auc_back > auc_home - 0.02                 # ... and the context repairs it
    calls = lambda p: (p >= model.threshold).mean()  # noqa: E731
    assert abs(calls(p_back) - calls(p_home)) < abs(calls(p_away) - calls(p_home))
    assert model.info.get("context") is None          # the model given is untouched


def test_context_from_a_folder_a_list_file_and_bad_sources(clean_dir, tmp_path):
    images = sorted((clean_dir / "test").glob("*.jpg"))
    folder = CollectionContext.read(clean_dir / "test")
    assert folder.paintings == [str(p) for p in images]
    listing = tmp_path / "context.txt"
    folder.save(listing)
    assert CollectionContext.read(listing).paintings == [str(p.resolve()) for p in images]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: no images found in this context folder"):
        CollectionContext.read(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"nothing: no such context folder or file"):
        CollectionContext.read(tmp_path / "nothing")
    with pytest.raises(ValueError, match=r"\.jpg: an image, not a context"):
        CollectionContext.read(images[0])


def test_a_context_is_kept_until_its_folder_changes(clean_dir, tmp_path):
    import os
    import shutil
    images = sorted((clean_dir / "test").glob("*.jpg"))
    folder = tmp_path / "collection"
    folder.mkdir()
    for image in images[:12]:
        shutil.copy(image, folder)
    first = CollectionContext.cached(folder)
    assert CollectionContext.cached(str(folder)) is first and CollectionContext.cached(first) is first
    shutil.copy(images[12], folder)                   # a painting added
    added = CollectionContext.cached(folder)
    assert added is not first and len(added) == len(first) + 1
    assert CollectionContext.cached(folder) is added
    changed = folder / images[0].name                 # a painting rewritten (another size and time)
    changed.write_bytes(images[1].read_bytes())
    os.utime(changed, ns=(1, 1))
    rewritten = CollectionContext.cached(folder)
    assert rewritten is not added and rewritten.paintings == added.paintings
    changed.unlink()                                  # a painting removed
    assert len(CollectionContext.cached(folder)) == len(added) - 1
    listed = CollectionContext(sorted(map(str, folder.glob("*.jpg"))))
    assert CollectionContext.cached(list(reversed(listed.paintings))) is CollectionContext.cached(listed.paintings)


def test_unreadable_context_paintings_are_named(lda_model_dir, clean_dir, tmp_path):
    images = sorted((clean_dir / "test").glob("*.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(images[0].read_bytes()[:300])
    context = CollectionContext([*images, broken])
    with pytest.warns(UserWarning, match=r"1 of \d+ paintings could not be read .*broken\.jpg: truncated"):
        F = context.features(load_pair_model(lda_model_dir).spec)
    assert len(F) == len(images)
    with pytest.warns(UserWarning, match="broken.jpg"):
        adapted = context.adapt(load_pair_model(lda_model_dir))
    assert adapted.info["context"]["source"] == f"{len(images)} paintings"   # the usable ones


def test_predict_pairs_with_context(lda_model_dir, clean_dir):
    a, b, c = sorted((clean_dir / "test").glob("*.jpg"))[:3]
    plain = predict_pairs([(a, b), (b, c)], model=lda_model_dir)
    adapted = load_pair_model(lda_model_dir)
    adapted = CollectionContext.read(clean_dir / "train").adapt(adapted)
    with_context = predict_pairs([(a, b), (b, c)], model=lda_model_dir, context=clean_dir / "train")
    expected = predict_pairs([(a, b), (b, c)], model=adapted)
    np.testing.assert_allclose(with_context, expected, atol=1e-6)
    kept = CollectionContext.cached(clean_dir / "train")   # what predict_pairs adapted: kept for the next call
    assert kept.adapt(load_pair_model(lda_model_dir)) is kept.adapt(load_pair_model(lda_model_dir))
    # the model's own training paintings are its source: almost no shift
    assert adapted.info["context"]["shift"][0]["shrink"] < 0.5
    np.testing.assert_allclose(with_context, plain, atol=0.05)


def test_submit_uses_the_test_images_as_context_unless_told_not_to(lda_model_dir, clean_dir, kaggle_dir, tmp_path):
    info = kaggle_dir / "submission_info.csv"
    submit(lda_model_dir, clean_dir, info, tmp_path / "with.csv", progress=False)
    submit(lda_model_dir, clean_dir, info, tmp_path / "without.csv", progress=False, context=False)
    pairs = pd.read_csv(info)
    test = clean_dir / "test"
    files = [(test / a, test / b) for a, b in zip(pairs.image1, pairs.image2)]
    with_context = pd.read_csv(tmp_path / "with.csv").sameArtist.to_numpy()
    np.testing.assert_allclose(with_context, predict_pairs(files, model=lda_model_dir, context=test), atol=2e-6)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "without.csv").sameArtist,
                               predict_pairs(files, model=lda_model_dir), atol=2e-6)
    assert not np.allclose(with_context, pd.read_csv(tmp_path / "without.csv").sameArtist, atol=1e-4)
    out = subprocess.run([sys.executable, "-m", "painter", "submit", str(lda_model_dir), str(clean_dir), str(info),
                          "--out", str(tmp_path / "cli.csv"), "--no-context"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    np.testing.assert_allclose(pd.read_csv(tmp_path / "cli.csv").sameArtist,
                               pd.read_csv(tmp_path / "without.csv").sameArtist, atol=1e-6)


def test_submit_can_leave_the_test_images_groups_out(lda_model_dir, clean_dir, kaggle_dir, tmp_path, monkeypatch):
    from painter.same_artist.context import CollectionContext
    asked, adapt_as_before = [], CollectionContext.adapt

    def adapt_and_note(self, model, **kwargs):
        asked.append(kwargs.get("groups"))
        return adapt_as_before(self, model, **kwargs)
    monkeypatch.setattr(CollectionContext, "adapt", adapt_and_note)
    info = kaggle_dir / "submission_info.csv"
    submit(lda_model_dir, clean_dir, info, tmp_path / "with.csv", progress=False)
    submit(lda_model_dir, clean_dir, info, tmp_path / "no_groups.csv", progress=False, groups=False)
    assert asked == [True, False]
    from painter.cli import build_parser
    a = build_parser().parse_args(["submit", "m", "d", "i", "--out", "o", "--no-groups"])
    assert a.groups is False and a.context is True


def test_a_model_without_a_projection_answers_without_context(toy):
    model, G, _ = toy
    head = PairModel(None, model.embedder, "dot", -3.0, method="siamese")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert adapt(head, G) is head
    assert "answered without context" in str(caught[0].message)


def test_attribute_uses_the_reference_as_context_unless_told_not_to(lda_model_dir, clean_dir, monkeypatch):
    import painter.same_artist.context as context
    from painter.attribution import attribute
    seen = []
    monkeypatch.setattr(context.CollectionContext, "adapt",
                        lambda self, model, **k: seen.append(self) or model)
    query = sorted((clean_dir / "test").glob("*.jpg"))[0]
    attribute(query, clean_dir, model=lda_model_dir)
    attribute(query, clean_dir, model=lda_model_dir, context=False)
    attribute(query, clean_dir, model=lda_model_dir)
    n_reference = len(__import__("painter.same_artist.training", fromlist=["x"]).load_training_images(clean_dir)[0])
    assert len(seen) == 2 and len(seen[0]) == n_reference   # adapted to the reference's paintings ...
    assert seen[1] is seen[0]                               # ... by one context, which keeps the adapted model


def test_a_collection_at_its_own_resolution_is_read_with_views(lda_model_dir, clean_dir, tmp_path):
    from PIL import Image
    from painter.same_artist.context import CONTEXT_VIEWS
    rng = np.random.default_rng(0)
    big = tmp_path / "big"
    big.mkdir()
    for k in range(12):   # 150 px: tiles of the 64 px model's features at scale 1
        Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(big / f"{k:02d}.png")
    paintings = sorted(big.glob("*.png"))
    model = load_pair_model(lda_model_dir)
    adapted = CollectionContext.read(big).adapt(model)
    assert adapted.spec.views == CONTEXT_VIEWS and adapted.spec.view_pool == "scales" and not model.spec.views
    assert adapted.info["context"]["source"] == "12 paintings, views (1, 2)"
    p = predict_pairs([(paintings[0], paintings[1])], model=lda_model_dir, context=big)
    np.testing.assert_allclose(p, predict_pairs([(paintings[0], paintings[1])], model=adapted), atol=1e-6)
    assert not CollectionContext(paintings, views=()).adapt(model).spec.views   # turned off
    assert not CollectionContext.read(clean_dir / "test").adapt(model).spec.views   # 64 px thumbnails: no tiles
    with pytest.warns(UserWarning, match="fewer than 10"):
        few = CollectionContext(paintings[:5]).adapt(model)
    assert few is model   # too few to measure the views' shift: neither views nor shift


def test_a_context_with_no_readable_painting_is_refused_in_one_line(lda_model_dir, tmp_path):
    from painter.errors import InputError
    for k in range(3):
        (tmp_path / f"{k}.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=rf"^{tmp_path}: none of the 3 context paintings can be used \(e\.g\. "
                                         r".*0\.jpg: not an image file"):
        CollectionContext.read(tmp_path).adapt(load_pair_model(lda_model_dir))


def test_a_bad_image_is_named_before_the_context_is_read(lda_model_dir, clean_dir, tmp_path, monkeypatch):
    import painter.same_artist.context as context
    from painter.data.images import ImageError
    from painter.same_artist.predict import predict_pair
    images = sorted((clean_dir / "test").glob("*.jpg"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(images[0].read_bytes()[:300])
    monkeypatch.setattr(context.CollectionContext, "adapt", lambda *a, **k: pytest.fail("the context was read first"))
    with pytest.raises(ImageError, match=r"broken\.jpg: truncated"):
        predict_pair(broken, images[1], model=lda_model_dir, context=clean_dir / "train")


def test_group_means_finds_the_collections_groups():
    rng = np.random.default_rng(0)
    directions = np.eye(D, dtype=np.float32)[:3]
    E = np.repeat(directions, 32, axis=0) + rng.normal(0, 0.05, (96, D)).astype(np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    Q = group_means(E, paintings_per_group=32)
    assert Q.shape == (3, D) and np.allclose(np.linalg.norm(Q, axis=1), 1, atol=1e-5)
    assert sorted((Q @ directions.T).argmax(1)) == [0, 1, 2] and (Q @ directions.T).max(1).min() > 0.99
    assert len(group_means(E[:63], 32)) == 2                 # round(63 / 32)
    assert group_means(E[:40], 32).shape == (0, D)           # one group would be the whole collection


def test_groups_sharpen_new_artists_of_a_shifted_collection():
    rng = np.random.default_rng(0)
    F, y = _paintings(rng, rng.normal(0, 0.5, (ARTISTS, D)), 15)
    # the packaged model's temperature: a profile sharp enough for a group to draw a painting
    model = PairModel(DEFAULT_FEATURES, dot_embedder(lda_projection(F, y, ARTISTS, pca_dim=20), 2.0, 4.0, 0.05),
                      "dot", bias=-2.0, threshold=0.3, method="lda")
    rng = np.random.default_rng(2)
    G, g = _paintings(rng, rng.normal(0, 1.0, (4, D)), 40)   # 4 painters the model never saw, 40 paintings each
    G += rng.normal(0, 4, D).astype(np.float32)              # from another source
    plain, grouped = adapt(model, G, groups=False), adapt(model, G)
    assert plain.info["context"]["groups"] == [] and grouped.info["context"]["groups"] == [round(160 / 32)]
    assert _auc(grouped, G, g)[0] > _auc(plain, G, g)[0] + 0.015   # measured: 0.922 -> 0.942
    # e (20 values), then one profile over the 60 artists and 5 groups per k-means draw
    assert plain.embed_features(G[:2]).shape[1] == 20 + ARTISTS
    assert grouped.embed_features(G[:2]).shape[1] == 20 + DRAWS * (ARTISTS + 5)


def test_groups_for_each_profile_of_a_model_with_its_base(toy):
    from painter.same_artist.context import _keras_copy
    from painter.same_artist.calibration import concat_embedder
    model, G, _ = toy
    fused = concat_embedder(_keras_copy(model), _keras_copy(model), 1.0, 0.5)
    assert fused.output.shape[1] == 2 * (20 + ARTISTS)
    assert with_groups(fused, G, [1.0, 0.0])[1] == [8, 0]   # the base's collection showed no shift: none
    grouped, counts = with_groups(fused, G, [1.0, 1.0])
    assert counts == [8, 8] and grouped.output.shape[1] == 2 * (20 + DRAWS * (ARTISTS + 8))
    with pytest.raises(ValueError, match="1 shrink factors for 2 profiles"):
        with_groups(fused, G, [1.0])
