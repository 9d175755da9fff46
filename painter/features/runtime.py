"""Feature models exported for fast CPU inference (ONNX Runtime, LiteRT or OpenVINO).

A frozen feature model never changes, so it is exported once with Keras's own
``model.export(...)`` into ``<cache>/exports/<spec.key>-<runtime>/`` and run by the runtime,
which is faster than Keras ``predict_on_batch`` on a CPU (``benchmarks/runtime_choice.py``).

Loading and running an export imports numpy and the runtime only, never TensorFlow or Keras,
so one-shot commands start fast; only exporting needs Keras. Keep it that way: no top-level
import of keras, tensorflow or a painter module that imports them.

``PAINTER_RUNTIME=keras|onnx|litert|openvino`` forces a runtime; default ``DEFAULT_RUNTIME``.

Exporting the default feature models takes 20-25 s, answering once with Keras a few seconds: inside
``deferred_exports()`` (painter's one-shot commands) a missing export is not made but left to a
detached process (``python -m painter.features.runtime``), so that the next call finds it.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..cache import cache_dir, content_key, file_digest
from ..errors import first_line
from ..quiet import native_stderr_silenced

try:
    import fcntl
except ImportError:   # Windows: no lock to hand over, so exports are made in-process, as by long jobs
    fcntl = None

__all__ = ["RUNTIMES", "DEFAULT_RUNTIME", "ExportError", "ExportedModel", "export_model", "load_exported",
           "feature_runner", "feature_runtime", "saved_model_runner", "load_keras_file", "chosen_runtime",
           "export_dir", "FORMATS", "deferred_exports", "export_in_background", "wait_for_exports"]

# runtime: (Keras export format, files the export writes (the first is loaded), module to import,
# what to pip install for it)
FORMATS = {
    "onnx": ("onnx", ("model.onnx",), "onnxruntime", "onnxruntime tf2onnx onnx"),
    "litert": ("litert", ("model.tflite",), "ai_edge_litert.interpreter", "ai-edge-litert"),
    "openvino": ("openvino", ("model.xml", "model.bin"), "openvino", "openvino"),
}
RUNTIMES = ("keras", *FORMATS)
# LiteRT and ONNX Runtime tie for speed on this 2-core CPU (1.3-1.8x Keras for the Lite0 and
# Lite1 style models, benchmarks/runtime_choice.py, issue 17); LiteRT is exported by TensorFlow's
# own converter (ONNX needs tf2onnx, which Keras patches for numpy 2) and loads in 0.02 s.
DEFAULT_RUNTIME = "litert"
MANIFEST = "manifest.json"
_MANIFEST_FORMAT = "painter-export-1"
LOCK, LOG = ".background.lock", "background.log"   # in <cache>/exports

_warned: set = set()


class ExportError(RuntimeError):
    """An export that is missing, damaged, foreign or cannot be loaded. ``str(err)`` names the file."""


# --- export (needs Keras) ------------------------------------------------------------------------

def export_model(keras_model, directory, runtime: str) -> Path:
    """Export ``keras_model`` for ``runtime`` into ``directory`` with a ``manifest.json``; return it.

    The model takes ``(batch, *input_shape)`` float32 and returns ``(batch, D)``.
    The export is written into a temporary sibling folder, manifest last, which is then renamed
    to ``directory``: an interrupted export never looks finished. A finished export already in
    ``directory`` (another process made the same one meanwhile) is kept, not replaced: a third
    process may be loading it.
    """
    _write_export(keras_model, Path(directory), runtime)
    return Path(directory)


def _write_export(keras_model, directory: Path, runtime: str) -> dict | None:
    """``export_model``'s work: the manifest of the files it put in ``directory``, or None when
    another process's finished export was there first and kept."""
    from .. import __version__

    if runtime not in FORMATS:
        raise ValueError(f"cannot export for runtime {runtime!r}; choose from {', '.join(FORMATS)}")
    fmt, files = FORMATS[runtime][:2]
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with warnings.catch_warnings():
            # tf2onnx's numpy-2 patch in Keras and the converters warn about their own internals
            warnings.simplefilter("ignore")
            level = logging.getLogger("tf2onnx").level
            logging.getLogger("tf2onnx").setLevel(logging.ERROR)
            try:
                # the input signature given, so a model never called yet exports too (ONNX needs one)
                keras_model.export(str(tmp / files[0]), format=fmt, verbose=False,
                                   input_signature=[keras_model.inputs[0]])
            finally:
                logging.getLogger("tf2onnx").setLevel(level)
        missing = [f for f in files if not (tmp / f).is_file()]
        if missing:
            raise ExportError(f"{tmp / missing[0]}: Keras's {fmt} export did not write it")
        manifest = {
            "format": _MANIFEST_FORMAT, "runtime": runtime, "file": files[0],
            "sha256": {f: file_digest(tmp / f, "sha256") for f in files},
            "input_shape": [int(d) for d in keras_model.input_shape[1:]],
            "output_dim": int(keras_model.output_shape[-1]),
            "painter_version": __version__,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(tmp, directory)   # one step; fails onto a folder that is not empty
        except OSError:
            if not (directory / MANIFEST).is_file():  # not another process's finished export of the same model
                raise
            return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


# --- load and run (numpy + the runtime only) -----------------------------------------------------

def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise ExportError(f"{path}: missing (no finished export in {directory})")
    try:
        manifest = json.loads(path.read_text())
        ok = manifest.get("format") == _MANIFEST_FORMAT and manifest.get("runtime") in FORMATS
        files = manifest["sha256"]
        shape, dim = [int(d) for d in manifest["input_shape"]], int(manifest["output_dim"])
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ExportError(f"{path}: garbled manifest ({type(e).__name__}: {e})") from None
    if not ok or set(files) != set(FORMATS[manifest["runtime"]][1]) or manifest.get("file") not in files:
        raise ExportError(f"{path}: not a painter export manifest (format, runtime or file list)")
    manifest["input_shape"], manifest["output_dim"] = shape, dim
    return manifest


def _check_files(directory: Path, manifest: dict):
    for name, expected in manifest["sha256"].items():
        path = directory / name
        if not path.is_file():
            raise ExportError(f"{path}: missing")
        if file_digest(path, "sha256") != expected:
            raise ExportError(f"{path}: SHA-256 differs from the manifest's (truncated, damaged or replaced)")


class ExportedModel:
    """An exported model run by its runtime; a stand-in for the Keras model in ``predict_images``.

    Attributes: ``runtime``, ``path`` (the loaded file), ``input_shape`` (e.g. ``(S, S, 3)``),
    ``input_size`` (``S`` for an image model, else None), ``output_shape`` (``(None, D)``) and
    ``prefers_overlap`` for ``features._image_batches``.
    """

    threads = None   # the runtime's threads: None, every core; a Dask worker sets its own share

    def __init__(self, directory, manifest: dict):
        self.runtime = manifest["runtime"]
        self.path = Path(directory) / manifest["file"]
        self.input_shape = tuple(manifest["input_shape"])
        self.input_size = self.input_shape[0] if len(self.input_shape) == 3 else None
        self.output_shape = (None, manifest["output_dim"])
        # Every runtime releases the GIL, yet decoding the next batch during the forward pass gained
        # nothing on 2 cores (end to end 0.96-1.06x, benchmarks/runtime_choice.py): both cores are busy.
        self.prefers_overlap = False
        threads = self.threads or os.cpu_count() or 1
        try:
            self._run = getattr(self, f"_load_{self.runtime}")(threads)
        except ImportError:   # not a bad file: the caller decides what to use instead
            raise
        except Exception as e:  # noqa: BLE001 - each runtime has its own error types for a bad file
            raise ExportError(f"{self.path}: {self.runtime} cannot load it ({_one_line(e)})") from None

    def _load_onnx(self, threads):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # idle worker threads sleep instead of spinning, leaving the cores to the decoding threads
        # and to other processes (end to end as fast or faster on this shared 2-core machine)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]   # run() releases the GIL

    def _load_litert(self, threads):
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_silenced():   # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter = Interpreter(str(self.path), num_threads=threads)
        inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
        shape = [None]

        def run(x):
            if shape[0] != x.shape:   # the batch size is fixed per allocation
                interpreter.resize_tensor_input(inp, x.shape)
                with native_stderr_silenced():
                    interpreter.allocate_tensors()
                shape[0] = x.shape
            interpreter.set_tensor(inp, x)
            interpreter.invoke()
            return interpreter.get_tensor(out)
        return run

    def _load_openvino(self, threads):
        import openvino as ov

        # f32: on a CPU with bf16 instructions OpenVINO would otherwise run in bf16 (1e-2 error)
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        request = ov.Core().compile_model(str(self.path), "CPU", config).create_infer_request()
        return lambda x: request.infer({0: x}, share_inputs=True)[0]

    def predict_on_batch(self, images) -> np.ndarray:
        """``(b, *input_shape)`` float32 or uint8 (images RGB 0..255) -> ``(b, D)`` float32."""
        x = np.ascontiguousarray(images, dtype=np.float32)
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"{self.path}: expects (batch, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        return np.asarray(self._run(x), dtype=np.float32)

    def __repr__(self):
        return f"ExportedModel({self.runtime}, {self.path}, input {self.input_shape}, output {self.output_shape})"


def load_exported(directory) -> ExportedModel:
    """Load an export made by ``export_model``, after checking every file's SHA-256.

    Raises ``ExportError`` naming the file for a missing or garbled manifest, a missing,
    truncated or replaced model file, or one the runtime cannot load; ``ImportError`` when the
    runtime package is not installed.
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    _check_files(directory, manifest)
    return _open_export(directory, manifest)


def _open_export(directory: Path, manifest: dict) -> ExportedModel:
    importlib.import_module(FORMATS[manifest["runtime"]][2])
    return ExportedModel(directory, manifest)


# --- choosing a runner for a feature spec -------------------------------------------------------

def chosen_runtime() -> str:
    """``$PAINTER_RUNTIME`` if set (checked), else ``DEFAULT_RUNTIME``."""
    runtime = os.environ.get("PAINTER_RUNTIME", "").strip().lower() or DEFAULT_RUNTIME
    if runtime not in RUNTIMES:
        raise ValueError(f"PAINTER_RUNTIME={runtime!r} is not one of {', '.join(RUNTIMES)}")
    return runtime


def export_dir(spec, runtime: str) -> Path:
    """``<cache>/exports/<spec.key>-<runtime>``: one folder per feature model and runtime."""
    return cache_dir() / "exports" / f"{spec.key}-{runtime}"


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {first_line(e)}"


def _warn(message: str):
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _keras_model(spec):
    from ..quiet import import_tensorflow_quietly
    from .extract import build_feature_model
    import_tensorflow_quietly()
    return build_feature_model(spec)


def feature_runner(spec, runtime: str | None = None):
    """The fastest runner of one single-backbone ``FeatureSpec``: ``predict_on_batch``
    ``(b, S, S, 3)`` RGB 0..255 -> ``(b, D)`` float32, and ``output_shape``.

    Returns an ``ExportedModel`` (exported once into ``export_dir(spec, runtime)``), or the
    Keras model for ``runtime="keras"`` or when the runtime cannot be imported or the export
    fails (one warning saying why). A damaged export is reported in one warning naming it,
    deleted and made again. ``runtime`` defaults to ``chosen_runtime()``.
    """
    spec = _one_backbone(spec)
    runtime = runtime or chosen_runtime()
    return _exported_or_keras(export_dir(spec, runtime) if runtime in RUNTIMES else None, lambda: _keras_model(spec),
                              runtime, spec.key, lambda: {"spec": spec.to_dict()}, expected_size=spec.image_size)


def feature_runtime(spec, runtime: str | None = None) -> str:
    """The runtime ``feature_runner(spec, runtime)`` answers with, told without building or loading
    a model (it names the feature store, which a fully cached call reads alone): ``runtime``
    when its export is there or is to be made now, else ``"keras"``. Unforeseen: an export that
    fails to be made, or is found damaged while deferring (the runner is then Keras)."""
    spec = _one_backbone(spec)
    runtime = runtime or chosen_runtime()
    if not _runs_exports(runtime):
        return "keras"
    return runtime if _deferred is None or (export_dir(spec, runtime) / MANIFEST).is_file() else "keras"


def _one_backbone(spec):
    if "+" in spec.backbone:
        raise ValueError(f"feature_runner takes one backbone, got {spec.backbone!r}; use spec.components()")
    return spec.components()[0] if spec.image_size is None else spec


def saved_model_runner(keras_file, runtime: str | None = None):
    """A saved ``.keras`` model with one input (a same-artist embedder) exported once, cached by
    the file's content (``<cache>/exports/model-<SHA-1>-<runtime>``), so that using a saved model
    needs no TensorFlow; else, as ``feature_runner``, the Keras model with one warning."""
    runtime = runtime or chosen_runtime()
    digest = content_key(keras_file)[:20]   # hashed once per process while the file is unchanged
    directory = cache_dir() / "exports" / f"model-{digest}-{runtime}"
    return _exported_or_keras(directory, lambda: load_keras_file(keras_file), runtime, Path(keras_file).name,
                              lambda: {"keras_file": str(Path(keras_file).resolve())})


def load_keras_file(path):
    """``painter.layers.load_model(path)`` (safe_mode, painter's layers registered), TensorFlow
    imported quietly."""
    from ..quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    from ..layers import load_model
    return load_model(path)


def _exported_or_keras(directory, build_keras, runtime, what, job, expected_size=None):
    """The export in ``directory`` (made from ``build_keras()`` when missing or damaged), or the
    Keras model when ``runtime`` is ``"keras"``, cannot be imported, or the export fails; inside
    ``deferred_exports()`` a missing export gives the Keras model too, and ``job()`` (what
    ``export_jobs`` needs to make it) is queued."""
    if not _runs_exports(runtime):
        return build_keras()
    if directory.exists():
        try:
            runner = load_exported(directory)
            if runner.runtime != runtime or (expected_size and runner.input_size != expected_size):
                raise ExportError(f"{runner.path}: a {runner.runtime} export of {runner.input_shape} inputs, "
                                  f"not {runtime} at {expected_size} px")
            return runner
        except ExportError as e:
            _warn(f"damaged export: {e}; deleting {directory.name} and exporting again")
            shutil.rmtree(directory, ignore_errors=True)
    if _deferred is not None:
        _deferred.append({**job(), "runtime": runtime})
        return build_keras()
    model = build_keras()
    try:
        # files hashed for the manifest just now are not hashed again; another process's export is checked
        manifest = _write_export(model, directory, runtime)
        return _open_export(directory, manifest) if manifest else load_exported(directory)
    except Exception as e:  # noqa: BLE001 - any export failure leaves Keras, which always works
        _warn(f"runtime {runtime}: export of {what} failed ({_one_line(e)}); using Keras")
        shutil.rmtree(directory, ignore_errors=True)
        return model


def _runs_exports(runtime) -> bool:
    """Whether ``runtime`` runs exports: not Keras, and importable (else one warning)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    return runtime != "keras" and _importable(runtime)


def _importable(runtime) -> bool:
    try:
        importlib.import_module(FORMATS[runtime][2])
        return True
    except ImportError as e:
        if runtime not in _warned:   # once per process, not once per backbone
            _warned.add(runtime)
            _warn(f"runtime {runtime} unavailable ({_one_line(e)}; pip install {FORMATS[runtime][3]}); "
                  f"using Keras for the feature models")
        return False


# --- exports deferred to a background process ---------------------------------------------------

_deferred: list | None = None   # inside deferred_exports(): the exports skipped, as export_jobs() jobs


@contextlib.contextmanager
def deferred_exports():
    """Inside the block a missing export is not made: the Keras model answers (it is built to
    export anyway), and on leaving the block the skipped exports are started in a detached
    process (``export_in_background``). For one-shot commands, which a 20 s export would make
    wait; long jobs export in-process, where the export pays off at once. Its features go to the
    Keras feature store, as every Keras model's (``extract._feature_store``)."""
    global _deferred
    if _deferred is not None or fcntl is None:   # already deferring, or Windows
        yield
        return
    _deferred = []
    try:
        yield
    finally:
        jobs, _deferred = _deferred, None
    if jobs:   # only after a command that answered: a failed one leaves the cache as it was
        try:
            export_in_background(jobs)
        except OSError as e:   # the answer is given; the next call exports in-process instead
            _warn(f"could not start the background export ({_one_line(e)}); the next run will export")


def export_in_background(jobs) -> bool:
    """Start ``python -m painter.features.runtime JOBS`` detached, its output in
    ``<cache>/exports/background.log``, unless another one is running; returns whether it started.

    One exporter at a time: it holds ``<cache>/exports/.background.lock``, taken here and handed
    to it, so that ``wait_for_exports()`` sees it from the moment this returns; the lock goes
    with the process, however it ends.
    """
    folder = cache_dir() / "exports"
    folder.mkdir(exist_ok=True)
    lock = _try_lock(folder / LOCK)
    if lock is None:
        return False
    root = str(Path(__file__).resolve().parents[2])   # this painter, whatever the child's sys.path
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    try:
        with open(folder / LOG, "w") as log:
            subprocess.Popen([sys.executable, "-m", "painter.features.runtime", json.dumps(jobs)], env=env,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, pass_fds=(lock,),
                             start_new_session=True)
    finally:
        os.close(lock)
    return True


def wait_for_exports(timeout: float = 600.0) -> bool:
    """Wait until no background export runs; False if one still runs after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while (lock := _try_lock(cache_dir() / "exports" / LOCK)) is None:
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    os.close(lock)
    return True


def _try_lock(path: Path):
    """A descriptor of ``path`` holding its exclusive lock, or None when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def export_jobs(jobs):
    """Make each job's export (``{"spec": FeatureSpec dict | "keras_file": path, "runtime": ...}``);
    one already there is only checked. One line per job on stdout (the background log)."""
    from .spec import FeatureSpec
    for job in jobs:
        start = time.time()
        what = f"feature model {job['spec']}" if "spec" in job else f"embedder {job['keras_file']}"
        try:
            runner = (feature_runner(FeatureSpec.from_dict(job["spec"]), job["runtime"]) if "spec" in job
                      else saved_model_runner(job["keras_file"], job["runtime"]))
            done = "exported" if isinstance(runner, ExportedModel) else "not exported (see the warning)"
        except Exception as e:  # noqa: BLE001 - e.g. a model file deleted meanwhile: the other jobs still run
            done = f"failed ({_one_line(e)})"
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {what} for {job['runtime']}: {done} "
              f"({time.time() - start:.1f} s)", flush=True)


if __name__ == "__main__":   # the background exporter (export_in_background); runs the imported module's code
    from painter.features.runtime import export_jobs as _export_jobs
    _export_jobs(json.loads(sys.argv[1]))
