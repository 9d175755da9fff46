"""Training from several sources, and on a base model."""
import os
import shutil

import numpy as np
import pytest
from scipy.special import expit

from painter.data.cleaning import clean_kaggle
from painter.data.synthetic import make_synthetic_kaggle
from painter.errors import InputError
from painter.features import FeatureSpec
from painter.same_artist.predict import load_pair_model, predict_pair
from painter.same_artist.training import load_training_images, train

SMALL = FeatureSpec("efficientnet_lite0", 64)


@pytest.fixture(scope="module")
def two_collections(tmp_path_factory):
    """A cleaned synthetic competition and a folder-per-artist tree that shares artists and one
    painting with it: the tree holds two artists of the competition (one painting copied from
    the competition, the others new) and four artists of its own."""
    root = tmp_path_factory.mktemp("sources")
    clean = root / "clean"
    clean_kaggle(make_synthetic_kaggle(root / "k", n_artists=8, n_test_only=2, paintings_per_artist=14, size=96,
                                       seed=3),
                 clean, size=64, workers=2, progress=False)
    other = make_synthetic_kaggle(root / "k2", n_artists=6, n_test_only=0, paintings_per_artist=12, size=96, seed=9)
    clean_kaggle(other, root / "clean2", size=64, workers=2, progress=False)
    tree = root / "tree"
    paths, labels = load_training_images(root / "clean2")
    rename = {"Artist 00": "Artist 00", "Artist 01": "Artist 01", "Artist 02": "Extra A", "Artist 03": "Extra B",
              "Artist 04": "Extra C", "Artist 05": "Extra D"}
    for p, artist in zip(paths, labels):
        (tree / rename[artist]).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, tree / rename[artist] / f"x{p.split('/')[-1]}")
    dup = load_training_images(clean)[0][0]               # a painting of the competition's Artist 00
    shutil.copy(dup, tree / "Artist 00" / "copy.jpg")
    return clean, tree


def test_two_sources_merge_artists_by_name_and_count_each_painting_once(two_collections, capsys):
    clean, tree = two_collections
    p1, l1 = load_training_images(clean)
    p2, l2 = load_training_images(tree)
    with pytest.warns(UserWarning, match="1 paintings found twice"):
        paths, labels = load_training_images([clean, tree])
    assert len(paths) == len(p1) + len(p2) - 1                       # the copied painting once
    assert not any(p.endswith("copy.jpg") for p in paths)             # kept under its first source
    assert set(labels) == set(l1) | {"Extra A", "Extra B", "Extra C", "Extra D"}   # Artist 00/01 merged by name
    assert (labels == "Artist 00").sum() == (l1 == "Artist 00").sum() + (l2 == "Artist 00").sum() - 1


@pytest.fixture(scope="module")
def base_dir(two_collections, tmp_path_factory):
    _, tree = two_collections
    out = tmp_path_factory.mktemp("base") / "base"
    train(tree, out, spec=SMALL, base="none", val_artists=0.34, pca_dim=16, progress=False)
    return out


def test_base_none_is_the_plain_model(two_collections, tmp_path):
    clean, _ = two_collections
    a = train(clean, tmp_path / "a", spec=SMALL, base="none", pca_dim=16, progress=False)
    b = train(clean, tmp_path / "b", spec=SMALL, pca_dim=16, progress=False)   # packaged: other features, skipped
    assert "base" not in a.info and "base" not in b.info
    x, y = load_training_images(clean)[0][:2]
    assert predict_pair(x, y, model=tmp_path / "a") == predict_pair(x, y, model=tmp_path / "b")
    assert a.info["artists"] == sorted(set(load_training_images(clean)[1]))
    # without the refit on every painting the held-out artists stay unknown to the model, and a
    # model built on it can validate on them
    c = train(clean, tmp_path / "c", spec=SMALL, base="none", pca_dim=16, refit=False, progress=False)
    held = set(np.load(tmp_path / "c" / "validation_pairs.npz")["unseen_artists"])
    assert held and c.info["artists"] == sorted(set(load_training_images(clean)[1]) - held)


def test_training_on_random_backbones_is_refused(two_collections, tmp_path):
    clean, _ = two_collections
    with pytest.raises(InputError, match="efficientnet_lite0 with weights None: random backbones"):
        train(clean, tmp_path / "m", spec=FeatureSpec("efficientnet_lite0", 64, weights=None), progress=False)
    assert not (tmp_path / "m").exists()


