"""The collection's own groups as more classes of the artist profile.

An ``lda`` model describes a painting by its profile: a softmax over the cosines to every training
artist's mean. A painter the model never learned spreads over the learned artists they resemble,
and two of their paintings share only that diffuse profile. A collection given as context holds
such painters' paintings side by side: k-means groups of its paintings (in the adapted model's
embedding, one group per ``PAINTINGS_PER_GROUP`` paintings) join the artists' means as classes of
the profile, less likely a priori than a learned artist by ``GROUP_LOG_PRIOR``, so that a painting
a learned artist explains stays with that artist.

    context paintings -> adapted embedding e -> k-means groups -> profile over artists + groups

Chosen on validation collections that no learned part saw (``benchmarks/recipes/collection_groups.py``;
figures in ``benchmarks/RESULTS.md``). The groups only exist with context: without it, answers are
as the model was trained; ``attribute`` leaves them out (its reference's artists are labelled).
"""
from __future__ import annotations

import numpy as np

__all__ = ["PAINTINGS_PER_GROUP", "GROUP_LOG_PRIOR", "DRAWS", "group_means", "with_groups"]

# a group per this many context paintings (a collection of fewer than 1.5 times as many gets none)
# and a group's log prior against a learned artist's (0): chosen on the mean AUC of five validation
# collections (16, 32, 48 and -3, -2.5, -2 measured); the three priors at 32 were within 0.0008 of
# each other, and -3 costs the artists the model learned least
PAINTINGS_PER_GROUP = 32
GROUP_LOG_PRIOR = -3.0
# k-means draws (seeds 0, 1, ...) whose profiles are averaged: one draw's groups split some
# painters by chance
DRAWS = 3


def group_means(E: np.ndarray, paintings_per_group: int = PAINTINGS_PER_GROUP, seed: int = 0) -> np.ndarray:
    """Unit-length means ``(k, d)`` of ``k = round(n / paintings_per_group)`` k-means groups of the
    unit rows ``E (n, d)`` (FAISS k-means, spherical; ``(0, d)`` when ``k < 2``)."""
    import faiss
    E = np.ascontiguousarray(E, np.float32)
    k = int(round(len(E) / paintings_per_group))
    if k < 2:
        return np.zeros((0, E.shape[1]), np.float32)
    kmeans = faiss.Kmeans(E.shape[1], k, niter=25, seed=seed, spherical=True,
                          min_points_per_centroid=1, verbose=False)
    kmeans.train(E)
    Q = kmeans.centroids
    return Q / np.linalg.norm(Q, axis=1, keepdims=True)


def _grouped(pair_embedder, features, log_prior, paintings_per_group):
    """``(pair embedder, k)``: ``dot_embedder``'s pair embedder rebuilt with the context's ``k``
    groups beside its artists, one profile per k-means draw (as it was, with 0, where the
    collection is too small)."""
    import keras
    from .calibration import dot_embedder_like, layer_named, scale_of
    from .lda import _fixed_dense
    from .model import predict_rows
    inner = layer_named(pair_embedder, "lda_embedding")
    if inner is None or layer_named(pair_embedder, "weight_1") is None:
        return pair_embedder, 0   # no profile in the score to add groups to
    E, C = predict_rows(inner, features)
    draws = [group_means(E, paintings_per_group, seed=r) for r in range(DRAWS)]
    k = len(draws[0])
    if not k:
        return pair_embedder, 0
    T = 1.0 / scale_of(pair_embedder, "temperature")
    x_in = keras.Input(inner.input_shape[1:], name="features")
    e, c = inner(x_in)
    # the bias is the prior times T: the temperature divides the whole logit
    groups = [_fixed_dense(e, Q.T, np.full(k, log_prior * T), f"collection_groups_{r}") for r, Q in enumerate(draws)]
    classes = [keras.layers.Concatenate()([c, g]) for g in groups]
    base = keras.Model(x_in, [e, *classes], name="lda_embedding_with_groups")
    # beta = scale * n: n p·p stays 1 for uniform profiles over the n artists and k groups
    n = C.shape[1]
    return dot_embedder_like(pair_embedder, base, (n + k) / n), k


def with_groups(embedder, features: np.ndarray, shrinks, log_prior: float = GROUP_LOG_PRIOR,
                paintings_per_group: int = PAINTINGS_PER_GROUP):
    """``(embedder, groups)``: a Keras pair embedder whose profiles also cover the context's groups,
    and the number of groups of each profile.

    ``embedder``: an adapted ``lda`` model's Keras embedder, alone or with its base
    (``calibration.concat_embedder``); ``features (n, D)``: the context paintings' features (no NaN
    rows); ``shrinks``: each projection's James-Stein factor (``context.projection_shifts``, the
    user's profile first). Each profile gets its own groups, found in its own embedding, at log
    prior ``log_prior + log(shrink)``: the groups count as much as the collection shows that it
    differs from the training paintings, and a collection that does not (shrink 0) gets none. The
    embedder given is not changed.
    """
    from .calibration import concat_embedder, layer_named, scale_of
    names = ([name for name in ("user", "base") if layer_named(embedder, f"{name}_embedding") is not None]
             if embedder.name == "pair_embedder_with_base" else [None])
    if len(names) != len(shrinks):
        raise ValueError(f"{len(shrinks)} shrink factors for {len(names)} profiles")
    parts = []
    for name, shrink in zip(names, shrinks):
        part = embedder if name is None else layer_named(embedder, f"{name}_embedding")
        parts.append(_grouped(part, features, log_prior + np.log(shrink), paintings_per_group) if shrink > 0
                     else (part, 0))
    nets, counts = (list(t) for t in zip(*parts))
    if names == [None]:
        return nets[0], counts
    weights = [scale_of(embedder, f"{name}_weight") ** 2 for name in names]
    if len(nets) == 1:   # the other weighted 0
        nets, weights = nets + [None], weights + [0.0]
    return concat_embedder(*nets, *weights), counts
