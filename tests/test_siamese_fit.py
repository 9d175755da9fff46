"""``siamese``: the seed project's Siamese network fitted end to end (tiny synthetic paintings, 64 px crops)."""
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from painter.data.pairs import ValidationPairs
from painter.features import FeatureSpec, extract_features
from painter.same_artist import make_method
from painter.same_artist.model import PairModel
from painter.same_artist.predict import predict_pair
from painter.same_artist.frozen_stages import frozen_maps
from painter.same_artist.sampling import PairSampler
from painter.same_artist.training import load_training_images, train
from tests.callbacks import Interrupt, Steps

SMALL = dict(image_size=64, pairs_per_epoch=256, batch_size=32, crops_per_image=3)


@pytest.fixture(scope="module")
def fitted(rich_clean, tmp_path_factory):
    out = tmp_path_factory.mktemp("siamese")
    model = train(rich_clean, out, method="siamese", val_artists=0.25, progress=False, epochs_head=2, epochs_finetune=1,
                  **{**SMALL, "pairs_per_epoch": 512})
    return out, model


def test_end_to_end_fit_beats_chance_and_is_a_pair_model(fitted, rich_clean):
    out, model = fitted
    assert model.info["validation"]["all"]["auc"] > 0.6, model.info["validation"]
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2] and {"val_auc", "auc", "loss"} <= set(history.columns)
    loaded = PairModel.load(out)            # safe_mode=True
    assert loaded.spec is None and loaded.scorer == "head"
    tests = sorted((rich_clean / "test").glob("*.jpg"))
    p = predict_pair(tests[0], tests[1], model=out)
    assert 0 <= p <= 1
    # evaluation is not augmented: the same painting embeds the same twice (to float32 rounding:
    # the two rows of one batch may take different vectorised kernels)
    z, failed = loaded.embed_files([tests[0], tests[0]], progress=False)
    assert not failed
    np.testing.assert_allclose(z[0], z[1], rtol=1e-5, atol=1e-5)
    # the saved network scores the held-out pairs as the fit's cached maps did
    v = np.load(out / "validation_pairs.npz")
    z, _ = loaded.embed_files(list(v["paths"]), progress=False)
    np.testing.assert_allclose(loaded.score_pairs(z, v["i"][:500], v["j"][:500]), v["p"][:500], atol=2e-2)


def test_learned_backbone_replaces_imagenet_weights_under_style_features(fitted, rich_clean):
    out, model = fitted
    images = sorted((rich_clean / "test").glob("*.jpg"))[:2]
    learned = FeatureSpec("efficientnet_lite0", 64, weights=str(out / "backbone.weights.h5"))
    imagenet = FeatureSpec("efficientnet_lite0", 64)
    assert learned.key != imagenet.key
    a, _ = extract_features(images, learned, cache=False, progress=False)
    b, _ = extract_features(images, imagenet, cache=False, progress=False)
    # the fine-tuned stages are kept only when they beat the head phase on the validation pairs
    assert a.shape == b.shape and np.allclose(a, b) != model.info["finetuned"]


def test_a_fit_starts_from_the_weights_it_is_given(rich_clean, tmp_path):
    from painter.backbones import get_backbone
    from painter.backbones.catalog import trained_artists
    net = get_backbone("efficientnet_lite0", "imagenet", (None, None, 3))
    top = net.get_layer("top_conv")
    top.kernel.assign(np.array(top.kernel) * 1.5)            # a start that is not ImageNet's
    start = str(tmp_path / "start.weights.h5")
    net.save_weights(start)
    Path(f"{start}.artists.txt").write_text("Someone Earlier\n")
    model = train(rich_clean, tmp_path / "run", method="siamese", loss="contrastive", weights=start, progress=False,
                  epochs_head=1, epochs_finetune=0, **SMALL)     # head only: the backbone stays as given
    images = sorted((rich_clean / "test").glob("*.jpg"))[:2]
    tuned = str(tmp_path / "run" / "backbone.weights.h5")
    a, b, c = (extract_features(images, FeatureSpec("efficientnet_lite0", 64, weights=w), cache=False,
                                progress=False)[0] for w in (start, tuned, "imagenet"))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # the run's weights list what they learned: its fitting artists and the start's
    fitting = set(model.info["artists"]) - set(np.load(tmp_path / "run" / "validation_pairs.npz")["unseen_artists"])
    assert trained_artists(tuned) == fitting | {"Someone Earlier"} and trained_artists(start) == {"Someone Earlier"}
    Path(f"{start}.artists.txt").write_text("Someone Else\n")     # rewritten in place, as a new run does
    assert trained_artists(start) == {"Someone Else"}
    keys = {make_method("siamese", weights=w)._store_key(4) for w in ("imagenet", "artists", start)}
    assert len(keys) == 3           # the cached frozen maps are the starting weights' own


