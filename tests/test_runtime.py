"""Exported feature models (painter.runtime): same features as Keras, damage detected and
rebuilt, Keras fallback, and no TensorFlow import when running a cached export."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from painter.cache import content_key, file_digest
from painter.data.images import load_array
from painter import runtime
from painter.features import FeatureSpec, build_feature_model, extract_features, serving as features
from painter.runtime import background
from painter.runtime import runners as runtime_runners
from tests.conftest import PBN_DEV

LITE0 = FeatureSpec("efficientnet_lite0", 224, "style")
LITE1 = FeatureSpec("efficientnet_lite1", 240, "style")
MODULES = {"onnx": "onnxruntime", "litert": "ai_edge_litert", "openvino": "openvino"}


def needs(rt):
    return pytest.mark.skipif(importlib.util.find_spec(MODULES[rt]) is None, reason=f"{MODULES[rt]} not installed")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh PAINTER_CACHE for this module (the ImageNet weights are converted into it again)."""
    path = tmp_path_factory.mktemp("painter_cache")
    saved = os.environ.get("PAINTER_CACHE"), os.environ.get("PAINTER_RUNTIME")
    os.environ["PAINTER_CACHE"] = str(path)
    os.environ.pop("PAINTER_RUNTIME", None)
    yield path
    for name, value in zip(("PAINTER_CACHE", "PAINTER_RUNTIME"), saved):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    """A synthetic painting, and 4 real ones from pbn_dev when ../shared is there."""
    from painter.data.synthetic import artist_traits, paint
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(3)
    paint(artist_traits(rng), 300, rng).save(folder / "synthetic.jpg", quality=90)
    if (PBN_DEV / "test.zip").is_file():
        with zipfile.ZipFile(PBN_DEV / "test.zip") as z:
            for name in sorted(m for m in z.namelist() if m.endswith(".jpg"))[:4]:
                (folder / Path(name).name).write_bytes(z.read(name))
    return sorted(folder.glob("*.jpg"))


def batch(files, size):
    return np.stack([load_array(f, size) for f in files])


_keras_refs = {}


def keras_features(spec, x):
    if spec.key not in _keras_refs:
        _keras_refs[spec.key] = build_feature_model(spec)
    return np.asarray(_keras_refs[spec.key].predict_on_batch(x.astype(np.float32)))


def assert_close(y, ref, tol=1e-3):
    """Relative to the features' scale: max |y - ref| <= tol * max |ref|, and per row in L2.
    (Not per element: std columns of near-constant channels are float32 noise in Keras too.)"""
    assert y.shape == ref.shape and y.dtype == np.float32
    assert np.abs(y - ref).max() <= tol * np.abs(ref).max()
    assert (np.linalg.norm(y - ref, axis=1) <= tol * np.linalg.norm(ref, axis=1)).all()


def runner_quietly(spec, rt=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = features.feature_runner(spec, rt)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]   # a clean export warns about nothing
    return runner


@pytest.mark.parametrize("rt", [pytest.param(r, marks=needs(r)) for r in MODULES])
def test_lite0_export_agrees_with_keras(cache, image_files, rt):
    runner = runner_quietly(LITE0, rt)
    assert isinstance(runner, runtime.ExportedModel) and runner.runtime == rt
    assert runner.input_size == 224 and runner.output_shape == (None, 7936)
    x = batch(image_files, 224)
    y = runner.predict_on_batch(x)
    assert_close(y, keras_features(LITE0, x))
    np.testing.assert_array_equal(runner.predict_on_batch(x.astype(np.float32)), y)   # uint8 or float in
    with pytest.raises(ValueError, match="expects"):
        runner.predict_on_batch(x[:, :100])


@needs(runtime.DEFAULT_RUNTIME)
def test_lite1_default_export_agrees_with_keras(cache, image_files):
    runner = runner_quietly(LITE1)
    assert isinstance(runner, runtime.ExportedModel) and runner.runtime == runtime.DEFAULT_RUNTIME
    x = batch(image_files, 240)
    assert_close(runner.predict_on_batch(x), keras_features(LITE1, x))


@needs(runtime.DEFAULT_RUNTIME)
def test_embed_files_uses_the_export(cache, image_files, monkeypatch):
    features.feature_model.cache_clear()
    out, failed = extract_features(image_files, LITE0, cache=False, progress=False)
    assert isinstance(features.feature_model(LITE0), runtime.ExportedModel) and not failed
    assert_close(out, keras_features(LITE0, batch(image_files, 224)))


