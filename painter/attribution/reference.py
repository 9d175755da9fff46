"""The reference set of an attribution: reference paintings embedded by one model, grouped by
artist, and their on-disk cache (``$PAINTER_CACHE/references``), keyed by the model's weights and
the reference's file list."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import weakref
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..cache import cache_dir
from ..compressed_index import COMPRESSED, FILL_CHUNK
from ..errors import InputError, ParameterError, no_usable_images
from ..vector_store import INDEX_TYPES, VectorStore
from .calibration import group_scores

__all__ = ["ReferenceSet", "load_reference", "model_fingerprint"]

logger = logging.getLogger(__name__)

_fingerprints: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def model_fingerprint(model) -> str:
    """SHA-1 of a ``PairModel``'s feature spec, scorer and every weight (memoised per instance)."""
    if model not in _fingerprints:
        spec_key = model.spec.key if model.spec is not None else None   # None: the model reads the images itself
        h = hashlib.sha1(json.dumps([spec_key, model.scorer, model.bias]).encode())
        for net in (model.embedder, model.head):
            if hasattr(net, "get_weights"):
                for w in net.get_weights():
                    h.update(np.ascontiguousarray(w).tobytes())
            elif net is not None:   # an exported embedder: its folder is named by the saved model's content
                h.update(str(net.path).encode())
        _fingerprints[model] = h.hexdigest()
    return _fingerprints[model]


def _reference_files(reference):
    """``(paths, artists, missing)`` of a cleaned data folder or a folder-per-artist tree."""
    import warnings

    from ..data.labels import flatten, read_training_images
    with warnings.catch_warnings():   # files listed but not on disk are reported in the skipped table
        warnings.simplefilter("ignore")
        d, root = read_training_images(reference)
    files, artists = flatten(d)
    prefix = os.path.join(str(root), "")   # plain string joins: pathlib costs 0.2 s per 10,000 files
    return [prefix + f for f in files], np.array(artists, dtype=object), [prefix + f for f in getattr(d, "missing", [])]


