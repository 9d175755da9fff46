"""Writing an export: Keras's own ``model.export`` into a folder with a ``manifest.json`` of its
files' SHA-256, made in a temporary sibling and renamed, so an interrupted export never looks
finished. Needs Keras (the caller's model); everything else in ``painter.runtime`` does not."""
from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from pathlib import Path

from ..cache import file_digest
from ..errors import first_line

__all__ = ["FORMATS", "MANIFEST", "MANIFEST_FORMAT", "ExportError", "export_model", "write_export", "one_line"]

# runtime: (Keras export format, files the export writes (the first is loaded), module to import,
# what to pip install for it)
FORMATS = {
    "onnx": ("onnx", ("model.onnx",), "onnxruntime", "onnxruntime tf2onnx onnx"),
    "litert": ("litert", ("model.tflite",), "ai_edge_litert.interpreter", "ai-edge-litert"),
    "openvino": ("openvino", ("model.xml", "model.bin"), "openvino", "openvino"),
}
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "painter-export-1"


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
    write_export(keras_model, Path(directory), runtime)
    return Path(directory)


def write_export(keras_model, directory: Path, runtime: str) -> dict | None:
    """``export_model``'s work: the manifest of the files it put in ``directory``, or None when
    another process's finished export was there first and kept."""
    from ..version import __version__

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
            "format": MANIFEST_FORMAT, "runtime": runtime, "file": files[0],
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



def one_line(e: BaseException) -> str:
    """``Type: first line of the message``, for a warning or a log line."""
    return f"{type(e).__name__}: {first_line(e)}"