def test_manifest_records_the_export(cache):
    directory = features.export_dir(LITE0, runtime.DEFAULT_RUNTIME)
    runner_quietly(LITE0)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["runtime"] == runtime.DEFAULT_RUNTIME and manifest["input_shape"] == [224, 224, 3]
    assert manifest["output_dim"] == 7936 and manifest["painter_version"]
    for name, digest in manifest["sha256"].items():
        assert file_digest(directory / name, "sha256") == digest
    assert not [p for p in directory.parent.iterdir() if ".tmp-" in p.name]


@pytest.mark.parametrize("damage", ["truncate", "replace", "garble manifest", "drop manifest"])
def test_load_exported_names_the_damaged_file(cache, tmp_path, damage):
    import shutil
    good = features.export_dir(LITE0, runtime.DEFAULT_RUNTIME)
    runner_quietly(LITE0)
    copy = tmp_path / "export"
    shutil.copytree(good, copy)
    model = copy / json.loads((copy / "manifest.json").read_text())["file"]
    if damage == "truncate":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
        bad, why = model, "SHA-256"
    elif damage == "replace":   # a foreign but well-formed file
        model.write_bytes((copy / "manifest.json").read_bytes())
        bad, why = model, "SHA-256"
    elif damage == "garble manifest":
        (copy / "manifest.json").write_text('{"format": "painter-export-1", "runt')
        bad, why = copy / "manifest.json", "garbled"
    else:
        (copy / "manifest.json").unlink()
        bad, why = copy / "manifest.json", "missing"
    with pytest.raises(runtime.ExportError, match=why) as err:
        runtime.load_exported(copy)
    assert str(err.value).startswith(str(bad))


@needs(runtime.DEFAULT_RUNTIME)
@pytest.mark.parametrize("damage", ["truncate", "garble manifest"])
def test_damaged_export_is_reported_deleted_and_rebuilt(cache, image_files, damage):
    directory = features.export_dir(LITE0, runtime.DEFAULT_RUNTIME)
    x = batch(image_files, 224)
    clean = runner_quietly(LITE0).predict_on_batch(x)
    manifest = json.loads((directory / "manifest.json").read_text())
    if damage == "truncate":
        model = directory / manifest["file"]
        model.write_bytes(model.read_bytes()[:1000])
    else:
        (directory / "manifest.json").write_text("garbled {")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = features.feature_runner(LITE0)
    assert len(caught) == 1 and str(directory) in str(caught[0].message) and "\n" not in str(caught[0].message)
    assert "damaged" in str(caught[0].message)
    assert isinstance(runner, runtime.ExportedModel)
    np.testing.assert_allclose(runner.predict_on_batch(x), clean, rtol=0, atol=1e-6 * np.abs(clean).max())
    runner_quietly(LITE0)   # the rebuilt export loads cleanly


def test_painter_runtime_keras_forces_keras(cache, monkeypatch):
    import keras
    monkeypatch.setenv("PAINTER_RUNTIME", "keras")
    assert runtime.chosen_runtime() == "keras"
    assert isinstance(runner_quietly(LITE0), keras.Model)
    monkeypatch.setenv("PAINTER_RUNTIME", "tensorrt")
    with pytest.raises(ValueError, match="PAINTER_RUNTIME='tensorrt'"):
        features.feature_runner(LITE0)


