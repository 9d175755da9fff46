"""Feature models exported for fast CPU inference (ONNX Runtime, LiteRT or OpenVINO).

A frozen feature model never changes, so it is exported once with Keras's own
``model.export(...)`` into ``<cache>/exports/<key>-<runtime>/`` (``export``) and run by the
runtime (``backends``), which is faster than Keras ``predict_on_batch`` on a CPU
(``benchmarks/recipes/runtime_choice.py``). ``runners`` picks the export or Keras for one model;
``background`` defers a missing export to a detached process.

Loading and running an export imports numpy and the runtime only, never TensorFlow or Keras,
so one-shot commands start fast; only exporting needs Keras. Keep it that way: no top-level
import of keras, tensorflow or a painter module that imports them. The package is a leaf: it
knows nothing of painter's feature specs (``painter.features.serving`` builds on it).

``PAINTER_RUNTIME=keras|onnx|litert|openvino`` forces a runtime; default ``DEFAULT_RUNTIME``.
"""
from .backends import ExportedModel, load_exported
from .background import deferred_exports, export_in_background, wait_for_exports
from .export import FORMATS, ExportError, export_model
from .runners import (DEFAULT_RUNTIME, RUNTIMES, chosen_runtime, export_folder, export_ready, exported_or_keras,
                      finished_export, load_keras_file, runs_exports, saved_model_dir, saved_model_runner)

__all__ = ["RUNTIMES", "DEFAULT_RUNTIME", "FORMATS", "ExportError", "ExportedModel", "export_model", "load_exported",
           "chosen_runtime", "export_folder", "export_ready", "exported_or_keras", "runs_exports", "saved_model_runner",
           "saved_model_dir", "finished_export", "load_keras_file", "deferred_exports", "export_in_background",
           "wait_for_exports"]
