"""From similarities to a calibrated P(same artist), folded into one dot product, and the
yes/no threshold.

Every ``"dot"`` model scores a pair as ``P(same) = sigmoid(z_a·z_b + bias)``: a calibrated
``sigmoid(alpha·s1 + beta·s2 + bias)`` of two dot-product similarities is one dot product of
the per-image vectors ``[sqrt(alpha)·e, sqrt(beta)·p]``, which is what makes scoring millions
of pairs cheap (see ``painter.same_artist.model``).
"""
from __future__ import annotations

import keras
import numpy as np

__all__ = ["fit_calibration", "dot_embedder", "concat_embedder", "choose_threshold"]


def fit_calibration(cos, pdot, same):
    """Logistic regression ``P(same) = sigmoid(alpha*cos + beta*pdot + gamma)`` with alpha, beta >= 0.

    A term whose fitted weight comes out negative is dropped (weight 0) and the rest refitted,
    so the score stays a dot product of per-image vectors. Returns ``(alpha, beta, gamma)``.
    """
    from sklearn.linear_model import LogisticRegression

    feats = np.stack([cos, pdot], axis=1)
    use = [0, 1]
    while True:
        lr = LogisticRegression(C=100.0, max_iter=1000).fit(feats[:, use], same)
        coef = dict(zip(use, lr.coef_[0]))
        negative = [k for k, v in coef.items() if v < 0]
        if not negative:
            break
        use = [k for k in use if k not in negative]
        if not use:
            return 0.0, 0.0, float(np.log(np.mean(same) / (1 - np.mean(same))))
    return float(coef.get(0, 0.0)), float(coef.get(1, 0.0)), float(lr.intercept_[0])


def dot_embedder(base, alpha, beta, temperature=None):
    """Fold calibration weights into the embedding: ``z = [sqrt(alpha) e, sqrt(beta) p]``.

    ``base`` maps features to ``e``, ``[e, p]`` or ``[e, p_1, ..., p_R]``. With ``temperature``,
    each output after the first (class cosines) becomes ``p = softmax(c / T)``. ``R`` profiles
    share ``beta`` equally, so their dot products are averaged.
    """
    x_in = keras.Input(base.input_shape[1:], name="features")
    parts = base(x_in)
    parts = list(parts) if isinstance(parts, (list, tuple)) else [parts]
    if temperature:
        for r, c in enumerate(parts[1:]):
            suffix = f"_{r}" if r else ""   # one profile: the names models were saved with
            parts[1 + r] = keras.layers.Softmax(name=f"artist_probabilities{suffix}")(
                keras.layers.Rescaling(1.0 / temperature, name=f"temperature{suffix}")(c))
    weights = [alpha] + [beta / max(len(parts) - 1, 1)] * (len(parts) - 1)
    # a similarity whose calibrated weight is 0 is left out; with none left the score is the
    # constant sigmoid(bias) (the similarities did not separate the validation pairs)
    weighted = [(k, t, w) for k, (t, w) in enumerate(zip(parts, weights)) if w > 0] or [(0, parts[0], 0.0)]
    scaled = [keras.layers.Rescaling(float(np.sqrt(w)), name=f"weight_{k}")(t) for k, t, w in weighted]
    z = scaled[0] if len(scaled) == 1 else keras.layers.Concatenate(name="pair_embedding")(scaled)
    return keras.Model(x_in, z, name="pair_embedder")


def layer_named(model, name):
    """The layer of ``model`` called ``name`` (None when it has none)."""
    return next((layer for layer in model.layers if layer.name == name), None)


def scale_of(model, name) -> float:
    """The factor of ``model``'s ``Rescaling`` layer ``name``, 0 when it has none of that name."""
    layer = layer_named(model, name)
    return float(layer.scale) if layer is not None else 0.0


def dot_embedder_like(pair_embedder, base, profile_factor: float = 1.0):
    """``dot_embedder`` of a new ``base`` with the weights and temperature of ``pair_embedder`` (one
    that ``dot_embedder`` made), its profile weight times ``profile_factor``."""
    t = scale_of(pair_embedder, "temperature")
    return dot_embedder(base, scale_of(pair_embedder, "weight_0") ** 2,
                        scale_of(pair_embedder, "weight_1") ** 2 * profile_factor, 1.0 / t if t else None)


def concat_embedder(user, base, a, b):
    """features -> ``[sqrt(a) z_user, sqrt(b) z_base]`` as one Keras model (one file, safe_mode)."""
    x_in = keras.Input(user.input_shape[1:], name="features")
    parts = []
    for net, w, name in ((user, a, "user"), (base, b, "base")):
        if w > 0:   # each wrapped under its own name: both nets are called "pair_embedder"
            named = keras.Model(net.inputs, net.output, name=f"{name}_embedding")
            parts.append(keras.layers.Rescaling(float(np.sqrt(w)), name=f"{name}_weight")(named(x_in)))
    z = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="user_and_base")(parts)
    return keras.Model(x_in, z, name="pair_embedder_with_base")


def choose_threshold(same, p, kind=None, grid=np.arange(5, 96) / 100) -> float:
    """The decision threshold on ``p`` with the best mean balanced accuracy over pair kinds.

    Parameters: ``same (n,)`` 0/1 truth, ``p (n,)`` probabilities, ``kind (n,)`` e.g. "seen"/"unseen".
    Seen and unseen pairs weigh the same, whatever their counts: P(same) stays calibrated, and
    the yes/no decision is the one that is best for seen and unseen pairs alike (same-artist
    pairs are rarer among unseen artists' pairs).
    """
    from ..metrics import balanced_accuracy
    same, p = np.asarray(same), np.asarray(p)
    kind = np.zeros(len(p), int) if kind is None else np.asarray(kind)
    groups = [kind == k for k in np.unique(kind)]
    scores = [np.mean([balanced_accuracy(same[g], p[g], t) for g in groups]) for t in grid]
    return float(grid[int(np.argmax(scores))])
