"""Loading and running an export (numpy and the runtime only): ``ExportedModel`` runs it with
ONNX Runtime, LiteRT or OpenVINO after every file's SHA-256 is checked against its manifest."""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np

from ..cache import file_digest
from ..quiet import native_stderr_silenced
from .export import FORMATS, MANIFEST, MANIFEST_FORMAT, ExportError, one_line

__all__ = ["ExportedModel", "load_exported", "open_export"]


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise ExportError(f"{path}: missing (no finished export in {directory})")
    try:
        manifest = json.loads(path.read_text())
        ok = manifest.get("format") == MANIFEST_FORMAT and manifest.get("runtime") in FORMATS
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
    ``prefers_overlap`` for ``features.inference.image_batches``.
    """

    threads = None   # the runtime's threads: None, every core; a Dask worker sets its own share

    def __init__(self, directory, manifest: dict):
        self.runtime = manifest["runtime"]
        self.path = Path(directory) / manifest["file"]
        self.input_shape = tuple(manifest["input_shape"])
        self.input_size = self.input_shape[0] if len(self.input_shape) == 3 else None
        self.output_shape = (None, manifest["output_dim"])
        # Every runtime releases the GIL, yet decoding the next batch during the forward pass gained
        # nothing on 2 cores (end to end 0.96-1.06x, benchmarks/recipes/runtime_choice.py): both cores are busy.
        self.prefers_overlap = False
        threads = self.threads or os.cpu_count() or 1
        try:
            self._run = getattr(self, f"_load_{self.runtime}")(threads)
        except ImportError:   # not a bad file: the caller decides what to use instead
            raise
        except Exception as e:  # noqa: BLE001 - each runtime has its own error types for a bad file
            raise ExportError(f"{self.path}: {self.runtime} cannot load it ({one_line(e)})") from None

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
    manifest = read_manifest(directory)
    _check_files(directory, manifest)
    return open_export(directory, manifest)


def open_export(directory: Path, manifest: dict) -> ExportedModel:
    importlib.import_module(FORMATS[manifest["runtime"]][2])
    return ExportedModel(directory, manifest)