def test_a_fit_from_the_artist_tuned_weights_holds_out_the_artists_they_never_saw(rich_clean, monkeypatch):
    import painter.same_artist.training as training
    from painter.backbones.catalog import trained_artists
    seen = {}

    def record(labels, spec=None, base_artists=None):
        seen["spec"] = spec
        raise KeyboardInterrupt   # recorded: no need to fit

    monkeypatch.setattr(training, "unseen_first", record)
    assert len(trained_artists("artists")) == 448
    for weights, known in (("artists", trained_artists("artists")), ("imagenet", frozenset())):
        with pytest.raises(KeyboardInterrupt):
            train(rich_clean, rich_clean.parent / "unused", method="siamese", weights=weights, progress=False, **SMALL)
        assert seen["spec"].trained_artists == known


def _same_pair_batch(inputs, image_size=64):
    sampler = PairSampler(np.array([0, 1]), 8)
    sampler.draw = lambda: (np.zeros(8, np.int64), np.ones(8, np.int64), np.zeros(8, np.float32))
    (a, b), _ = next(iter(sampler.dataset(inputs, 8, image_size)))
    return a.numpy()


def test_training_draws_are_augmented_evaluation_is_not(rich_clean, tmp_path, monkeypatch):
    from painter.backbones import get_backbone
    from painter.same_artist.frozen_stages import split_backbone
    paths = [str(p) for p in sorted((rich_clean / "train").glob("*.jpg"))[:2]]
    bottom, _ = split_backbone(get_backbone("efficientnet_lite0", "imagenet", (None, None, 3)), "block11")
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path))      # a fresh map cache
    maps, _ = frozen_maps(bottom, paths, 64, 3, "test-crops", progress=False)
    a = _same_pair_batch(maps)                          # cached crop maps
    assert any(not np.array_equal(a[0], x) for x in a[1:])
    a = _same_pair_batch(np.array(paths))               # pixels: random crop and flip in tf.data
    assert a.shape == (8, 64, 64, 3) and any(not np.array_equal(a[0], x) for x in a[1:])
    once, _ = frozen_maps(bottom, paths, 64, 0, "test-centre-1", progress=False)
    again, _ = frozen_maps(bottom, paths, 64, 0, "test-centre-2", progress=False)
    assert np.array_equal(once, again)


def test_frozen_maps_name_unusable_files_and_store_one_shard_per_run(tmp_path, monkeypatch):
    """Unusable files are reported as extract_features reports them, their maps zeros; the maps
    are stored in one shard, not one per batch."""
    from PIL import Image
    from painter.backbones import get_backbone
    from painter.data.images import ImageError, load_array
    from painter.same_artist.frozen_stages import split_backbone
    rng = np.random.default_rng(0)
    paths = []
    for k in range(4):
        paths.append(str(tmp_path / f"img{k}.jpg"))
        Image.fromarray(rng.integers(0, 256, (80, 90, 3), dtype=np.uint8)).save(paths[-1])
    bad, missing = tmp_path / "bad.jpg", str(tmp_path / "missing.jpg")
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError) as err:
        load_array(bad, 73)
    bottom, _ = split_backbone(get_backbone("efficientnet_lite0", None, (None, None, 3)), "block11")
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    maps, failed = frozen_maps(bottom, [paths[0], missing, str(bad), *paths[1:]], 64, 2, "test-mixed",
                               batch_size=1, progress=False)
    assert failed == {missing: "file not found", str(bad): err.value.reason}
    assert maps.shape[:2] == (6, 2) and not maps[[1, 2]].any()
    alone, _ = frozen_maps(bottom, paths, 64, 2, "test-alone", batch_size=1, progress=False)
    np.testing.assert_array_equal(maps[[0, 3, 4, 5]], alone)
    shards = list((tmp_path / "cache" / "features" / "test-mixed").glob("shard_*.keys.npy"))
    assert len(shards) == 1 and len(np.load(shards[0])) == 4


