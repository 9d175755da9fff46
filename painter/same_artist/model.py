"""A trained same-artist model, saved as a folder, with one scoring interface for every method.

    image ─ feature model (frozen backbone, cached) ─ features (D,) ─ embedder ─ z (E,)
    pair (a, b) ─ scorer(z_a, z_b) ─ P(same artist)

Two scorer kinds:

* ``"dot"``: ``P = sigmoid(z_a · z_b + bias)``: the calibrated cosine / softmax-dot methods.
  Pairs are scored as blocks of a matrix product, millions per second.
* ``"head"``: a Keras pair head ``(z_a, z_b) -> P`` (the seed's |A−B| head), run on gathered
  rows chunk by chunk.

A model fitted end to end on the paintings (``siamese``) has no feature spec (``spec`` None):
its embedder reads the images itself, ``(batch, S, S, 3)`` RGB 0..255.

Folder layout: ``config.json`` (feature spec, method, scorer, threshold, metrics),
``embedder.keras`` and, for ``"head"``, ``pair_head.keras``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import expit

from ..version import __version__
from ..errors import InputError, check_folder, read_json_part, read_part
from ..features import FeatureSpec, extract_features, read_spec
from ..runtime import ExportedModel

__all__ = ["PairModel", "predict_rows", "ModelFolderError", "read_model_config"]


def predict_rows(model, X, batch_size: int = 4096):
    """Run a model on feature rows ``X (N, D)`` (or a list of row-aligned arrays, for a model
    with several inputs), ``batch_size`` rows at a time, eagerly.

    For the small dense embedders and heads: ``Model.predict`` traces a new graph for every
    model and every odd batch shape, which costs more than these models' matrix products and
    fills the log with TensorFlow's retracing warnings. Returns a float32 array, or a list of
    them for a model with several outputs.
    """
    inputs = X if isinstance(X, (list, tuple)) else [X]
    if isinstance(model, ExportedModel):   # an exported embedder: one input, one output, no TensorFlow
        return np.concatenate([model.predict_on_batch(inputs[0][s:s + batch_size])
                               for s in range(0, max(len(inputs[0]), 1), batch_size)])
    import keras
    chunks = []
    for s in range(0, max(len(inputs[0]), 1), batch_size):
        rows = [x[s:s + batch_size] for x in inputs]
        chunks.append(model(rows if isinstance(X, (list, tuple)) else rows[0], training=False))
    if isinstance(chunks[0], (list, tuple)):
        return [np.concatenate([keras.ops.convert_to_numpy(c[k]) for c in chunks]).astype(np.float32, copy=False)
                for k in range(len(chunks[0]))]
    return np.concatenate([keras.ops.convert_to_numpy(c) for c in chunks]).astype(np.float32, copy=False)


class PairModel:
    """Load with ``PairModel.load(dir)``; see the module docstring."""

    def __init__(self, spec: FeatureSpec | None, embedder, scorer: str = "dot", bias: float = 0.0, head=None,
                 threshold: float = 0.5, method: str = "", info: dict | None = None):
        if scorer not in ("dot", "head"):
            raise ValueError(f"scorer must be 'dot' or 'head', got {scorer!r}")
        if scorer == "head" and head is None:
            raise ValueError("scorer 'head' needs a pair head model")
        self.spec, self.embedder, self.scorer, self.bias = spec, embedder, scorer, float(bias)
        self.head, self.threshold, self.method, self.info = head, float(threshold), method, dict(info or {})
        self.directory = None
        self.awaited_export = None   # the .keras file whose export a Keras embedder stands in for

    def _take_finished_export(self):
        """A Keras embedder that stood in for an export left to the background process gives way
        to the export once it is finished: later embeddings in this process run it."""
        if self.awaited_export is not None:
            from ..runtime.runners import finished_export
            runner = finished_export(self.awaited_export)
            if runner is not None:
                self.embedder, self.awaited_export = runner, None

    # --- per image -------------------------------------------------------------------------
    def embed_features(self, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """``(N, D)`` features -> ``(N, E)`` float32 embeddings; NaN rows stay NaN."""
        self._take_finished_export()
        features = np.asarray(features, np.float32)
        bad = np.isnan(features).any(axis=1)
        if bad.any():
            features = np.nan_to_num(features)
        out = predict_rows(self.embedder, features, batch_size)
        out[bad] = np.nan
        return out

    def embed_files(self, paths, cache: bool = True, progress: bool = True, batch_size: int = 32):
        """Embed image files: returns ``(Z (N, E), failed {path: reason})``."""
        if self.spec is None:
            return self._embed_images(paths, progress, batch_size)
        feats, failed = extract_features(paths, self.spec, batch_size=batch_size, cache=cache, progress=progress)
        return self.embed_features(feats), failed

    def _embed_images(self, paths, progress, batch_size=32):
        """The embedder on the decoded images themselves (no feature cache): NaN rows for the
        unusable ones."""
        from tqdm.auto import tqdm

        from ..features.inference import predict_images
        paths = [str(p) for p in paths]
        z, failed = [], {}
        for _, out, bad in tqdm(predict_images(self.embedder, paths, int(self.embedder.input_shape[1]), batch_size),
                                total=-(-len(paths) // batch_size), desc="embed", unit="batch", disable=not progress):
            z.append(out.reshape(len(out), -1).astype(np.float32, copy=False))
            failed.update(bad)
        z = np.concatenate(z) if z else np.zeros((0, int(np.prod(self.embedder.output_shape[1:]))), np.float32)
        z[[k for k, p in enumerate(paths) if p in failed]] = np.nan
        return z, failed

    # --- per pair ----------------------------------------------------------------------------
    def score(self, za: np.ndarray, zb: np.ndarray) -> np.ndarray:
        """Row-aligned embeddings ``(n, E)`` x2 -> ``(n,)`` probabilities."""
        if self.scorer == "dot":
            return expit(np.einsum("ij,ij->i", za, zb) + self.bias).astype(np.float32)
        return predict_rows(self.head, [za, zb], 8192).reshape(-1)

    def score_pairs(self, z: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Scores of pairs ``(z[i[k]], z[j[k]])``; NaN embeddings give NaN scores.

        For the dot scorer, when the pairs touch few distinct images (as Kaggle's pairs within
        groups do), the block ``z[unique i] @ z[unique j].T`` is one BLAS call and is read at
        the pairs' positions; otherwise rows are gathered.
        """
        i, j = np.asarray(i), np.asarray(j)
        if self.scorer == "dot":
            ui, inv_i = np.unique(i, return_inverse=True)
            uj, inv_j = np.unique(j, return_inverse=True)
            if len(ui) * len(uj) <= 4 * len(i) + 1_000_000:
                block = z[ui] @ z[uj].T
                return expit(block[inv_i, inv_j] + self.bias).astype(np.float32)
        # gather rows a slice at a time (about 256 MB per side) so memory stays small whatever
        # the chunk size and the embedding width (the bce head's embeddings have ~7,000 values)
        step = int(np.clip((256 << 20) // (4 * max(1, z.shape[1])), 1024, 65536))
        return np.concatenate([self.score(z[i[s:s + step]], z[j[s:s + step]]) for s in range(0, len(i), step)]
                              or [np.zeros(0, np.float32)])

    # --- files -------------------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write the folder; ``config.json`` last, so a folder without it is an unfinished save."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").unlink(missing_ok=True)
        (directory / "attribution.json").unlink(missing_ok=True)   # calibrated for the model it replaces
        self.embedder.save(directory / "embedder.keras")
        if self.head is not None:
            self.head.save(directory / "pair_head.keras")
        config = {"painter_model": "same_artist", "painter_version": __version__,
                  "feature_spec": self.spec and self.spec.to_dict(), "scorer": self.scorer, "bias": self.bias,
                  "threshold": self.threshold, "method": self.method, "info": self.info}
        (directory / "config.json").write_text(json.dumps(config, indent=2, default=float))
        return directory

    @classmethod
    def load(cls, directory, exported: bool = True) -> "PairModel":
        """Load a model folder; a missing, damaged or foreign file raises ``ModelFolderError``
        naming the file and what to do.

        ``exported``: run the embedder from an exported copy (``painter.runtime``: made on the
        first load, then cached by the file's content), so that using the model needs no
        TensorFlow; False gives the Keras embedder (to train on, or to build on as a base).
        """
        directory = Path(directory)
        config = read_model_config(directory)
        spec = read_spec(config, directory / "config.json", ModelFolderError, _RETRAIN)
        # a model reading features runs its embedder exported; one reading images (siamese) in Keras
        exported = exported and config["scorer"] == "dot" and spec is not None
        embedder = _load_keras(directory / "embedder.keras", exported)
        head = _load_keras(directory / "pair_head.keras") if config["scorer"] == "head" else None
        model = cls(spec, embedder, config["scorer"], config["bias"], head, config["threshold"],
                    config.get("method", ""), config.get("info"))
        model.directory = directory   # where it came from: its Keras form can be loaded again
        if exported and not isinstance(embedder, ExportedModel):
            model.awaited_export = directory / "embedder.keras"
        return model


class ModelFolderError(InputError):
    """A model folder that cannot be used: the message names the file and what to do."""


_RETRAIN = "retrain with `painter train DATA --out DIR`"


def read_model_config(directory) -> dict:
    """The ``config.json`` of a same-artist model folder, checked."""
    directory = check_folder(directory, "same-artist model", ModelFolderError)
    path = directory / "config.json"
    config = read_json_part(path, ("feature_spec", "scorer"), ModelFolderError, "model folder", _RETRAIN)
    if config["scorer"] not in ("dot", "head"):
        raise ModelFolderError(f"{path}: unknown scorer {config['scorer']!r}; {_RETRAIN}")
    return config


def _load_keras(path: Path, exported: bool = False):
    from ..runtime import load_keras_file, saved_model_runner
    return read_part(path, saved_model_runner if exported else load_keras_file, ModelFolderError, "model folder",
                     _RETRAIN)