def test_missing_runtime_falls_back_to_keras_with_one_warning(cache, monkeypatch):
    import keras
    for _fmt, _files, module, _pip in runtime.FORMATS.values():
        monkeypatch.setitem(sys.modules, module, None)   # import fails as if not installed
    monkeypatch.setattr(runtime_runners, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runners = [features.feature_runner(spec, "onnx") for spec in (LITE0, LITE1, LITE0)]
    assert all(isinstance(r, keras.Model) for r in runners)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "runtime onnx unavailable" in message and "pip install onnxruntime" in message
    assert "using Keras" in message and "\n" not in message
    with pytest.raises(ValueError, match="unknown runtime 'tflite'"):
        features.feature_runner(LITE0, "tflite")


@needs(runtime.DEFAULT_RUNTIME)
def test_failed_export_falls_back_and_leaves_nothing(cache, monkeypatch):
    import keras
    spec = FeatureSpec("efficientnet_lite0", 64, "pooled")

    def broken_export(self, filepath, **kwargs):
        Path(filepath).write_bytes(b"half an export")
        raise OSError("disk full")
    monkeypatch.setattr(keras.Model, "export", broken_export)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = features.feature_runner(spec)
    assert isinstance(runner, keras.Model) and len(caught) == 1
    assert "disk full" in str(caught[0].message) and "using Keras" in str(caught[0].message)
    exports = cache / "exports"
    assert not features.export_dir(spec, runtime.DEFAULT_RUNTIME).exists()
    assert not [p for p in exports.iterdir() if ".tmp-" in p.name]


@needs(runtime.DEFAULT_RUNTIME)
def test_small_dense_model_exports(tmp_path):
    import keras
    model = keras.Sequential([keras.Input((40,)), keras.layers.Dense(8), keras.layers.UnitNormalization()])
    runner = runtime.load_exported(runtime.export_model(model, tmp_path / "dense", runtime.DEFAULT_RUNTIME))
    assert runner.input_shape == (40,) and runner.input_size is None and runner.output_shape == (None, 8)
    for n in (1, 5):
        v = np.random.default_rng(n).normal(size=(n, 40)).astype(np.float32)
        np.testing.assert_allclose(runner.predict_on_batch(v), np.asarray(model(v)), rtol=1e-5, atol=1e-6)


@needs(runtime.DEFAULT_RUNTIME)
def test_a_new_export_and_a_saved_model_are_hashed_once(cache, tmp_path, monkeypatch):
    """An export is hashed when written and at each later load, not again right after writing;
    the saved model once per process while it is unchanged."""
    import keras
    import painter.cache
    keras.Sequential([keras.Input((40,)), keras.layers.Dense(8)]).save(tmp_path / "dense.keras")
    hashed = []

    def counting(path, algorithm="sha1"):
        hashed.append(Path(path).name)
        return file_digest(path, algorithm)
    for module in (runtime.export, runtime.backends):
        monkeypatch.setattr(module, "file_digest", counting)
    monkeypatch.setattr(painter.cache, "file_digest", counting)
    runners = [runtime.saved_model_runner(tmp_path / "dense.keras") for _ in range(2)]
    assert all(isinstance(r, runtime.ExportedModel) for r in runners)
    files = list(runtime.FORMATS[runtime.DEFAULT_RUNTIME][1])
    assert hashed == ["dense.keras"] + files + files   # the model; the export written, then loaded


@needs(runtime.DEFAULT_RUNTIME)
def test_running_a_cached_export_does_not_import_tensorflow(cache):
    runner_quietly(LITE0)
    # feature_runner takes any object with the spec's backbone, image_size and key
    code = f"""
import sys, numpy as np
from types import SimpleNamespace
from painter.features.serving import feature_runner
spec = SimpleNamespace(backbone="efficientnet_lite0", image_size=224, key={LITE0.key!r})
runner = feature_runner(spec)
y = runner.predict_on_batch(np.zeros((2, 224, 224, 3), np.uint8))
print(type(runner).__name__, y.shape, sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""
    env = {**os.environ, "PAINTER_CACHE": str(cache), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "ExportedModel (2, 7936) []"


# --- one-shot commands: the export is deferred to a background process -------------------------

SMALL = FeatureSpec("efficientnet_lite0", 64, "style")


def _predict_pair_process(cache, a, b, model_dir):
    """``painter predict-pair`` in a new process, then in the same process (the models it used
    still loaded) the exact probability, which runtimes answered and whether TensorFlow was imported."""
    code = f"""
import json, sys
from painter.cli import main
from painter.same_artist.predict import load_pair_model, predict_pair
code = main(["predict-pair", {str(a)!r}, {str(b)!r}, "--model", {str(model_dir)!r}])
from painter.features import feature_model
from painter.features.spec import FeatureSpec
print(json.dumps({{"code": code, "p": predict_pair({str(a)!r}, {str(b)!r}, model={str(model_dir)!r}),
                  "embedder": type(load_pair_model({str(model_dir)!r}).embedder).__name__,
                  "features": type(feature_model(FeatureSpec.from_dict({SMALL.to_dict()!r}))).__name__,
                  "tensorflow": "tensorflow" in sys.modules}}))
"""
    env = {**os.environ, "PAINTER_CACHE": str(cache), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("PAINTER_RUNTIME", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and not out.stderr, out.stderr
    verdict, info = out.stdout.strip().split("\n")
    return verdict, json.loads(info)


@needs(runtime.DEFAULT_RUNTIME)
def test_cold_one_shot_answers_with_keras_and_the_next_call_uses_the_background_export(
        lda_model_dir, clean_dir, tmp_path, monkeypatch):
    a, b = sorted((clean_dir / "test").glob("*.jpg"))[:2]
    cache = tmp_path / "cache"
    cold_verdict, cold = _predict_pair_process(cache, a, b, lda_model_dir)
    assert cold["code"] == 0 and cold["tensorflow"]
    assert cold["embedder"] != "ExportedModel" and cold["features"] != "ExportedModel"   # Keras answered
    keras_store, litert_store = cache / "features" / SMALL.key, cache / "features" / f"{SMALL.key}-litert"
    assert list(keras_store.glob("shard_*.keys.npy")) and not litert_store.exists()   # Keras features, Keras store

    monkeypatch.setenv("PAINTER_CACHE", str(cache))
    assert runtime.wait_for_exports(timeout=240)
    log = (cache / "exports" / background.LOG).read_text()
    assert log.count(": exported") == 2, log   # the feature model and the embedder
    embedder = content_key(lda_model_dir / "embedder.keras")[:20]
    exports = [features.export_dir(SMALL, runtime.DEFAULT_RUNTIME),
               cache / "exports" / f"model-{embedder}-{runtime.DEFAULT_RUNTIME}"]
    for directory in exports:
        assert runtime.load_exported(directory).runtime == runtime.DEFAULT_RUNTIME
    assert not [p for p in (cache / "exports").iterdir() if ".tmp-" in p.name]

    warm_verdict, warm = _predict_pair_process(cache, a, b, lda_model_dir)
    assert warm["embedder"] == warm["features"] == "ExportedModel" and not warm["tensorflow"]
    assert list(litert_store.glob("shard_*.keys.npy"))
    assert warm_verdict == cold_verdict and warm["p"] == pytest.approx(cold["p"], abs=1e-3)


def _deferring(monkeypatch, spec=SMALL, rt=None):
    """``feature_runner(spec, rt)`` inside ``deferred_exports()``: (runner, jobs handed to the
    background, warnings)."""
    started = []
    monkeypatch.setattr(background, "export_in_background", started.append)
    with warnings.catch_warnings(record=True) as caught, runtime.deferred_exports():
        warnings.simplefilter("always")
        runner = features.feature_runner(spec, rt)
    return runner, started, [str(w.message) for w in caught]


def test_deferred_export_is_queued_not_made(cache, monkeypatch):
    import keras
    runner, started, caught = _deferring(monkeypatch)
    assert isinstance(runner, keras.Model) and not caught
    assert started == [[{"spec": SMALL.to_dict(), "runtime": runtime.DEFAULT_RUNTIME}]]
    assert not features.export_dir(SMALL, runtime.DEFAULT_RUNTIME).exists()


@needs(runtime.DEFAULT_RUNTIME)
def test_an_export_finished_while_the_process_runs_replaces_its_keras_runner(cache, monkeypatch):
    """A Keras runner that stood in for a deferred export gives way to the export once it is
    finished: the next embedding in the same process runs the export and reads its store."""
    import keras
    monkeypatch.setattr(background, "export_in_background", lambda jobs: True)
    features.feature_model.cache_clear()
    shutil.rmtree(features.export_dir(SMALL, runtime.DEFAULT_RUNTIME), ignore_errors=True)
    with runtime.deferred_exports():
        assert isinstance(features.feature_model(SMALL), keras.Model)
        assert features.serving_runtime(SMALL) == "keras"
    assert isinstance(features.feature_model(SMALL), keras.Model)   # no export yet: Keras stays
    features.feature_runner(SMALL)   # the background process finishes the export
    assert features.serving_runtime(SMALL) == runtime.DEFAULT_RUNTIME
    runner = features.feature_model(SMALL)
    assert isinstance(runner, runtime.ExportedModel) and features.feature_model(SMALL) is runner
    features.feature_model.cache_clear()
    shutil.rmtree(features.export_dir(SMALL, runtime.DEFAULT_RUNTIME))   # the tests below start without it


@needs(runtime.DEFAULT_RUNTIME)
def test_a_model_loaded_while_deferring_takes_its_finished_export(cache, lda_model_dir, monkeypatch):
    """The same for a same-artist model's embedder: once its export is finished, the loaded
    model's next embedding runs the export, with the same embeddings."""
    from painter.same_artist.model import PairModel
    monkeypatch.setattr(background, "export_in_background", lambda jobs: True)
    keras_file = lda_model_dir / "embedder.keras"
    shutil.rmtree(runtime.saved_model_dir(keras_file, runtime.DEFAULT_RUNTIME), ignore_errors=True)
    with runtime.deferred_exports():
        model = PairModel.load(lda_model_dir)
        x = np.random.default_rng(0).normal(size=(3, model.embedder.input_shape[1])).astype(np.float32)
        before = model.embed_features(x)
        assert not isinstance(model.embedder, runtime.ExportedModel)   # deferring: no export yet
    assert not isinstance(model.embedder, runtime.ExportedModel)
    runtime.saved_model_runner(keras_file)   # the background process finishes the export
    after = model.embed_features(x)
    assert isinstance(model.embedder, runtime.ExportedModel) and model.awaited_export is None
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4 * np.abs(before).max())


