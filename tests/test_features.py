import warnings

import numpy as np
import pytest

from painter.features import (FeatureSpec, build_feature_model, extract_features, feature_model, image_batches,
                              predict_images, predict_padded, std_columns)
from painter.layers import LogColumns
from painter.data.images import load_array
from tests.conftest import noise_paintings


@pytest.fixture
def files(tmp_path):
    """Four small paintings and one file that is not an image (the third)."""
    return noise_paintings(tmp_path, 5, bad=(2,))


@pytest.mark.parametrize("overlap", [False, True])
def test_image_batches_keep_order_and_flag_unreadable(files, overlap):
    batches = list(image_batches(files, 32, batch_size=2, overlap=overlap))
    assert [len(reasons) for _, reasons in batches] == [2, 2, 1]
    images = np.concatenate([im for im, _ in batches])
    reasons = [r for _, rs in batches for r in rs]
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
    assert [r is None for r in reasons] == [True, True, False, True, True]
    assert "not an image" in reasons[2]
    assert not images[2].any()
    for k in (0, 1, 3, 4):
        np.testing.assert_array_equal(images[k], load_array(files[k], 32))


class _RecordingModel:
    """Stands in for a Keras model: remembers the batch shapes it was given."""

    def __init__(self):
        self.shapes = []

    def predict_on_batch(self, x):
        self.shapes.append(x.shape)
        return x.astype(np.float32).mean(axis=(1, 2))


def test_predict_images_pads_the_last_batch_and_trims_the_output(files):
    model = _RecordingModel()
    out = list(predict_images(model, files, 32, batch_size=3))
    assert model.shapes == [(3, 32, 32, 3), (3, 32, 32, 3)]   # one shape: no retracing
    assert [chunk for chunk, _, _ in out] == [files[:3], files[3:]]
    assert [v.shape for _, v, _ in out] == [(3, 3), (2, 3)]
    assert list(out[0][2]) == [files[2]] and not out[1][2]   # the unreadable third file, by name
    np.testing.assert_allclose(out[1][1][1], load_array(files[4], 32).mean(axis=(0, 1)), rtol=1e-6)


