"""Questions without context, answered as the painting's source needs: the sources a model learned.

A collection given as context shows its source's offset, and ``context.adapt`` takes it off. A
question without context (two paintings, no collection) has no collection to measure. But a model
that learned from another source besides the user's own (``painter train --other-source DIR``; the
packaged model learned museum photographs beside WikiArt's paintings) has seen where that source's
paintings sit in its projection, and can tell them apart: a logistic regression on the projection
says how likely each painting comes from each source, and the painting is moved by that share of
the source's mean offset, times ``SOURCE_SHIFT``.

    features -> projection x -> x - sum_s P(source s | x) * SOURCE_SHIFT * mean_s -> unit length -> profile

The user's own source (the collection and ``--also``) has no offset: its paintings stay where the
model learned them. With context, ``context.adapt`` turns the shift off (offsets zero) and takes
the collection's own mean off instead.

With context and the collection's groups, the same P(source | x) also weighs the profile: an
artist learned only from another source is made less likely, by a log prior of ``-SOURCE_PRIOR *
(1 - P(that source | x))``, for a painting that seems to come from elsewhere (a WikiArt painting
is not drawn towards the museum artists, who are learned from 2-4 photographs each). Artists
learned from the user's own source keep every painting. P is read on the painting before the
collection's mean is taken off.
Without them the prior stays off: a painting from a source the model never learned (a scan at
its own resolution) looks like neither, and a profile drawn onto fewer artists raises every pair's
score, which the collection's groups absorb and a lone pair or an ungrouped context does not.

Chosen on validation collections no learned part saw, without context
(``benchmarks/recipes/source_shift.py``, figures in ``benchmarks/RESULTS.md``): 0.25, 0.5,
0.75 and 1 measured; 0.75 is best on the mean AUC and the mean balanced accuracy of WikiArt's and
museum photographs' seen and unseen pairs. The prior (``benchmarks/recipes/collection_groups.py
--prior``, with context as painter gives it): 1, 2 and 3 measured; 2 and 3 tie on the mean AUC of
five validation collections, 2 costs the museum artists the model learned less. Without groups
(with context or without) it cost the full-resolution validation painters
(``benchmarks/recipes/source_shift.py --prior``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SOURCE_SHIFT", "SOURCE_PRIOR", "LAYER", "fit_source_shift", "artist_sources", "with_source_shift"]

SOURCE_SHIFT = 0.75
SOURCE_PRIOR = 2.0
LAYER = "source_shift"


def fit_source_shift(X: np.ndarray, sources: np.ndarray, strength: float = SOURCE_SHIFT) -> list:
    """``[W (d, S), b (S,), M (S, d)]``, the weights of ``SourceProbability`` (W, b) and
    ``SourceShift`` (M), from projected rows ``X (n, d)`` and the source of each, ``sources (n,)``
    in ``0 .. S-1`` (0: the user's own, no offset).

    Sources are weighed alike in the classifier (a small source is not outvoted); ``M[s]`` is
    ``strength`` times source ``s``'s mean row.
    """
    from sklearn.linear_model import LogisticRegression
    X, sources = np.asarray(X, np.float64), np.asarray(sources)
    n_sources = int(sources.max()) + 1
    if n_sources < 2 or len(np.unique(sources)) < n_sources:
        raise ValueError(f"every source from 0 to {n_sources - 1} needs paintings, and there must be two")
    lr = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(X, sources)
    if n_sources == 2:   # one logit: the user's source as the softmax's zero
        W = np.stack([np.zeros(X.shape[1]), lr.coef_[0]], axis=1)
        b = np.array([0.0, lr.intercept_[0]])
    else:
        W, b = lr.coef_.T, lr.intercept_
    M = np.stack([np.zeros(X.shape[1]) if s == 0 else strength * X[sources == s].mean(0) for s in range(n_sources)])
    return [W.astype(np.float32), b.astype(np.float32), M.astype(np.float32)]


def artist_sources(artists: np.ndarray, sources: np.ndarray, n_sources: int) -> np.ndarray:
    """``A (n_sources, n_artists)``, ``SourcePrior``'s sources: 1 where artist k (in sorted order,
    the profile's) has a painting from source s; every source for an artist of the user's own (0)."""
    names, k = np.unique(np.asarray(artists), return_inverse=True)
    A = np.zeros((n_sources, len(names)), np.float32)
    A[np.asarray(sources), k] = 1.0
    A[:, A[0] > 0] = 1.0
    return A


def _projection(inner, x):
    """``x`` through ``inner``'s log and projection layers, called anew (``inner`` may be one that
    ``_inner_with_shift`` rebuilt, whose layers' first outputs lie in the graph it came from)."""
    from .calibration import layer_named
    from .context import PROJECTION
    if layer_named(inner, "log_std") is not None:
        x = inner.get_layer("log_std")(x)
    return inner.get_layer(PROJECTION)(x)


def _projected(inner, features):
    import keras
    from .model import predict_rows
    x_in = keras.Input(inner.input_shape[1:], name="features")
    return predict_rows(keras.Model(x_in, _projection(inner, x_in)), features)


def _inner_with_shift(inner, weights, A, prior_strength):
    """``lda_embedding`` rebuilt from its own layers, the source layers after its projection."""
    import keras
    from ..layers import SourcePrior, SourceProbability, SourceShift
    W, b, M = weights
    x_in = keras.Input(inner.input_shape[1:], name="features")
    x = _projection(inner, x_in)
    probability = SourceProbability(len(b), name="source_probability")
    shift, prior = SourceShift(name=LAYER), SourcePrior(name="source_prior")
    p = probability(x)
    e = inner.get_layer("embedding")(shift([x, p]))
    c = prior([inner.get_layer("class_cosine")(e), p])
    probability.set_weights([W, b])
    shift.set_weights([M])
    prior.set_weights([A, np.float32(prior_strength), np.float32(0.0)])   # on with context and groups
    return keras.Model(x_in, [e, c], name="lda_embedding")


def with_source_shift(model, features, sources: np.ndarray, artists: np.ndarray, names,
                      strength: float = SOURCE_SHIFT, prior: float = SOURCE_PRIOR):
    """``model`` (an ``lda`` ``PairModel`` with a Keras embedder) with its sources told apart, fitted
    on its training paintings: ``features``, a list of ``(n_k, D)`` arrays (projected part by part,
    so no copy of them all is made), their ``sources (n,)`` and ``artists (n,)`` in that order
    (source 0: the user's own; ``names``: each source's folder; the artists are the profile's).
    ``strength``: the share of each source's offset taken off; ``prior``: the log prior ``-d`` an
    artist gets, with context and groups, on a painting from a source it was not learned from.
    ``info["source_shift"]`` records the sources and both."""
    from .calibration import dot_embedder_like, layer_named, scale_of
    from .model import PairModel
    inner = layer_named(model.embedder, "lda_embedding") if hasattr(model.embedder, "layers") else None
    if inner is None:
        raise ValueError("with_source_shift needs an lda model's own Keras embedder (not an exported one, nor one "
                         "fused with a base or adapted to a context)")
    X = np.vstack([_projected(inner, part) for part in features])
    weights = fit_source_shift(X, sources, strength)
    A = artist_sources(artists, sources, len(weights[1]))
    n_classes = inner.get_layer("class_cosine").get_weights()[0].shape[1]
    if A.shape[1] != n_classes:
        raise ValueError(f"{A.shape[1]} artists among the paintings, but the model's profile has {n_classes}")
    inverse_temperature = scale_of(model.embedder, "temperature")   # 0: no profile to weigh
    inner = _inner_with_shift(inner, weights, A, prior / inverse_temperature if inverse_temperature else 0.0)
    info = {**model.info, "source_shift": {"sources": [str(n) for n in names], "strength": strength, "prior": prior,
                                           "paintings": np.bincount(sources).tolist()}}
    shifted = PairModel(model.spec, dot_embedder_like(model.embedder, inner), model.scorer, model.bias, model.head,
                        model.threshold, model.method, info)
    shifted.directory = model.directory
    return shifted