def test_deferring_keeps_keras_runtime_and_the_missing_runtime_warning(cache, monkeypatch):
    import keras
    monkeypatch.setenv("PAINTER_RUNTIME", "keras")
    runner, started, caught = _deferring(monkeypatch)
    assert isinstance(runner, keras.Model) and not started and not caught
    monkeypatch.delenv("PAINTER_RUNTIME")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setattr(runtime_runners, "_warned", set())
    runner, started, caught = _deferring(monkeypatch, rt="onnx")
    assert isinstance(runner, keras.Model) and not started
    assert len(caught) == 1 and "runtime onnx unavailable" in caught[0]


@needs(runtime.DEFAULT_RUNTIME)
def test_a_running_or_partial_export_is_never_loaded_nor_started_twice(cache, monkeypatch):
    """While a background exporter holds the lock and has written half its export, a one-shot
    call answers with Keras, ignores the half-written folder, and starts no second exporter."""
    import keras
    directory = features.export_dir(SMALL, runtime.DEFAULT_RUNTIME)
    partial = directory.with_name(f".{directory.name}.tmp-99999")
    partial.mkdir(parents=True)
    (partial / "model.tflite").write_bytes(b"half an export")
    lock = background._try_lock(cache / "exports" / background.LOCK)   # the running exporter's
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a second exporter was started"))
    try:
        with runtime.deferred_exports():
            runner = features.feature_runner(SMALL)
        assert isinstance(runner, keras.Model) and not directory.exists()
        assert not runtime.wait_for_exports(timeout=0.3)
    finally:
        os.close(lock)
        shutil.rmtree(partial)
    assert runtime.wait_for_exports(timeout=0)


