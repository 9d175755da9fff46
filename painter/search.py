"""Similar-painting search with FAISS, and retrieval metrics that exclude the query itself.

Embeddings (frozen backbone features, or a trained same-artist model's embedding) are
L2-normalised, so inner product = cosine. Index types: ``"flat"`` (exact, default), ``"ivf"``
(inverted lists, for large collections), ``"hnsw"`` (graph), and for millions of paintings
``"ivfsq"`` (compressed vectors, filled in chunks: ``compressed_index``). An index folder
holds ``index.faiss``, ``vectors.npy`` (not for the compressed type: it keeps no
float32 copy), ``metadata.csv`` and ``config.json``; new images are added without re-embedding
the old ones.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .compressed_index import COMPRESSED, FILL_CHUNK, compressed_index, training_size
from .data.images import ImageError
from .errors import InputError, check_folder, check_out_folder, no_usable_images, read_json_part, read_part
from .data.labels import read_collection
from .features import DEFAULT_FEATURES, FeatureSpec, extract_features, read_spec
from .plots import plot_image_row

__all__ = ["SimilarityIndex", "build_index_from_data", "IndexFolderError", "unit_rows", "make_faiss_index"]

# what indexes saved before the spec was recorded were built with
_FIRST_INDEX_SPEC = FeatureSpec("efficientnet_lite0", 224, "style")


class IndexFolderError(InputError):
    """An index folder that cannot be used: the message names the file and what to do."""


def unit_rows(x) -> np.ndarray:
    """Rows scaled to unit length (float32), so that inner product = cosine."""
    from sklearn.preprocessing import normalize
    return normalize(np.asarray(x, np.float32))


def make_faiss_index(dim, index_type, n):
    """An empty inner-product FAISS index: exact ``flat``, graph ``hnsw`` or inverted-list ``ivf``
    (sqrt(n) lists, a quarter probed), or compressed ``ivfsq`` (``compressed_index``)
    for ``n`` vectors of ``dim`` values."""
    import faiss
    if index_type in COMPRESSED:
        return compressed_index(dim, n, index_type)
    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
        return index
    if index_type == "ivf":
        nlist = max(1, int(np.sqrt(max(n, 1))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)  # faiss keeps quantizer alive
        index.nprobe = max(1, nlist // 4)
        return index
    raise ValueError(f"index_type must be 'flat', 'ivf', 'hnsw' or 'ivfsq', got {index_type!r}")


class SimilarityIndex:
    """FAISS index + metadata (``file`` and any label columns such as ``artist``, ``style``)."""

    def __init__(self, embedding="backbone", index_type="flat", spec: FeatureSpec = DEFAULT_FEATURES):
        """``embedding``: ``"backbone"`` (the frozen ``spec`` features) or a same-artist model folder
        (its embedding; ``spec`` is then the model's)."""
        self.embedding, self.index_type, self.spec = str(embedding), index_type, spec
        if self.embedding != "backbone":
            from .same_artist.predict import load_pair_model
            self.spec = load_pair_model(self.embedding).spec
        self.vectors = np.zeros((0, 0), np.float32)
        self.metadata = pd.DataFrame(columns=["file"])
        self.index = None

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
            return self._add_in_chunks([p for p, n in zip(paths, new) if n], meta[new.to_numpy()], progress)
        x, failed = self._embed([p for p, n in zip(paths, new) if n], progress)
        ok = ~np.isnan(x).any(1)
        if not ok.any():
            return failed
        x, meta = unit_rows(x[ok]), meta[new.to_numpy()].reset_index(drop=True)[ok]
        if self.index is None:
            self.index = make_faiss_index(x.shape[1], self.index_type, len(x))
            if not self.index.is_trained:
                self.index.train(x)
            self.vectors = np.zeros((0, x.shape[1]), np.float32)
        self.index.add(x)
        self.vectors = np.concatenate([self.vectors, x])
        self.metadata = pd.concat([self.metadata, meta], ignore_index=True)
        return failed

    def _add_in_chunks(self, paths, meta, progress) -> dict:
        """``add`` for a compressed index: trained on a sample of ``paths`` when new, then filled
        ``FILL_CHUNK`` paintings at a time (their features come from the store the second time)."""
        meta, failed = meta.reset_index(drop=True), {}
        if self.index is None:
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(len(paths), training_size(len(paths)), replace=False))
            x, failed = self._embed([paths[i] for i in sample], progress)
            x = x[~np.isnan(x).any(1)]
            if not len(x):
                return failed
            self.index = make_faiss_index(x.shape[1], self.index_type, len(paths))
            self.index.train(unit_rows(x))
            self.vectors = np.zeros((0, x.shape[1]), np.float32)   # none kept: the index holds the codes
        for start in range(0, len(paths), FILL_CHUNK):
            x, bad = self._embed(paths[start:start + FILL_CHUNK], progress)
            failed |= bad
            ok = ~np.isnan(x).any(1)
            self.index.add(unit_rows(x[ok]))
            self.metadata = pd.concat([self.metadata, meta[start:start + FILL_CHUNK][ok]], ignore_index=True)
        return failed

    def search_vectors(self, q, k=10):
        """``(scores, ids)`` each ``(n_queries, k)`` for L2-normalised query vectors."""
        return self.index.search(unit_rows(q), k)

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

    def save(self, directory):
        """Write ``index.faiss``, ``vectors.npy``, ``metadata.csv`` and, last, ``config.json``."""
        import faiss
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").unlink(missing_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        if self.index_type not in COMPRESSED:
            np.save(directory / "vectors.npy", self.vectors)
        self.metadata.to_csv(directory / "metadata.csv", index=False)
        config = {"painter_index": True, "embedding": self.embedding, "index_type": self.index_type,
                  "feature_spec": self.spec and self.spec.to_dict()}   # None: a model that reads images
        (directory / "config.json").write_text(json.dumps(config))
        return directory

    @classmethod
    def load(cls, directory):
        """Load an index folder; a missing, damaged or foreign file raises ``IndexFolderError``
        naming it."""
        import faiss
        directory = Path(directory)
        config = _read_index_config(directory)
        spec = read_spec(config, directory / "config.json", IndexFolderError, _REBUILD, default=_FIRST_INDEX_SPEC)
        self = cls.__new__(cls)
        self.embedding, self.index_type, self.spec = config["embedding"], config["index_type"], spec
        self.index = _read_part(directory / "index.faiss", lambda p: faiss.read_index(str(p)))
        compressed = self.index_type in COMPRESSED   # codes only, no float32 copy
        self.vectors = np.zeros((0, self.index.d), np.float32) if compressed else \
            _read_part(directory / "vectors.npy", lambda p: np.load(p, allow_pickle=False))
        self.metadata = _read_part(directory / "metadata.csv",
                                   lambda p: pd.read_csv(p, dtype=str, keep_default_na=False))
        rows = {"index.faiss": self.index.ntotal, "metadata.csv": len(self.metadata)} | \
            ({} if compressed else {"vectors.npy": len(self.vectors)})
        if len(set(rows.values())) > 1:
            raise IndexFolderError(f"{directory}: {' and '.join(rows)} disagree "
                                   f"({', '.join(map(str, rows.values()))} rows); {_REBUILD}")
        return self


_REBUILD = "rebuild it with `painter index DATA --out DIR`"


def _read_index_config(directory: Path) -> dict:
    directory = check_folder(directory, "search index", IndexFolderError)
    return read_json_part(directory / "config.json", ("index_type", "embedding"), IndexFolderError, "index folder",
                          _REBUILD)


def _read_part(path: Path, read):
    return read_part(path, read, IndexFolderError, "index folder", _REBUILD)


def build_index_from_data(data_dir, out_dir, embedding="backbone", index_type="flat", spec: FeatureSpec = DEFAULT_FEATURES,
                          progress=True):
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
    index.save(out_dir)
    pd.DataFrame(list(skipped.items()), columns=["file", "reason"]).to_csv(Path(out_dir) / "skipped.csv", index=False)
    print(f"indexed {len(index.metadata)} paintings in {out_dir}; {len(skipped)} skipped (listed in skipped.csv)")
    return index
