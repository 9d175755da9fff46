"""``predict_pair``: the probability that one artist painted two images.

``model`` may be a ``PairModel``, a model folder, or None: then the model folder named by
``$PAINTER_MODEL`` if it is set, else the default model shipped inside the package, so a fresh
offline install answers out of the box, and the same wherever it runs.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.images import ImageError
from .context import CollectionContext
from .model import PairModel

__all__ = ["predict_pair", "predict_pairs", "load_pair_model", "default_model_dir", "PACKAGED_MODEL"]

PACKAGED_MODEL = Path(__file__).resolve().parents[1] / "default_model"
_loaded: dict = {}


def default_model_dir() -> Path:
    """The model answering when none is given: ``$PAINTER_MODEL`` (a model folder) if set, else
    the packaged default model."""
    chosen = os.environ.get("PAINTER_MODEL", "").strip()
    return Path(chosen) if chosen else PACKAGED_MODEL


def load_pair_model(model=None, exported: bool = True) -> PairModel:
    """A ``PairModel`` from an instance, a folder path, or None (see module docstring).

    Loaded models are kept by folder and by the size and modification time of its files, so a
    model retrained into the same folder is loaded again, not answered from memory.
    ``exported``: see ``PairModel.load``.
    """
    if isinstance(model, PairModel):
        return model
    path = Path(model) if model is not None else default_model_dir()
    key = (str(path.resolve()), _folder_state(path), exported)
    if key not in _loaded:
        _loaded.clear()   # one model at a time: an old version of a folder is never needed again
        _loaded[key] = PairModel.load(path, exported=exported)
    return _loaded[key]


def _folder_state(path: Path) -> tuple:
    files = sorted(path.glob("*")) if path.is_dir() else []
    return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())


def predict_pairs(pairs, model=None, on_error: str = "raise", progress: bool = False, context=None) -> np.ndarray:
    """Probabilities for many pairs, each distinct image embedded once.

    Parameters
    ----------
    pairs : sequence of (path_a, path_b)
    on_error : ``"raise"`` (ImageError naming the file) or ``"nan"`` (NaN for that pair)
    context : paintings of the collection the pairs come from (a folder, a list of paths, a file
        listing them, or a ``CollectionContext``), unlabelled: the model is adapted to their
        source first (see ``painter.same_artist.context``). None: the model as trained.

    Returns float32 array ``(n_pairs,)`` in [0, 1].
    """
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    model = load_pair_model(model)
    pairs = [(str(a), str(b)) for a, b in pairs]
    files = list(dict.fromkeys(p for pair in pairs for p in pair))
    if context is not None:
        if on_error == "raise":   # the pairs' images first (cached): a bad one is named before the context is read
            _raise_first(model.embed_files(files, progress=progress)[1])
        model = CollectionContext.cached(context).adapt(model, progress=progress)
    z, failed = model.embed_files(files, progress=progress)
    if on_error == "raise":
        _raise_first(failed)
    row = {f: k for k, f in enumerate(files)}
    i = np.array([row[a] for a, _ in pairs], dtype=np.int64)
    j = np.array([row[b] for _, b in pairs], dtype=np.int64)
    return model.score_pairs(z, i, j) if len(pairs) else np.zeros(0, np.float32)


def _raise_first(failed: dict):
    if failed:
        path, reason = next(iter(failed.items()))
        raise ImageError(path, reason)


def predict_pair(path_a, path_b, model=None, context=None) -> float:
    """P(same artist): the probability in [0, 1] that one artist painted both images.

    The probability is calibrated on held-out validation pairs: among pairs scored 0.3, about
    three in ten are by one artist. It is not the yes/no answer: ``model.threshold`` (about 0.30
    for the packaged model) is the decision threshold, chosen on the validation pairs so that
    balanced accuracy is best for pairs of artists the model was trained on and for pairs of
    artists it never saw alike (same-artist pairs are rarer among the latter, so the threshold
    sits below 0.5). ``painter predict-pair`` prints both, e.g.
    ``P(same artist) = 0.34; threshold 0.30 -> same artist``.

    ``context``: paintings of the collection both images come from (see ``predict_pairs``). On a
    collection from another source than the model's training paintings (museum photographs, scans),
    P(same) and the verdict hold only with it.

    Raises ``ImageError`` (one line: file and reason) for a missing or unreadable image.
    """
    return float(predict_pairs([(path_a, path_b)], model=model, context=context)[0])