def test_extract_features_caches_and_names_every_failure(files, tmp_path, monkeypatch):
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    spec = FeatureSpec("efficientnet_lite0", 32, "pooled")
    paths = files + [str(tmp_path / "missing.jpg")]
    F, failed = extract_features(paths, spec, batch_size=2, progress=False)
    assert F.shape == (6, 1280)
    assert np.isnan(F[[2, 5]]).all() and not np.isnan(F[[0, 1, 3, 4]]).any()
    assert set(failed) == {paths[2], paths[5]}
    assert failed[paths[5]] == "file not found"
    assert "not an image" in failed[paths[2]]

    good = [0, 1, 3, 4]   # unreadable images are not cached: they are tried again next time
    F2, _ = extract_features([paths[k] for k in good], spec, progress=False, model=_MustNotRunModel(spec))
    np.testing.assert_array_equal(F2, F[good])
    F3, _ = extract_features(files[:2], spec, cache=False, progress=False)
    np.testing.assert_allclose(F3, F[:2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rt", ["keras", None])   # None: the default runtime, an export
def test_a_fully_cached_call_makes_no_model(files, tmp_path, monkeypatch, rt):
    from painter.features import extract
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    if rt:
        monkeypatch.setenv("PAINTER_RUNTIME", rt)
    else:
        monkeypatch.delenv("PAINTER_RUNTIME", raising=False)
    spec = FeatureSpec("efficientnet_lite0", 32, "pooled")
    good = [files[k] for k in (0, 1, 3, 4)]
    extract.feature_model.cache_clear()   # runners are per process, made under another runtime by other tests
    first, _ = extract_features(good, spec, batch_size=2, progress=False)
    extract.feature_model.cache_clear()   # as in a new process: no runner made yet

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built or loaded for cached features")
    from painter.features import serving
    for module, name in ((extract, "feature_model"), (serving, "feature_model"), (serving, "build_feature_model")):
        monkeypatch.setattr(module, name, no_model)
    missing = str(tmp_path / "missing.jpg")
    again, failed = extract_features(good[::-1] + [missing], spec, progress=False)
    np.testing.assert_array_equal(again[:4], first[::-1])
    assert np.isnan(again[4]).all() and failed == {missing: "file not found"}


def test_std_columns_mark_the_standard_deviations(files):
    spec = FeatureSpec("efficientnet_lite0", 64, "style", weights=None)
    mask = std_columns(spec)
    # Lite0's tapped layers have 144, 240, 480, 672, 1152 and 1280 channels: [mean, std] each
    assert mask.shape == (2 * 3968,) and mask.sum() == 3968
    assert not mask[:144].any() and mask[144:288].all() and not mask[288:528].any()
    f = build_feature_model(spec).predict_on_batch(load_array(files[0], 64)[None].astype(np.float32))[0]
    assert f.shape == mask.shape and (f[mask] > 0).all()
    assert not std_columns(FeatureSpec("efficientnet_lite0", 64, "pooled", weights=None)).any()
    both = std_columns(FeatureSpec("efficientnet_lite0+efficientnet_lite0", 64, "style", weights=None))
    np.testing.assert_array_equal(both, np.concatenate([mask, mask]))


def test_log_columns_layer():
    layer = LogColumns()
    layer.build((None, 3))
    layer.set_weights([np.array([1.0, 0.0, 1.0], np.float32)])
    out = np.asarray(layer(np.array([[2.0, -1.0, 3.0]], np.float32)))
    np.testing.assert_allclose(out, [[np.log(2.0), -1.0, np.log(3.0)]], rtol=1e-6)


def _damage(path, how):
    if how == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.write_bytes(b"\x93NUMPY garbled" + bytes(range(200)))


@pytest.mark.parametrize("how,which", [("truncate", "vectors"), ("garble", "keys")])
def test_damaged_cache_shard_is_named_set_aside_and_recomputed(files, tmp_path, monkeypatch, how, which):
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    spec = FeatureSpec("efficientnet_lite0", 32, "pooled")
    good = [files[k] for k in (0, 1, 3, 4)]
    clean, _ = extract_features(good, spec, batch_size=2, progress=False)
    runtime = getattr(feature_model(spec), "runtime", "keras")
    store = tmp_path / "cache" / "features" / (spec.key if runtime == "keras" else f"{spec.key}-{runtime}")
    keys_file = next(store.glob("shard_*.keys.npy"))
    target = keys_file if which == "keys" else keys_file.with_name(keys_file.name.replace(".keys.npy", ".npy"))
    _damage(target, how)
    with pytest.warns(UserWarning, match=f"{target.name.replace('.keys', '')}.*damaged feature cache shard") as w:
        healed, failed = extract_features(good, spec, batch_size=2, progress=False)
    assert len(w) == 1 and not failed
    np.testing.assert_array_equal(healed, clean)               # recomputed: the same answer as a clean run
    assert (store / "damaged" / target.name).is_file()         # set aside, not deleted
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # healed store: no warning, same vectors
        again, _ = extract_features(good, spec, progress=False, model=_MustNotRunModel(spec))
    np.testing.assert_array_equal(again, clean)


class _MustNotRunModel:
    """Stands in for the spec's runner (its runtime names the store) and must not be run."""

    def __init__(self, spec):
        self.runtime = getattr(feature_model(spec), "runtime", "keras")

    def predict_on_batch(self, x):
        raise AssertionError("cached features were computed again")


def test_content_key_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    import os
    import hashlib
    import painter.cache as cache
    path = tmp_path / "a.bin"
    path.write_bytes(b"first")
    calls = []
    monkeypatch.setattr(cache, "file_digest",
                        lambda p, algorithm="sha1": calls.append(p) or hashlib.sha1(open(p, "rb").read()).hexdigest())
    assert cache.content_key(path) == hashlib.sha1(b"first").hexdigest()
    assert cache.content_key(path) == hashlib.sha1(b"first").hexdigest()
    assert len(calls) == 1                       # the second call did not read the file
    path.write_bytes(b"other")                   # same size, new content and time
    os.utime(path, ns=(1, 1))
    assert cache.content_key(path) == hashlib.sha1(b"other").hexdigest()
    assert len(calls) == 2
    with pytest.raises(FileNotFoundError):
        cache.content_key(tmp_path / "missing.bin")


def test_few_rows_run_eagerly_with_the_graphs_output():
    """A one-shot command's few paintings skip tracing the graph (and padding to the batch size)."""
    import keras
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    x = np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32)
    few = predict_padded(model, x[:2])
    assert model.predict_function is None and few.shape == (2, 3)   # nothing traced
    np.testing.assert_allclose(few, predict_padded(model, x)[:2], rtol=1e-5, atol=1e-6)
    assert model.predict_function is not None


def test_each_joined_backbone_takes_its_own_weights(files, tmp_path, monkeypatch):
    import json
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    good = [p for k, p in enumerate(files) if k != 2]
    both = FeatureSpec("efficientnet_lite0+efficientnet_lite0", 64, weights=(None, "imagenet"))
    assert [c.weights for c in both.components()] == [None, "imagenet"]
    assert FeatureSpec.from_dict(json.loads(json.dumps(both.to_dict()))) == both   # a JSON list read back
    assert FeatureSpec("efficientnet_lite0", 64, weights=["imagenet"]).weights == "imagenet"   # one value: one spec
    assert both.key != FeatureSpec("efficientnet_lite0+efficientnet_lite0", 64).key
    joined, failed = extract_features(good, both, progress=False)
    imagenet, _ = extract_features(good, FeatureSpec("efficientnet_lite0", 64), progress=False)
    assert not failed and joined.shape == (len(good), 2 * imagenet.shape[1])
    np.testing.assert_allclose(joined[:, imagenet.shape[1]:], imagenet, rtol=1e-6)
    assert not np.allclose(joined[:, :imagenet.shape[1]], imagenet, rtol=0.1)   # the random Lite0
    with pytest.raises(ValueError, match="2 entries for the 1 backbones"):
        FeatureSpec("efficientnet_lite0", 64, weights=("imagenet", None))


def test_random_backbones_are_drawn_on_demand_and_never_cached(files, tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    spec = FeatureSpec("efficientnet_lite0", 32, "pooled", weights=None)
    assert spec.random_weights and not FeatureSpec("efficientnet_lite0", 32).random_weights
    assert FeatureSpec("efficientnet_lite0+efficientnet_lite1", 32, weights=("imagenet", None)).random_weights
    from painter.features.serving import draw_random
    draws = []
    for seed in (0, 1, 0):
        keras.utils.set_random_seed(seed)
        draw_random(spec)
        draws.append(extract_features(files[:2], spec, progress=False)[0])
        np.testing.assert_array_equal(extract_features(files[:2], spec, progress=False)[0], draws[-1])   # kept
    assert not np.allclose(draws[0], draws[1], rtol=0.1, atol=0)   # another seed, another backbone
    np.testing.assert_allclose(draws[0], draws[2], rtol=1e-5)   # the same seed, the same draw
    with pytest.raises(ValueError, match="no random backbone"):
        draw_random(FeatureSpec("efficientnet_lite0", 32))
    assert not (tmp_path / "cache" / "features").exists() and not (tmp_path / "cache" / "exports").exists()


def test_a_rewritten_weights_file_gets_a_new_feature_model(tmp_path, monkeypatch):
    import os
    from painter.features import serving
    weights = tmp_path / "tuned.weights.h5"
    weights.write_bytes(b"first")
    built = []
    monkeypatch.setattr(serving, "feature_runner", lambda spec: built.append(spec) or object())
    serving.feature_model.cache_clear()
    spec = FeatureSpec("efficientnet_lite0", 64, weights=str(weights))
    first = serving.feature_model(spec)
    assert serving.feature_model(spec) is first and len(built) == 1   # once per spec and process
    weights.write_bytes(b"other")   # fine-tuned again, same path
    os.utime(weights, ns=(1, 1))
    assert serving.feature_model(spec) is not first and len(built) == 2
    serving.feature_model.cache_clear()


def test_zoom_adds_the_mean_of_enlarged_views(files, tmp_path):
    """FeatureSpec(zoom=2): [the image's statistics, the mean of its four quadrants' statistics,
    each quadrant enlarged to the input size]; the default's key and file form are unchanged."""
    import json

    import keras
    from keras import ops
    plain = FeatureSpec("efficientnet_lite0", 64, weights="imagenet")
    zoom = FeatureSpec("efficientnet_lite0", 64, weights="imagenet", zoom=2)
    assert "zoom" not in plain.to_dict() and zoom.to_dict()["zoom"] == 2 and zoom.key != plain.key
    assert FeatureSpec.from_dict(json.loads(json.dumps(zoom.to_dict()))) == zoom
    joined = FeatureSpec("efficientnet_lite0+efficientnet_lite0", 64, zoom=[2, 1])
    assert [c.zoom for c in joined.components()] == [2, 1] and FeatureSpec(zoom=[3, 3]).zoom == 3
    for bad in (0, 1.5, True, (2, 1, 1)):
        with pytest.raises(ValueError, match="FeatureSpec.zoom"):
            FeatureSpec(zoom=bad)
    np.testing.assert_array_equal(std_columns(zoom), np.concatenate([std_columns(plain)] * 2))
    from painter.same_artist.fusion import _features   # what a refused base's message says
    assert _features(zoom) == "efficientnet_lite0 at 64 px (style, weights imagenet, zoom 2)"
    assert _features(plain) == "efficientnet_lite0 at 64 px (style, weights imagenet)"
    x = load_array(files[0], 64)[None].astype(np.float32)
    model, inner = build_feature_model(zoom), build_feature_model(plain)
    f = model.predict_on_batch(x)[0]
    d = len(std_columns(plain))
    np.testing.assert_allclose(f[:d], inner.predict_on_batch(x)[0], rtol=1e-5, atol=1e-6)
    quadrants = [ops.image.resize(x[:, r:r + 32, c:c + 32], (64, 64)) for r in (0, 32) for c in (0, 32)]
    by_hand = np.mean([inner.predict_on_batch(np.asarray(q))[0] for q in quadrants], axis=0)
    np.testing.assert_allclose(f[d:], by_hand, rtol=1e-4, atol=1e-5)
    assert not np.allclose(f[d:], f[:d], rtol=0.05)   # the views see something else
    model.save(tmp_path / "zoom.keras")
    again = keras.saving.load_model(tmp_path / "zoom.keras", safe_mode=True)
    np.testing.assert_allclose(again.predict_on_batch(x)[0], f, rtol=1e-5, atol=1e-6)


def test_a_store_at_an_fsspec_url_keeps_names_and_heals_its_shards(files, tmp_path, monkeypatch):
    """$PAINTER_FEATURE_STORE: the stores at a URL (here fsspec's in-memory filesystem, as an
    object store would be), written and read as the local ones are."""
    import fsspec
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    spec = FeatureSpec("efficientnet_lite0", 32, "pooled")
    good = [files[k] for k in (0, 1, 3, 4)]
    local, _ = extract_features(good, spec, progress=False)
    monkeypatch.setenv("PAINTER_FEATURE_STORE", "memory://painter-test/features")
    remote, failed = extract_features(good + [files[2]], spec, batch_size=2, progress=False)
    np.testing.assert_array_equal(remote[:4], local)
    assert list(failed) == [files[2]] and np.isnan(remote[4]).all()
    fs = fsspec.filesystem("memory")
    runtime = getattr(feature_model(spec), "runtime", "keras")
    store = f"/painter-test/features/{spec.key if runtime == 'keras' else f'{spec.key}-{runtime}'}"
    keys_files = sorted(fs.glob(f"{store}/shard_*.keys.npy"))
    assert len(keys_files) == 1 and not fs.glob(f"{store}/*.part.npy")   # one shard, no temporary file left
    again, _ = extract_features(good, spec, progress=False, model=_MustNotRunModel(spec))
    np.testing.assert_array_equal(again, local)
    fs.pipe(keys_files[0], b"\x93NUMPY garbled")
    with pytest.warns(UserWarning, match="damaged feature cache shard"):
        healed, _ = extract_features(good, spec, progress=False)
    np.testing.assert_array_equal(healed, local)
    assert fs.exists(f"{store}/damaged/{keys_files[0].rsplit('/', 1)[-1]}")
    fs.rm("/painter-test", recursive=True)