def test_fine_tuning_leaves_batchnorm_statistics_alone(rich_clean):
    paths, labels = load_training_images(rich_clean)
    P, y, val = ValidationPairs.hold_out(np.array(paths), labels, val_artists=0.25)
    method = make_method("siamese", epochs_head=0, epochs_finetune=0, **SMALL).fit(P, y, val)
    trainer = method.build_trainer(method.val_inputs_.shape[1:])
    method.unfreeze()
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    bn = [layer for layer in method.top_.layers if isinstance(layer, keras.layers.BatchNormalization)]
    conv = method.top_.get_layer("top_conv")
    before = [np.array(layer.moving_mean) for layer in bn], np.array(conv.kernel)
    x = method.val_inputs_[:8]
    trainer.train_on_batch([x, x[::-1]], np.array([1, 0] * 4, np.float32))
    assert all(np.array_equal(m, np.array(layer.moving_mean)) for m, layer in zip(before[0], bn))
    assert not np.array_equal(before[1], np.array(conv.kernel))      # the backbone did train


def test_interrupted_fine_tuning_resumes_and_a_finished_folder_starts_afresh(rich_clean, tmp_path):
    run = dict(method="siamese", progress=False, epochs_head=1, epochs_finetune=2, patience=5, **SMALL)
    steps = {}
    with pytest.raises(KeyboardInterrupt):     # stopped after the first fine-tuning epoch
        train(rich_clean, tmp_path / "a", callbacks=[Interrupt(2)], **run)
    assert (tmp_path / "a" / "backup").is_dir() and (tmp_path / "a" / "head_phase.npz").is_file()
    train(rich_clean, tmp_path / "a", callbacks=[Steps(steps, "resumed")], **run)
    assert pd.read_csv(tmp_path / "a" / "history.csv")["epoch"].tolist() == [0, 1, 2]
    assert not (tmp_path / "a" / "backup").exists() and not (tmp_path / "a" / "head_phase.npz").exists()
    train(rich_clean, tmp_path / "b", callbacks=[Steps(steps, "whole")], **run)
    assert steps["resumed"] == steps["whole"] == 2 * 256 // 32       # the fine-tuning optimizer's steps
    train(rich_clean, tmp_path / "a", **{**run, "epochs_finetune": 1})   # finished: afresh, not continued
    assert pd.read_csv(tmp_path / "a" / "history.csv")["epoch"].tolist() == [0, 1]


@pytest.mark.parametrize("loss", ["contrastive", "triplet", "cosface"])
def test_metric_losses_take_the_same_path(loss, rich_clean, tmp_path):
    model = train(rich_clean, tmp_path / loss, method="siamese", val_artists=0.25, progress=False, loss=loss,
                  epochs_head=2, epochs_finetune=1, **{**SMALL, "pairs_per_epoch": 512})
    assert model.scorer == "dot" and model.info["validation"]["all"]["auc"] > 0.55, model.info["validation"]
    assert PairModel.load(tmp_path / loss).spec is None


