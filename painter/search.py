"""Similar-painting search with FAISS, and retrieval metrics that exclude the query itself.

Embeddings (frozen backbone features, or a trained same-artist model's embedding) are
L2-normalised, so inner product = cosine. Index types: ``"flat"`` (exact, default), ``"ivf"``
(inverted lists, for large collections), ``"hnsw"`` (graph), and for millions of paintings
``"ivfsq"`` (compressed vectors, trained on a sample and filled in chunks: ``compressed_index``;
it keeps no float32 copy). An index folder is a ``painter.vector_store.VectorStore`` folder; new
images are added without re-embedding the old ones.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .data.images import ImageError
from .errors import InputError, check_folder, check_out_folder, no_usable_images
from .data.labels import read_collection
from .features import DEFAULT_FEATURES, FeatureSpec, extract_features, read_spec
from .compressed_index import COMPRESSED
from .plots import plot_image_row
from .vector_store import VectorStore, make_faiss_index

__all__ = ["SimilarityIndex", "build_index_from_data", "IndexFolderError", "unit_rows", "make_faiss_index"]

logger = logging.getLogger(__name__)

# what indexes saved before the spec was recorded were built with
_FIRST_INDEX_SPEC = FeatureSpec("efficientnet_lite0", 224, "style")


class IndexFolderError(InputError):
    """An index folder that cannot be used: the message names the file and what to do."""


def unit_rows(x) -> np.ndarray:
    """Rows scaled to unit length (float32), so that inner product = cosine."""
    from sklearn.preprocessing import normalize
    return normalize(np.asarray(x, np.float32))


class SimilarityIndex(VectorStore):
    """A ``VectorStore`` of unit-length embeddings, its metadata ``file`` and any label columns such
    as ``artist``, ``style``, and the embedding that makes them."""

    def __init__(self, embedding="backbone", index_type="flat", spec: FeatureSpec = DEFAULT_FEATURES):
        """``embedding``: ``"backbone"`` (the frozen ``spec`` features) or a same-artist model folder
        (its embedding; ``spec`` is then the model's)."""
        super().__init__(index_type=index_type)
        self.embedding, self.spec = str(embedding), spec
        if self.embedding != "backbone":
            from .same_artist.predict import load_pair_model
            self.spec = load_pair_model(self.embedding).spec

    def _embed(self, paths, progress=False):
        if self.embedding == "backbone":
            x, failed = extract_features(paths, self.spec, progress=progress)
        else:
            from .same_artist.predict import load_pair_model
            x, failed = load_pair_model(self.embedding).embed_files(paths, progress=progress)
        return x, failed

    def add(self, paths, metadata: pd.DataFrame | None = None, progress=True) -> dict:
        """Embed and add images (skipping files already indexed). Returns ``{path: reason}`` of failures
        (an index that none of its first images could join stays empty: ``self.index`` None)."""
        paths = [str(p) for p in paths]
        meta = metadata.reset_index(drop=True) if metadata is not None else pd.DataFrame({"file": paths})
        meta = meta.assign(file=paths)
        new = ~meta["file"].isin(set(self.metadata["file"]))
        if self.index_type in COMPRESSED:
            return self.fill([p for p, n in zip(paths, new) if n], meta[new.to_numpy()], self._embed_unit, progress)
        x, failed = self._embed([p for p, n in zip(paths, new) if n], progress)
        ok = ~np.isnan(x).any(1)
        if ok.any():
            super().add(unit_rows(x[ok]), meta[new.to_numpy()].reset_index(drop=True)[ok])
        return failed

    def _embed_unit(self, paths, progress=False):
        """``_embed`` with the usable rows scaled to unit length (NaN rows kept for the failures)."""
        x, failed = self._embed(paths, progress)
        ok = ~np.isnan(x).any(1)
        x[ok] = unit_rows(x[ok])
        return x, failed

    def search_vectors(self, q, k=10):
        """``(scores, ids)`` each ``(n_queries, k)`` for query vectors (scaled to unit length here)."""
        return self.search(unit_rows(q), k)

    def query_file(self, path, k=10) -> pd.DataFrame:
        """The ``k`` most similar indexed paintings to an image file (itself excluded if indexed)."""
        x, failed = self._embed([str(path)])
        if failed:
            raise ImageError(path, failed[str(path)])
        scores, ids = self.search_vectors(x, k + 1)
        rows = [(s, i) for s, i in zip(scores[0], ids[0]) if i >= 0 and self.metadata["file"][i] != str(path)][:k]
        table = self.metadata.iloc[[i for _, i in rows]].reset_index(drop=True)
        table.insert(0, "score", [float(s) for s, _ in rows])
        table.insert(0, "rank", np.arange(1, len(rows) + 1))
        return table

    def plot_neighbours(self, query, table, path):
        """PNG: the query, then its neighbours with artist and score."""
        items = [(query, "query")] + [(r.file, f"{str(getattr(r, 'artist', ''))[:18]}\n{r.score:.2f}")
                                      for r in table.itertuples()]
        return plot_image_row(items, path, width=2.1)

    def save(self, directory, tables: dict | None = None):
        """Write the index folder (``VectorStore.save``) with the embedding and its feature spec."""
        config = {"painter_index": True, "embedding": self.embedding, "index_type": self.index_type,
                  "feature_spec": self.spec and self.spec.to_dict()}   # None: a model that reads images
        return super().save(directory, config, tables)

    @classmethod
    def load(cls, directory):
        """Load an index folder; a missing, damaged or foreign file raises ``IndexFolderError``
        naming it."""
        directory = check_folder(directory, "search index", IndexFolderError)
        store, config = VectorStore.load(directory, ("index_type", "embedding"), IndexFolderError, "index folder",
                                         _REBUILD)
        self = cls.__new__(cls)
        self.__dict__.update(store.__dict__)
        self.embedding = config["embedding"]
        self.spec = read_spec(config, directory / "config.json", IndexFolderError, _REBUILD, default=_FIRST_INDEX_SPEC)
        return self


_REBUILD = "rebuild it with `painter index DATA --out DIR`"


def build_index_from_data(data_dir, out_dir, embedding="backbone", index_type="flat",
                          spec: FeatureSpec = DEFAULT_FEATURES, progress=True):
    """Index every painting of a collection (a cleaned folder's train and test paintings, or a
    folder-per-artist tree) with artist, style and whether the artist has training paintings.
    Paintings that cannot be indexed are listed in ``out_dir/skipped.csv``. Every input is
    checked before ``out_dir`` is written: a failed build leaves an earlier index there as it was."""
    check_out_folder(out_dir, "search index")
    info = read_collection(data_dir)
    on_disk = np.array([Path(f).is_file() for f in info["file"]], dtype=bool)
    skipped = {f: "file not found (not written by cleaning)" for f in info["file"][~on_disk]}
    info = info[on_disk]
    index = SimilarityIndex(embedding, index_type, spec)
    skipped |= index.add(info["file"].tolist(), info, progress=progress)
    if index.index is None:
        raise no_usable_images(data_dir, skipped, "paintings")
    index.save(out_dir, {"skipped.csv": pd.DataFrame(list(skipped.items()), columns=["file", "reason"])})
    logger.info(f"indexed {len(index.metadata)} paintings in {out_dir}; {len(skipped)} skipped (listed in skipped.csv)")
    return index