def _list_key(model, paths, index_type="flat") -> str:
    h = hashlib.sha1(model_fingerprint(model).encode())
    if index_type != "flat":   # flat: the key of the sets cached before there were other types
        h.update(index_type.encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()[:20]


def _by_artist(files, artists):
    """``(metadata, order)``: a ``file, artist`` DataFrame with each artist's rows together (artists
    sorted, files in their order within each), and the order that groups them."""
    files, artists = np.asarray(files, dtype=object), np.asarray(artists, dtype=object)
    order = np.argsort(artists.astype(str), kind="stable")
    return pd.DataFrame({"file": files[order], "artist": artists[order]}), order


class ReferenceSet:
    """Reference paintings embedded by one model, grouped by artist.

    Parameters
    ----------
    files, artists_per_file : ``(N,)`` paths and their artists; Z : ``(N, E)`` embeddings
    bias : the model's pair-logit bias; skipped : DataFrame ``file, reason``; key, model_key : below
    index_type : how the nearest paintings are searched (``painter.vector_store.INDEX_TYPES``):
        ``"flat"`` (exact), ``"ivf"``, ``"hnsw"``, or ``"ivfsq"``, a byte per value and no float32
        copy, for a million reference paintings (``painter.compressed_index``)

    Attributes
    ----------
    files : ``(N,)`` paths, grouped by artist; artists : ``(n_artists,)`` names, sorted;
    starts : ``(n_artists,)`` first row of every artist; counts : ``(n_artists,)``
    Z : ``(N, E)`` float32 embeddings; store : their ``VectorStore`` (metadata ``file, artist``)
    centroids : ``(n_artists, E)`` float64 mean ``z`` per artist
    skipped : DataFrame ``file, reason`` of the paintings that could not be used
    bias : the model's pair-logit bias; key : cache key; model_key : ``model_fingerprint`` of the
        model that embedded it ("" if unknown)
    """

    def __init__(self, files, artists_per_file, Z, bias, skipped=None, key="", model_key="", index_type="flat"):
        meta, order = _by_artist(files, artists_per_file)
        Z = np.asarray(Z, np.float32)[order]
        if index_type in COMPRESSED:
            store = VectorStore(index_type=index_type)
            store.fill(np.arange(len(Z)), meta, lambda rows, progress: (Z[rows], {}))
        else:
            store = VectorStore(Z, meta, index_type)
        self._attach(store, bias, skipped, key, model_key)

    @classmethod
    def from_store(cls, store: VectorStore, bias, skipped=None, key="", model_key="") -> "ReferenceSet":
        """A set over a filled ``store`` whose rows are grouped by artist (metadata ``file, artist``)."""
        self = cls.__new__(cls)
        self._attach(store, bias, skipped, key, model_key)
        return self

    def _attach(self, store, bias, skipped, key, model_key):
        self.store, self.files = store, store.metadata["file"].to_numpy(object)
        labels = store.metadata["artist"].to_numpy(object).astype(str)
        self.artists, self.starts, self.counts = np.unique(labels, return_index=True, return_counts=True)
        self.codes = np.repeat(np.arange(len(self.artists)), self.counts)
        self.bias, self.key, self.model_key = float(bias), key, model_key
        self.skipped = skipped if skipped is not None else pd.DataFrame(columns=["file", "reason"])
        # summed a chunk at a time: a compressed store's rows are decoded, never all at once
        sums = np.zeros((len(self.artists), store.vectors.shape[1]))
        for lo in range(0, len(self), FILL_CHUNK):
            codes = self.codes[lo:lo + FILL_CHUNK]
            first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            sums[codes[first]] += np.add.reduceat(store.rows(lo, lo + FILL_CHUNK).astype(np.float64), first, axis=0)
        self.centroids = sums / np.maximum(self.counts, 1)[:, None]

    @property
    def Z(self) -> np.ndarray:
        """``(N, E)`` float32 embeddings (a compressed set's are decoded: all in memory at once)."""
        return self.store.rows()

    @property
    def index(self):
        """FAISS inner-product index over ``Z`` (its ``index_type``): the nearest paintings of a query."""
        return self.store.index

    def __len__(self):
        return len(self.files)

    def __repr__(self):
        return f"ReferenceSet({len(self)} paintings, {len(self.artists)} artists, {len(self.skipped)} skipped)"

    # --- queries ---------------------------------------------------------------------------------
    def scores(self, zq, aggregate: str = "mean", neighbours: int = 1024) -> np.ndarray:
        """Per-artist scores ``(Q, n_artists)`` of query embeddings ``zq (Q, E)``.

        ``"mean"`` uses the artists' mean ``z`` (Q x n_artists products, exact). The other
        aggregates need each artist's best paintings: they are read from the query's
        ``neighbours`` nearest paintings (FAISS); an artist with fewer than the paintings it
        needs among them is completed with the mean of its other paintings, bounded by the last
        neighbour's logit, which no unretrieved painting exceeds (exact when ``neighbours``
        covers the reference).

        An approximate index (``ivf``, ``hnsw``, ``ivfsq``) is read the same way: its top
        ``neighbours`` stand for the exact ones (recall@10 0.95 or more), so a query costs
        ``neighbours`` rows, never a product with all N. An ``ivfsq`` set keeps no float32
        vectors: its means and a small reference's exact products are over the decoded codes,
        within the 8-bit rounding of the kept vectors'.
        """
        zq = np.atleast_2d(np.asarray(zq, np.float32))
        mean = zq.astype(np.float64) @ self.centroids.T + self.bias
        if aggregate == "mean" or not len(self):
            return mean
        if aggregate == "mean+top3":
            return 0.5 * (mean + self.scores(zq, "top3", neighbours))
        if neighbours >= len(self):
            return group_scores(zq @ self.Z.T + self.bias, self.starts, aggregate)
        sims, ids = self.store.search(zq, neighbours)
        out = np.empty_like(mean)
        for q in range(len(zq)):   # one row per query; each is vectorised over the neighbours
            found = ids[q] >= 0    # an inverted-list index returns fewer when its probed lists hold fewer
            out[q] = self._sparse_scores(sims[q][found] + self.bias, ids[q][found], mean[q], aggregate)
        return out

    def _sparse_scores(self, s, ids, mean, how):
        """Aggregate from the retrieved logits ``s`` of rows ``ids``; unretrieved rows are imputed."""
        floor = s[-1] if len(s) else np.inf
        codes = self.codes[ids]
        n_hit = np.bincount(codes, minlength=len(self.artists))
        # the unretrieved paintings of an artist: their mean logit, at most the last retrieved one
        rest_sum = mean * self.counts - np.bincount(codes, weights=s, minlength=len(self.artists))
        rest = np.minimum(rest_sum / np.maximum(self.counts - n_hit, 1), floor)
        if how == "max":
            out = np.full(len(self.artists), -np.inf)
            np.maximum.at(out, codes, s)
            return np.where(n_hit > 0, out, rest)
        if how == "lme":
            top = max(s[0] if len(s) else -np.inf, rest.max())
            total = np.bincount(codes, weights=np.exp(s - top), minlength=len(self.artists))
            total += (self.counts - n_hit) * np.exp(rest - top)
            return np.log(total / self.counts) + top
        m = int(how[3:])
        rank = np.zeros(len(s), int)   # s is sorted best first: rank within artist by cumulative count
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        first = np.searchsorted(sorted_codes, sorted_codes)
        rank[order] = np.arange(len(s)) - first
        keep = rank < m
        top_sum = np.bincount(codes[keep], weights=s[keep], minlength=len(self.artists))
        need = np.minimum(self.counts, m)
        return (top_sum + np.maximum(need - np.minimum(n_hit, m), 0) * rest) / need

    def best_matches(self, zq, artist: int, n: int = 3):
        """``(rows, logits)``: the ``n`` paintings of artist ``artist`` closest to ``zq (E,)``
        (Euclidean distance in ``z``: an identical painting comes first) and their pair logits.

        Closest, not most probable: the pair logit ``z_q · z_i`` also grows with ``|z_i|``, which
        for the lda model is how peaked a painting's artist profile is, so ranking by it would
        show each artist's most typical paintings rather than the ones most like the query."""
        lo, hi = self.starts[artist], self.starts[artist] + self.counts[artist]
        # the artist's rows alone (an ivfsq set's decoded): exact distances, memory for one artist
        zq, Z = np.asarray(zq, np.float32), self.store.rows(lo, hi)
        dot = Z @ zq
        top = np.argsort(np.einsum("ij,ij->i", Z, Z) - 2 * dot, kind="stable")[:n]
        return lo + top, dot[top] + self.bias

    # --- files -----------------------------------------------------------------------------------
    def save(self, directory):
        """Write the set as a ``VectorStore`` folder with ``skipped.csv``."""
        config = {"key": self.key, "model_key": self.model_key, "bias": self.bias, "index_type": self.store.index_type}
        return self.store.save(directory, config, {"skipped.csv": self.skipped})

    @classmethod
    def load(cls, directory, key: str | None = None) -> "ReferenceSet":
        """Read a saved set; ``InputError`` if it is incomplete, damaged or (with ``key``) stale."""
        store, config = VectorStore.load(directory, ("key", "bias"), folder_kind="reference cache")
        if key is not None and config["key"] != key:
            raise InputError(f"{directory}: built for another model or file list")
        skipped = pd.read_csv(os.path.join(directory, "skipped.csv"), dtype=str, keep_default_na=False)
        return cls.from_store(store, config["bias"], skipped, config["key"], config.get("model_key", ""))


def _embed_reference(reference, paths, artists, missing, model, key, index_type, progress) -> ReferenceSet:
    """A new set of ``paths`` embedded by ``model``; its unusable paintings in ``skipped``."""
    skipped = {p: "file not found (listed in all_data_info.csv, not on disk)" for p in missing}
    if index_type in COMPRESSED:   # grouped by artist first: the store's rows are the set's
        meta, _ = _by_artist(paths, artists)
        store = VectorStore(index_type=index_type)
        skipped |= store.fill(meta["file"].tolist(), meta, lambda p, progress: model.embed_files(p, progress=progress),
                              progress)
        usable = len(store) > 0
    else:
        Z, failed = model.embed_files(paths, progress=progress)
        skipped |= failed
        ok = ~np.isnan(Z).any(axis=1)
        usable = ok.any()
    if not usable:
        raise no_usable_images(reference, skipped, "reference paintings")
    skipped = pd.DataFrame(list(skipped.items()), columns=["file", "reason"])
    if index_type in COMPRESSED:
        return ReferenceSet.from_store(store, model.bias, skipped, key, model_fingerprint(model))
    return ReferenceSet(np.array(paths, object)[ok], artists[ok], Z[ok], model.bias, skipped, key,
                        model_fingerprint(model), index_type)


_LOADED_MAX = 4   # reference sets kept in memory (a notebook switching between a few references)
_loaded_refs: OrderedDict = OrderedDict()


def load_reference(reference, model=None, cache: bool = True, progress: bool = True,
                   index_type: str = "flat") -> ReferenceSet:
    """Embed a reference collection with ``model`` (cached), or return a ``ReferenceSet`` as is.

    Parameters
    ----------
    reference : a folder per artist (``root/<artist>/*.jpg``), a cleaned data folder (its
        training paintings, labelled by ``all_data_info.csv``), or a ``ReferenceSet``
    model : ``PairModel``, model folder, or None (see ``painter.same_artist.predict.load_pair_model``)
    cache : read and write ``$PAINTER_CACHE/references/<key>/``; the key covers the model's
        weights and every reference file's path, size and modification time, so an edited,
        added or removed painting (or another model) builds a new set. A damaged cache is rebuilt.
    index_type : ``ReferenceSet``'s; ``"ivfsq"`` embeds the paintings ``FILL_CHUNK`` at a time
        (``VectorStore.fill``), so that memory holds the compressed index, never every ``z``

    Paintings that cannot be used are left out, listed in ``.skipped`` (file, reason) and named in one
    warning.
    """
    from ..same_artist.predict import load_pair_model
    _check_index_type(index_type)
    model = load_pair_model(model)
    if isinstance(reference, ReferenceSet):
        if reference.model_key and reference.model_key != model_fingerprint(model):
            raise ParameterError("the reference set was embedded by another model: load_reference(folder, model)")
        return reference
    return _load(reference, model, _listing(reference, model, index_type), cache, progress, index_type)


def _check_index_type(index_type):
    if index_type not in INDEX_TYPES:
        raise ParameterError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")


def _listing(reference, model, index_type="flat"):
    """``_reference_files(reference)`` after every check that reads no painting: a wrong argument,
    model or folder fails in one line before any embedding."""
    _check_index_type(index_type)
    if model.scorer != "dot":
        raise ParameterError("attribution needs a model with the 'dot' scorer (lda, cosface, contrastive, triplet)")
    return _reference_files(reference)


def _load(reference, model, listing, cache=True, progress=True, index_type="flat") -> ReferenceSet:
    """``load_reference`` of a reference folder listed by ``_listing`` with a loaded ``model``."""
    paths, artists, missing = listing
    key = _list_key(model, paths + missing, index_type)
    random = model.spec is not None and model.spec.random_weights   # a random draw's embeddings are its own
    cache = cache and not random
    if key in _loaded_refs and not random:
        _loaded_refs.move_to_end(key)
        return _loaded_refs[key]
    folder = cache_dir() / "references" / key
    ref = None
    if cache and folder.is_dir():
        try:
            ref = ReferenceSet.load(folder, key)
        except (InputError, OSError, pd.errors.ParserError) as e:
            logger.warning(f"rebuilding the reference cache: {e}")
    if ref is None:
        ref = _embed_reference(reference, paths, artists, missing, model, key, index_type, progress)
        if cache:
            ref.save(folder)
    if len(ref.skipped):
        logger.warning(f"{len(ref.skipped)} reference paintings skipped: "
                       + "; ".join(f"{f}: {r}" for f, r in ref.skipped.itertuples(index=False, name=None)))
    if not random:
        _loaded_refs[key] = ref
        while len(_loaded_refs) > _LOADED_MAX:
            _loaded_refs.popitem(last=False)
    return ref