def test_the_cosface_classifier_is_saved_and_restored_with_the_trainer():
    from painter.same_artist.networks import CosFaceModel
    x = keras.Input((4,))
    trainer = CosFaceModel(keras.Model(x, keras.layers.UnitNormalization()(keras.layers.Dense(3)(x))), 5)
    w = trainer.classifier.w
    assert any(v is w for v in trainer.trainable_weights) and w.dtype == "float32"
    saved = [np.array(v) for v in trainer.get_weights()]
    w.assign(np.zeros(w.shape))
    trainer.set_weights(saved)                    # what BackupAndRestore and head_phase.npz do
    assert np.abs(np.array(w)).sum() > 0


def test_paintings_are_drawn_once_each_before_any_twice_with_their_artist():
    codes = np.array([0, 0, 1, 2, 2])
    sampler = PairSampler(codes, 7, seed=3, kind="paintings")
    i, artist = sampler.draw()
    assert sorted(i[:5]) == [0, 1, 2, 3, 4] and len(set(i[5:])) == 2
    np.testing.assert_array_equal(artist, codes[i])
    sampler.on_epoch_begin(1)
    assert not np.array_equal(sampler.draw()[0], i)          # afresh every epoch
    sampler.on_epoch_begin(0)
    maps = np.arange(5, dtype=np.float16).reshape(5, 1, 1, 1, 1) * np.ones((5, 2, 2, 2, 3), np.float16)
    (x,), y = next(iter(sampler.dataset(maps, 7, 2)))
    np.testing.assert_array_equal(x.numpy()[:, 0, 0, 0], i)   # each painting's own map, with its artist
    np.testing.assert_array_equal(y.numpy(), codes[i])


def test_siamese_refuses_bad_hyperparameters():
    with pytest.raises(ValueError, match="loss must be one of"):
        make_method("siamese", loss="hinge")
    with pytest.raises(ValueError, match="cosface trains on single paintings"):
        make_method("siamese", loss="cosface", hard_negatives=0.5)
    with pytest.raises(ValueError, match="weights must be 'imagenet', 'artists' or a weights file"):
        make_method("siamese", weights="no/such/file.h5")
    with pytest.raises(ValueError, match="kind must be one of"):
        PairSampler(np.array([0, 1]), 8, kind="quads")
    with pytest.raises(ValueError, match="no such layer or block"):
        from painter.backbones import get_backbone
        from painter.same_artist.frozen_stages import split_backbone
        split_backbone(get_backbone("efficientnet_lite0", None, (None, None, 3)), "block99")


def test_cli_hands_the_siamese_options_to_the_method(monkeypatch):
    import painter.same_artist.training as training
    from painter.cli import build_parser
    seen = {}
    monkeypatch.setattr(training, "train", lambda data_dir, out, **kwargs: seen.update(kwargs))
    args = build_parser().parse_args(["train", "d", "--out", "o", "--method", "siamese", "--image-size", "64",
                                      "--trainable-from", "block15", "--loss", "triplet", "--weights", "artists"])
    args.func(args)
    assert (seen["method"], seen["image_size"], seen["trainable_from"], seen["loss"], seen["weights"]) == \
        ("siamese", 64, "block15", "triplet", "artists")
    from painter.errors import InputError
    args = build_parser().parse_args(["train", "d", "--out", "o", "--method", "siamese",
                                      "--weights", "artists,imagenet"])
    with pytest.raises(InputError, match="fine-tunes one backbone; give one entry"):
        args.func(args)
    args = build_parser().parse_args(["train", "d", "--out", "o", "--method", "siamese", "--weights", "nope.h5"])
    with pytest.raises(InputError) as err:   # one backbone: no hint about joining several
        args.func(args)
    assert str(err.value) == "--weights nope.h5: not 'artists', 'imagenet' or a weights file"


