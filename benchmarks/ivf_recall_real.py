"""Recall@10 of the compressed index (``painter index --index-type ivfsq``) on real embeddings.

``benchmarks/ivf_index.py`` measures a million synthetic vectors; this measures the paintings
there are: the packaged model's embeddings (unit length, as the index holds them) of
every painting in ``../shared/data`` (pbn_dev cleaned, wikiart_extra, public_art,
best_artworks_fullsize; features from the cache). ``--queries`` of them, drawn at random, are
left out of the index and asked; recall@10 is the share of the exact 10 nearest (inner product)
that the index returns, per ``nprobe``. Compare ``python benchmarks/ivf_index.py --n N`` at the
same size for the synthetic vectors.

    python benchmarks/ivf_recall_real.py [--queries 1000] [--write]
"""
import argparse

import faiss
import numpy as np

import results_tables
from shared_data import RUNS, SOURCES, clean_pbn_dev, write_results
from painter.compressed_index import compressed_index, n_lists, training_size
from painter.data.labels import read_collection
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model

p = argparse.ArgumentParser()
p.add_argument("--queries", type=int, default=1000)
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'ivf-recall-real' section)")
args = p.parse_args()

model = load_pair_model(PACKAGED_MODEL)
paths = []
for source in (clean_pbn_dev(RUNS / "pbn_clean"), SOURCES / "wikiart_extra", SOURCES / "public_art",
               SOURCES / "best_artworks_fullsize"):
    paths += [f for f in read_collection(source)["file"]]
Z, failed = model.embed_files(paths, progress=False)
Z = Z[~np.isnan(Z).any(axis=1)]
Z = np.ascontiguousarray(Z / np.linalg.norm(Z, axis=1, keepdims=True), dtype=np.float32)
order = np.random.default_rng(0).permutation(len(Z))
queries, base = Z[order[:args.queries]], Z[order[args.queries:]]
n, dim = base.shape

exact = faiss.IndexFlatIP(dim)
exact.add(base)
_, truth = exact.search(queries, 10)
index = compressed_index(dim, n)
sample = base[np.sort(np.random.default_rng(1).choice(n, training_size(n), replace=False))]
index.train(sample)
index.add(base)
own = faiss.extract_index_ivf(index).nprobe
print(f"{n:,} real embeddings ({len(failed)} unreadable left out), width {dim}, {n_lists(n)} lists, "
      f"trained on {len(sample):,}; {len(queries)} queries left out of the index")
probes = []
for nprobe in sorted({max(1, own // 4), max(1, own // 2), own, min(n_lists(n), 2 * own)}):
    faiss.extract_index_ivf(index).nprobe = nprobe
    _, found = index.search(queries, 10)
    probes.append((nprobe, np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])))
text = results_tables.ivf_recall_real(n, dim, len(queries), n_lists(n), len(failed), probes, own)
print(text)
if args.write:
    write_results("ivf-recall-real", text)
