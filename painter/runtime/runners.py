"""Which runner answers for one model: its export for the chosen runtime (made when missing,
remade when damaged, left to the background process inside ``deferred_exports()``) or the Keras
model, with one warning saying why."""
from __future__ import annotations

import importlib
import os
import shutil
import warnings
from pathlib import Path

from ..cache import cache_dir, content_key
from .background import defer, deferring
from .backends import load_exported, open_export
from .export import FORMATS, MANIFEST, ExportError, one_line, write_export
from ..errors import ParameterError

__all__ = ["RUNTIMES", "DEFAULT_RUNTIME", "chosen_runtime", "export_folder", "export_ready", "exported_or_keras",
           "runs_exports", "saved_model_runner", "saved_model_dir", "finished_export", "load_keras_file"]

RUNTIMES = ("keras", *FORMATS)
# LiteRT and ONNX Runtime tie for speed on this 2-core CPU (1.3-1.8x Keras for the Lite0 and
# Lite1 style models, benchmarks/recipes/runtime_choice.py); LiteRT is exported by TensorFlow's
# own converter (ONNX needs tf2onnx, which Keras patches for numpy 2) and loads in 0.02 s.
DEFAULT_RUNTIME = "litert"

_warned: set = set()


def chosen_runtime() -> str:
    """``$PAINTER_RUNTIME`` if set (checked), else ``DEFAULT_RUNTIME``."""
    runtime = os.environ.get("PAINTER_RUNTIME", "").strip().lower() or DEFAULT_RUNTIME
    if runtime not in RUNTIMES:
        raise ParameterError(f"PAINTER_RUNTIME={runtime!r} is not one of {', '.join(RUNTIMES)}")
    return runtime


def export_folder(key: str, runtime: str) -> Path:
    """``<cache>/exports/<key>-<runtime>``: one folder per model (a feature spec's key) and runtime."""
    return cache_dir() / "exports" / f"{key}-{runtime}"



def export_ready(directory) -> bool:
    """Whether a finished export is in ``directory`` (its manifest is written last)."""
    return (Path(directory) / MANIFEST).is_file()


def _warn(message: str):
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def saved_model_runner(keras_file, runtime: str | None = None):
    """A saved ``.keras`` model with one input (a same-artist embedder) exported once, cached by
    the file's content (``<cache>/exports/model-<SHA-1>-<runtime>``), so that using a saved model
    needs no TensorFlow; else, as ``feature_runner``, the Keras model with one warning."""
    runtime = runtime or chosen_runtime()
    directory = saved_model_dir(keras_file, runtime)
    return exported_or_keras(directory, lambda: load_keras_file(keras_file), runtime, Path(keras_file).name,
                              lambda: {"keras_file": str(Path(keras_file).resolve())})


def saved_model_dir(keras_file, runtime: str) -> Path:
    """``<cache>/exports/model-<SHA-1>-<runtime>``: the export of a saved model, named by its content."""
    return export_folder(f"model-{content_key(keras_file)[:20]}", runtime)   # hashed once while unchanged


def finished_export(keras_file, runtime: str | None = None):
    """The export of a saved model that a background process finished since its Keras model
    stood in for it, loaded; None while there is none (or inside ``deferred_exports()``)."""
    runtime = runtime or chosen_runtime()
    if runtime == "keras" or deferring() or not export_ready(saved_model_dir(keras_file, runtime)):
        return None
    try:
        return load_exported(saved_model_dir(keras_file, runtime))
    except (ExportError, ImportError):   # the next in-process load remakes or refuses it, with its warning
        return None


def load_keras_file(path):
    """``painter.layers.load_model(path)`` (safe_mode, painter's layers registered), TensorFlow
    imported quietly."""
    from ..quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    from ..layers import load_model
    return load_model(path)


def exported_or_keras(directory, build_keras, runtime, what, job, expected_size=None):
    """The export in ``directory`` (made from ``build_keras()`` when missing or damaged), or the
    Keras model when ``runtime`` is ``"keras"``, cannot be imported, or the export fails; inside
    ``deferred_exports()`` a missing export gives the Keras model too, and ``job()`` (what
    ``export_jobs`` needs to make it) is queued."""
    if not runs_exports(runtime):
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
    if deferring():
        defer({**job(), "runtime": runtime})
        return build_keras()
    model = build_keras()
    try:
        # files hashed for the manifest just now are not hashed again; another process's export is checked
        manifest = write_export(model, directory, runtime)
        return open_export(directory, manifest) if manifest else load_exported(directory)
    except Exception as e:  # noqa: BLE001 - any export failure leaves Keras, which always works
        _warn(f"runtime {runtime}: export of {what} failed ({one_line(e)}); using Keras")
        shutil.rmtree(directory, ignore_errors=True)
        return model


def runs_exports(runtime) -> bool:
    """Whether ``runtime`` runs exports: not Keras, and importable (else one warning)."""
    if runtime not in RUNTIMES:
        raise ParameterError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    return runtime != "keras" and _importable(runtime)


def _importable(runtime) -> bool:
    try:
        importlib.import_module(FORMATS[runtime][2])
        return True
    except ImportError as e:
        if runtime not in _warned:   # once per process, not once per backbone
            _warned.add(runtime)
            _warn(f"runtime {runtime} unavailable ({one_line(e)}; pip install {FORMATS[runtime][3]}); "
                  f"using Keras for the feature models")
        return False

