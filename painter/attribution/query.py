"""The attribution query: which reference artist painted a questioned painting, or none of them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.images import ImageError
from .calibration import DEFAULT_CALIBRATION, AttributionCalibration, probabilities
from .reference import ReferenceSet, _listing, _load, load_reference

__all__ = ["NONE", "attribute"]

NONE = "none of the reference artists"


def _model_calibration(model_arg) -> AttributionCalibration:
    """``attribution.json`` in the model's folder if there is one, else ``DEFAULT_CALIBRATION``."""
    from ..same_artist.predict import default_model_dir
    from ..same_artist.model import PairModel
    if isinstance(model_arg, PairModel):
        if "attribution" in model_arg.info:
            return AttributionCalibration.from_dict(model_arg.info["attribution"])
        if model_arg.directory is None:
            return DEFAULT_CALIBRATION
        model_arg = model_arg.directory   # a loaded model: its folder's file, as for its path
    path = Path(model_arg) if model_arg is not None else default_model_dir()
    f = path / "attribution.json"
    return AttributionCalibration.from_dict(json.loads(f.read_text())) if f.is_file() else DEFAULT_CALIBRATION


def attribute(image, reference, model=None, k: int = 5, calibration: AttributionCalibration | None = None,
              prior_none: float = 0.5, n_evidence: int = 3, progress: bool = False,
              context: bool = True, index_type: str = "flat") -> pd.DataFrame:
    """Which reference artist painted ``image``, with calibrated probabilities and evidence.

    Parameters
    ----------
    image : path of the questioned painting
    reference : a folder per artist, a cleaned data folder, or a ``ReferenceSet`` (``load_reference``)
    model : ``PairModel``, model folder or None (the default model); a ``"dot"``-scorer model
    k : number of candidate artists listed
    calibration : an ``AttributionCalibration``; default: the model folder's ``attribution.json``, else
        ``DEFAULT_CALIBRATION`` (chosen for an lda model trained on its reference alone)
    prior_none : prior probability that the painter is none of the reference artists
    n_evidence : reference paintings listed per candidate
    context : adapt the model to the reference paintings first (``painter.same_artist.context``):
        a reference photographed in a museum or scanned is another source than WikiArt (the shift
        alone: the reference's artists are labelled, so it is not grouped). A
        reference folder's set is then built (and cached) once, by the adapted model; a
        ``ReferenceSet`` given is used as its model embedded it
    index_type : how a reference folder's set is indexed (``load_reference``): ``"flat"`` (exact),
        ``"ivf"``, ``"hnsw"``, or ``"ivfsq"`` for a million reference paintings

    Returns
    -------
    DataFrame, one row per candidate (best first), then one row for ``NONE``:
        ``rank`` (0 for the none row), ``artist``, ``probability`` (over all artists and
        "none" together, they sum to 1), ``n_reference`` (the artist's usable reference
        paintings), ``best_matches`` (list of the artist's paintings closest to ``image``, see
        ``ReferenceSet.best_matches``), ``match_probability`` (list of their P(same artist) with
        ``image``, as ``predict_pair`` gives it: over-confident for reference paintings the model
        was trained on, whose artist profiles it has learnt by heart).
        ``table.attrs``: ``answer`` (the most probable outcome, an artist or ``NONE``; with a
        calibration's fixed ``threshold``: ``NONE`` when P(none) >= it), ``none`` (bool),
        ``p_none``, ``query``, ``threshold`` (None: the most probable outcome), ``rule`` (the
        answer rule in words), ``skipped`` (the reference's unusable paintings).

    Raises ``ImageError`` (one line: file and reason) when ``image`` cannot be read.
    """
    from scipy.special import expit

    from ..data.images import load_image
    load_image(image)   # an unusable query fails in one line before any model or reference work
    from ..same_artist.predict import load_pair_model
    calibration = calibration or _model_calibration(model)
    pair_model = load_pair_model(model)
    from ..same_artist.context import CollectionContext, adaptable
    # a set given is embedded by its model already; a model without a projection is used as it is
    if context and not isinstance(reference, ReferenceSet) and adaptable(pair_model):
        listing = _listing(reference, pair_model, index_type)   # a bad reference: one line, before any reading
        # adapted to the listed paintings first, so that the set is built once, by the adapted model;
        # the same context object for the same unchanged paintings: repeated questions adapt once.
        # Its unreadable paintings are named by the set's warning alone (and listed in ``skipped``).
        # No collection groups: a reference's artists are labelled, its groups would guess them
        pair_model = CollectionContext.cached(listing[0], name=str(reference)).adapt(
            pair_model, progress=progress, warn_unreadable=False, groups=False)
        ref = _load(reference, pair_model, listing, progress=progress, index_type=index_type)
    else:
        ref = load_reference(reference, pair_model, progress=progress, index_type=index_type)
    # one image: a batch of one, not one padded to the bulk batch size (32 forward passes)
    zq, failed = pair_model.embed_files([str(image)], progress=False, batch_size=1)
    if failed:
        raise ImageError(image, failed[str(image)])
    scores = ref.scores(zq, calibration.aggregate)
    p_art, p_none = probabilities(scores, calibration, prior_none)
    p_art, p_none = p_art[0], float(p_none[0])
    rows = []
    for rank, a in enumerate(np.argsort(-p_art, kind="stable")[:k], start=1):
        ids, logits = ref.best_matches(zq[0], a, n_evidence)
        rows.append({"rank": rank, "artist": ref.artists[a], "probability": float(p_art[a]),
                     "n_reference": int(ref.counts[a]), "best_matches": list(ref.files[ids]),
                     "match_probability": [round(float(p), 4) for p in expit(logits)]})
    rows.append({"rank": 0, "artist": NONE, "probability": p_none, "n_reference": 0, "best_matches": [],
                 "match_probability": []})
    table = pd.DataFrame(rows)
    flagged = calibration.answers_none(p_art, [p_none])[0]
    table.attrs.update(answer=NONE if flagged else rows[0]["artist"], none=bool(flagged), p_none=p_none,
                       query=str(image), threshold=calibration.threshold, rule=calibration.describe(),
                       skipped=ref.skipped)
    return table