def test_cli_offers_every_hyperparameter_of_every_method(monkeypatch):
    """`painter train --method siamese --epochs 2`: the options come from the estimators'
    signatures, so each method's hyperparameters are options, and --epochs means the run's epochs."""
    import inspect

    import painter.same_artist.training as training
    from painter.cli import build_parser
    from painter.same_artist.method import method_class, method_names
    seen = {}
    monkeypatch.setattr(training, "train", lambda data_dir, out, **kwargs: seen.update(kwargs))
    parser = build_parser()
    for method in method_names():
        for name in inspect.signature(method_class(method)).parameters:
            if name not in ("seed", "backup_dir", "callbacks"):
                assert any(f"--{name.replace('_', '-')}" in a.option_strings or f"--no-{name.replace('_', '-')}"
                           in a.option_strings or a.dest == name for a in parser._subparsers._group_actions[0]
                           .choices["train"]._actions), (method, name)
    args = parser.parse_args(["train", "d", "--out", "o", "--method", "siamese", "--epochs", "2",
                              "--hard-negatives", "0.5", "--cache-maps", "False"])
    args.func(args)
    assert (seen["epochs"], seen["hard_negatives"], seen["cache_maps"]) == (2, 0.5, False)
    assert make_method("siamese", epochs=2).phase_epochs() == (2, 0)
    assert make_method("siamese", epochs=5, epochs_head=1).phase_epochs() == (1, 4)
    assert make_method("siamese").phase_epochs() == (2, 8)
    seen.clear()
    args = parser.parse_args(["train", "d", "--out", "o", "--temperatures", "0.1,0.2", "--no-refit"])
    args.func(args)
    assert (seen["temperatures"], seen["refit"]) == ((0.1, 0.2), False) and "epochs" not in seen


def test_similar_painting_search_with_the_fitted_network(fitted, rich_clean, tmp_path):
    from painter.search import SimilarityIndex, build_index_from_data
    out, _ = fitted
    build_index_from_data(rich_clean, tmp_path / "idx", embedding=str(out), progress=False)
    index = SimilarityIndex.load(tmp_path / "idx")
    query = index.metadata["file"][0]
    found = index.query_file(query, k=3)
    # the exact neighbours: the network's own embeddings of every indexed painting, by cosine
    from painter.same_artist.predict import load_pair_model
    files = index.metadata["file"].tolist()
    z, _ = load_pair_model(out).embed_files(files, progress=False)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    cosine = z[1:] @ z[0]   # the query itself left out
    best = np.argsort(-cosine, kind="stable")[:3]
    assert found["file"].tolist() == [files[1 + k] for k in best]
    np.testing.assert_allclose(found["score"], cosine[best], atol=1e-4)
    assert found["rank"].tolist() == [1, 2, 3] and query not in found["file"].tolist()


def test_mixed_precision_is_put_back_after_the_fit_even_when_it_fails():
    from painter.same_artist.devices import global_policy
    before = keras.mixed_precision.global_policy().name
    with pytest.raises(RuntimeError):
        with global_policy("mixed_float16"):
            assert keras.mixed_precision.global_policy().name == "mixed_float16"
            raise RuntimeError("fit interrupted")
    assert keras.mixed_precision.global_policy().name == before == "float32"


def test_attribution_and_explanation_with_a_network_that_reads_images(fitted, rich_clean, tmp_path):
    """A fitted siamese model has no FeatureSpec: attribution embeds the query with the network
    itself (contrastive: a dot-product model); the explanation, which masks the frozen features'
    input, refuses it in one line."""
    from painter.attribution import attribute
    from painter.errors import InputError
    from painter.explain import explain_pair
    out = tmp_path / "contrastive"
    train(rich_clean, out, method="siamese", val_artists=0.25, progress=False, loss="contrastive",
          epochs_head=1, epochs_finetune=0, **{**SMALL, "pairs_per_epoch": 256})
    query = sorted((rich_clean / "train").glob("*.jpg"))[0]
    table = attribute(query, rich_clean, model=out, k=3)
    assert list(table["rank"]) == [1, 2, 3, 0] and table["probability"].between(0, 1).all()   # 0: "none of them"
    bce_model, _ = fitted
    with pytest.raises(InputError, match=f"{bce_model}: explain needs a model on frozen features"):
        explain_pair(query, query, model=bce_model)