def test_a_base_with_other_features_is_refused_in_one_line(two_collections, base_dir, tmp_path):
    clean, _ = two_collections
    with pytest.raises(InputError, match=f"{base_dir}: the base model reads efficientnet_lite0 at 64 px "
                                         r"\(style, weights imagenet\); this training reads efficientnet_lite0 at 96 px"
                                         r".*; pass --base none or a base trained on the same features") as e:
        train(clean, tmp_path / "m", spec=FeatureSpec("efficientnet_lite0", 96), base=base_dir, progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "m").exists()
    with pytest.raises(InputError, match=r"weights imagenet\); this training reads efficientnet_lite0 at 64 px "
                                         r"\(style, weights artists\)"):   # only the weights differ
        train(clean, tmp_path / "m", spec=FeatureSpec("efficientnet_lite0", 64, weights="artists"), base=base_dir,
              progress=False)


def test_the_combined_model_scores_the_sum_of_both_models_log_odds(two_collections, base_dir, tmp_path):
    clean, _ = two_collections
    model = train(clean, tmp_path / "m", spec=SMALL, base=base_dir, pca_dim=16, progress=False)
    info = model.info["base"]
    a, b = info["weights"]
    assert a > 0 and b > 0 and info["base_bias"] == load_pair_model(base_dir).bias
    learned = set(load_pair_model(base_dir).info["artists"]) | set(load_training_images(clean)[1])
    assert set(model.info["artists"]) == learned
    x, y = sorted((clean / "test").glob("*.jpg"))[:2]
    from painter.features import extract_features
    F, _ = extract_features([x, y], SMALL, progress=False)
    zu = np.asarray(model.embedder.get_layer("user_embedding")(F))
    zb = load_pair_model(base_dir).embed_features(F)
    s_user = zu[0] @ zu[1] + info["user_bias"]
    s_base = zb[0] @ zb[1] + info["base_bias"]
    expected = expit(a * s_user + b * s_base + info["offset"])
    assert predict_pair(x, y, model=tmp_path / "m") == pytest.approx(float(expected), abs=1e-5)


def test_validation_holds_out_artists_the_features_backbone_never_saw(two_collections, tmp_path, monkeypatch, capsys):
    """Features tuned on artists (weights="artists") know some training artists: the unseen-artist
    validation takes the others first, as it does for a base model's artists."""
    clean, _ = two_collections
    known = {f"Artist {k:02d}" for k in range(1, 8)}     # all but Artist 00
    monkeypatch.setattr(FeatureSpec, "trained_artists", property(lambda self: frozenset(known)))
    model = train(clean, tmp_path / "m", spec=SMALL, base="none", val_artists=0.125, pca_dim=16, progress=False)
    assert sorted(set(model.info["artists"])) == [f"Artist {k:02d}" for k in range(8)]
    held = np.load(tmp_path / "m" / "validation_pairs.npz")["labels"]   # the held-out paintings' artists
    labels = load_training_images(clean)[1]
    whole = {a for a in set(labels) if (held == a).sum() == (labels == a).sum()}   # held out whole: unseen
    assert whole == {"Artist 00"}
    assert list(np.load(tmp_path / "m" / "validation_pairs.npz")["unseen_artists"]) == ["Artist 00"]   # recorded
    assert model.info["sources"] == [os.path.abspath(clean)]   # absolute: a run read from elsewhere finds them
    with pytest.warns(UserWarning, match="validation: 1 of the 2 held-out artists are known to the base model "
                                         "or the features' backbone"):
        train(clean, tmp_path / "m2", spec=SMALL, base="none", val_artists=0.25, pca_dim=16, progress=False)


def test_unseen_first_leaves_out_what_the_base_and_the_backbones_learned_from():
    from painter.same_artist.training import unseen_first
    labels = np.array(["Claude Monet", "Nobody Known", "Artist 00", "Claude Monet"])
    assert unseen_first(labels) is None and unseen_first(labels, FeatureSpec()) is None   # nothing known
    assert unseen_first(labels, FeatureSpec(weights="artists")) == ["Artist 00", "Nobody Known"]
    assert unseen_first(labels, FeatureSpec(weights="artists"), base_artists=["Artist 00"]) == ["Nobody Known"]
    assert unseen_first(labels, None, base_artists=["Artist 00"]) == ["Claude Monet", "Nobody Known"]
    assert unseen_first(labels, None, base_artists=list(labels) + ["Nobody Known"]) == []