@needs(runtime.DEFAULT_RUNTIME)
def test_an_export_finished_meanwhile_by_another_process_is_kept(tmp_path, monkeypatch):
    """Two processes exporting one model: the first to finish wins, the second neither replaces
    its folder (a third process may be loading it) nor leaves its own temporary folder."""
    import keras
    model = keras.Sequential([keras.Input((40,)), keras.layers.Dense(8)])
    target = tmp_path / "dense"
    real_export = keras.Model.export

    def export_while_another_finishes(self, filepath, **kwargs):
        with monkeypatch.context() as other:   # the other process, with its own pid
            other.setattr(os, "getpid", lambda: 99999)
            other.setattr(keras.Model, "export", real_export)
            runtime.export_model(self, target, runtime.DEFAULT_RUNTIME)
        (target / "theirs").write_text("")
        real_export(self, filepath, **kwargs)
    monkeypatch.setattr(keras.Model, "export", export_while_another_finishes)
    assert runtime.export_model(model, target, runtime.DEFAULT_RUNTIME) == target
    assert (target / "theirs").is_file()   # kept, not replaced
    assert runtime.load_exported(target).output_shape == (None, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense"]


@needs(runtime.DEFAULT_RUNTIME)
def test_long_commands_export_in_process(cache, clean_dir, tmp_path, monkeypatch):
    from painter.cli import main
    monkeypatch.setattr(background, "export_in_background", lambda jobs: pytest.fail(f"deferred {jobs}"))
    features.feature_model.cache_clear()
    spec = FeatureSpec("efficientnet_lite0", 48, "style", weights="artists")   # the CLI default for Lite0
    assert main(["index", str(clean_dir), "--out", str(tmp_path / "idx"), "--backbone", spec.backbone,
                 "--image-size", "48"]) == 0
    assert runtime.load_exported(features.export_dir(spec, runtime.DEFAULT_RUNTIME))


def test_background_export_starts_only_after_an_answer_and_never_masks_it(monkeypatch):
    if background.fcntl is None:
        pytest.skip("no background exports without file locks")
    started = []
    monkeypatch.setattr(background, "export_in_background", lambda jobs: started.append(jobs))
    with pytest.raises(ValueError, match="bad painting"):
        with runtime.deferred_exports():
            background.defer({"spec": {}, "runtime": "litert"})
            raise ValueError("bad painting")
    assert started == []   # a failed command starts nothing

    def cannot_start(jobs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(background, "export_in_background", cannot_start)
    with pytest.warns(RuntimeWarning, match="could not start the background export"):
        with runtime.deferred_exports():
            background.defer({"spec": {}, "runtime": "litert"})
