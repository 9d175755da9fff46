"""Training that builds on a base model: the user's model and a base (by default the packaged
model, trained on every artist the project has) fused into one ``PairModel``.

Both are ``"dot"`` models, ``P = sigmoid(z·z' + bias)``, so their log-odds add up to one dot
product: ``P = sigmoid(a·s_user + b·s_base + c)`` with ``s = z·z' + bias`` is the dot model of
``z = [sqrt(a) z_user, sqrt(b) z_base]`` and bias ``a·bias_user + b·bias_base + c``. The weights
``a, b >= 0`` and ``c`` are fitted on the validation pairs, but only on pairs whose unseen artists
the base never saw: a base that knows the held-out artists would make the validation look better
than a fresh collection gets. Without enough such pairs the weights are fixed at ``a = b = 1``
(the plain sum of the two log-odds) and nothing is chosen on leaked pairs.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.special import expit, logit

from ..errors import InputError
from .calibration import choose_threshold, concat_embedder, fit_calibration
from .model import PairModel

__all__ = ["resolve_base", "fuse_with_base", "MIN_UNSEEN_PAIRS"]

logger = logging.getLogger(__name__)

# fewer unseen validation pairs unknown to the base than this: fixed equal weights
MIN_UNSEEN_PAIRS = 500


def resolve_base(base, spec):
    """The base ``PairModel`` for ``base`` (``"packaged"``, ``"none"``/None, or a model folder), or
    None. A base reading other features than ``spec`` is refused with one line; the packaged one,
    when it was not asked for by name, is only skipped (a custom ``spec`` cannot use it)."""
    from .predict import PACKAGED_MODEL, load_pair_model
    if base is None or str(base) == "none":
        return None
    path = PACKAGED_MODEL if str(base) == "packaged" else Path(base)
    model = load_pair_model(path, exported=False)   # its Keras embedder goes into the new model
    # views pool the features the base reads (same columns, same meaning): a base serves them
    if model.spec is None or spec is None or model.spec.whole() != spec.whole():
        message = (f"{path}: the base model reads {_features(model.spec)}; this training reads {_features(spec)}")
        if str(base) == "packaged":
            logger.info(f"{message}: trained without a base model")   # the default base, not asked for by name
            return None
        raise InputError(f"{message}; pass --base none or a base trained on the same features")
    if model.scorer != "dot":
        raise InputError(f"{path}: a {model.method} model with a pair head cannot serve as a base; pass --base none")
    return model


def fuse_with_base(model: PairModel, base: PairModel, validation, user_scores, base_artists):
    """One ``PairModel`` scoring ``a·s_user + b·s_base + c`` (see the module docstring).

    ``user_scores``: P(same) of the validation pairs by the user's model as fitted before any refit;
    ``base_artists``: the names the base was trained on (None: unknown, taken as all).
    Returns the fused model, its threshold and ``info`` set from the validation pairs.
    """
    z = base.embed_features(validation.features)
    s_base = np.einsum("ij,ij->i", z[validation.i], z[validation.j]) + base.bias
    s_user = logit(np.clip(user_scores, 1e-7, 1 - 1e-7))
    honest = _pairs_unknown_to_base(validation, base_artists)
    n_unseen = int((honest & (validation.kind == "unseen")).sum())
    same = validation.same[honest]
    if n_unseen >= MIN_UNSEEN_PAIRS and len(np.unique(same)) == 2:
        a, b, c = fit_calibration(s_user[honest], s_base[honest], same)
        p = expit(a * s_user + b * s_base + c)
        threshold = choose_threshold(same, p[honest], validation.kind[honest])
        how = f"weights fitted on {int(honest.sum())} validation pairs ({n_unseen} with artists unknown to the base)"
    else:
        # equal weights, and the threshold where both models' own thresholds meet: a pair at
        # each model's boundary is at the sum's (each threshold was chosen on its own model's
        # honest validation; the seen pairs alone would set one for seen artists only)
        a, b, c = 1.0, 1.0, 0.0
        p = expit(s_user + s_base)
        threshold = float(expit(logit(model.threshold) + logit(base.threshold)))
        how = (f"equal weights and threshold from both models' own: only {n_unseen} unseen validation pairs have "
               f"artists unknown to the base (needs {MIN_UNSEEN_PAIRS}); nothing chosen on pairs the base has seen")
    fused = PairModel(model.spec, concat_embedder(model.embedder, base.embedder, a, b), "dot",
                      a * model.bias + b * base.bias + c, threshold=threshold, method=model.method,
                      info={**model.info, "base": {"weights": [a, b], "offset": c, "user_bias": model.bias,
                                                   "base_bias": base.bias, "how": how}})
    return fused, p, honest


def _pairs_unknown_to_base(validation, base_artists) -> np.ndarray:
    """``(n_pairs,)`` True for seen pairs, and for unseen pairs whose held-out artists the base never saw."""
    if base_artists is None:
        return validation.kind == "seen"
    unseen = validation.kind == "unseen"
    held_out = (validation.unseen_artists if validation.unseen_artists is not None
                # an unseen pair's second painting is held out
                else np.unique(validation.labels[validation.j[unseen]]))
    leaked = np.isin(validation.labels, held_out) & np.isin(validation.labels, list(base_artists))
    return ~unseen | ~(leaked[validation.i] | leaked[validation.j])


def _features(spec) -> str:
    """What a person reads of a FeatureSpec: ``efficientnet_lite0 at 64 px (style, weights artists)``."""
    zoom = "" if spec.zoom == 1 else f", zoom {spec.zoom}"
    return f"{spec.backbone} at {spec.image_size or 'native'} px ({spec.summary}, weights {spec.weights}{zoom})"
