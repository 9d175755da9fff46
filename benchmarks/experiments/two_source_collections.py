"""Validation collections of two sources, with museum artists the fit learned as well as new ones.

As ``shared_data.two_source_validation`` sets them up (WikiArt's validation pairs of a split;
public_art's training part with 20% of its artists held out whole, drawn with the split's seed),
and besides, a quarter of the paintings of public_art's other artists with three paintings or more
are held out too. Pairs of two museum artists the fit learned are public_art's "seen" pairs; pairs
with a held-out artist its "unseen" ones. Each collection is its own context. No test painting is
read. Shared by the experiments on the artist profile, the collection and the features
(``artist_priors.py``, ``collection_neighbours.py``, ``source_centring.py``, ``museum_backbone.py``).
"""
from types import SimpleNamespace

import numpy as np
import pandas as pd

_SEEN_SHARE = 0.25   # of a learned museum artist's paintings, held out as seen pairs


def collections(labels, split, pa_labels, seed, candidates=None):
    """The fitting rows and validation pairs of one split (``shared_data.default_features_and_splits``).

    ``candidates``: the museum artists that may be held out whole (default: all of them), e.g.
    those no backbone learned.

    Returns a namespace: ``fit`` (WikiArt rows), ``pa_fit`` / ``pa_val`` (bool, public_art rows),
    ``rows_w`` (WikiArt rows of the validation collection) with its pairs ``iw``, ``jw``, ``same``,
    ``kind``; public_art's pairs ``ip``, ``jp`` (indexing ``pa_val``'s rows), ``pa_same``, ``pa_kind``.
    """
    fit, i, j, same, kind = split
    artists = np.unique(pa_labels)
    pool = artists if candidates is None else np.intersect1d(artists, list(candidates))
    held = set(np.random.default_rng(seed).choice(pool, min(len(artists) // 5, len(pool)), replace=False))
    whole = np.isin(pa_labels, list(held))
    counts = pd.Series(pa_labels).value_counts()
    part = (~whole & np.isin(pa_labels, counts.index[counts >= 3])
            & (np.random.default_rng(seed + 10).random(len(pa_labels)) < _SEEN_SHARE))
    pa_val = whole | part
    rows_w = np.unique(np.concatenate([i, j]))
    at = np.full(len(labels), -1)
    at[rows_w] = np.arange(len(rows_w))
    lp, new = pa_labels[pa_val], whole[pa_val]
    ip, jp = np.triu_indices(len(lp), 1)
    return SimpleNamespace(fit=fit, pa_fit=~pa_val, pa_val=pa_val, rows_w=rows_w, iw=at[i], jw=at[j], same=same,
                           kind=kind, ip=ip, jp=jp, pa_same=lp[ip] == lp[jp],
                           pa_kind=np.where(new[ip] | new[jp], "unseen", "seen"))


def fitting_labels(c, labels, pa_labels):
    """``(names, y)`` of the fitting paintings, WikiArt's first, then public_art's."""
    return np.unique(np.concatenate([labels[c.fit], pa_labels[c.pa_fit]]), return_inverse=True)


def projected(c, F, P, labels, pa_labels, mask):
    """``lda`` fitted on the fitting rows of ``F`` (WikiArt) and ``P`` (public_art), and the
    collections through it: a namespace of ``base`` (``lda_projection``'s model), ``names``,
    ``museum`` (bool per artist: learned from public_art only), ``size`` (paintings per artist),
    ``Xw``, ``Xp`` (the projected collections) and ``T``, ``w`` (chosen on WikiArt's pairs
    without context, as ``painter train`` chooses them)."""
    import keras
    from shared_data import _embed_shifted
    from painter.same_artist.context import PROJECTION
    from painter.same_artist.lda import choose_scorer, lda_projection
    names, y = fitting_labels(c, labels, pa_labels)
    base = lda_projection(np.vstack([F[c.fit], P[c.pa_fit]]), y, len(names), log_columns=mask, overwrite=True)
    project = keras.Model(base.input, base.get_layer(PROJECTION).output)
    Xw = project.predict(F[c.rows_w], batch_size=1024, verbose=0)
    Xp = project.predict(P[c.pa_val], batch_size=1024, verbose=0)
    T, w, _ = choose_scorer(*_embed_shifted(base, Xw, 0), c.iw, c.jw, c.same, c.kind)
    return SimpleNamespace(base=base, names=names, museum=~np.isin(names, labels[c.fit]),
                           size=np.bincount(y).astype(float), Xw=Xw, Xp=Xp, T=T, w=w)


def aucs(c, s_w, s_p) -> dict:
    """ROC AUC of WikiArt's pair scores ``s_w`` and public_art's ``s_p``, seen and unseen apart."""
    from sklearn.metrics import roc_auc_score
    out = {f"wikiart {k}": roc_auc_score(c.same[c.kind == k], s_w[c.kind == k]) for k in ("seen", "unseen")}
    out.update({f"public_art {k}": roc_auc_score(c.pa_same[c.pa_kind == k], s_p[c.pa_kind == k])
                for k in ("seen", "unseen")})
    return out


def mean_table(rows, by) -> pd.DataFrame:
    """The mean over splits of ``rows`` (dicts of ``aucs`` and the keys ``by``), with their mean."""
    table = pd.DataFrame(rows).groupby(by, sort=False).mean(numeric_only=True)
    table = table[[c for c in table.columns if c.startswith(("wikiart", "public_art"))]]
    table["mean"] = table.mean(axis=1)
    return table
