"""Recall@10 of the compressed index (``painter index --index-type ivfsq``) on real embeddings.

``benchmarks/ivf_index.py`` measures a million synthetic vectors; this measures the paintings
there are: the packaged model's embeddings (width 1,315, unit length as the index holds them) of
every painting in ``../shared/data`` (pbn_dev cleaned, wikiart_extra, public_art,
best_artworks_fullsize; features from the cache). ``--queries`` of them, drawn at random, are
left out of the index and asked; recall@10 is the share of the exact 10 nearest (inner product)
that the index returns, per ``nprobe``. Compare ``python benchmarks/ivf_index.py --n N`` at the
same size for the synthetic vectors. ``--alternatives`` also measures the indexes
``painter.compressed_index`` explains it does not use, at the default ``nprobe`` and with every
list probed.

    python benchmarks/ivf_recall_real.py [--queries 1000] [--alternatives] [--write]
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
p.add_argument("--alternatives", action="store_true")
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
sample = base[np.sort(np.random.default_rng(1).choice(n, training_size(n), replace=False))]


def recall(index, nprobe):
    faiss.extract_index_ivf(index).nprobe = nprobe
    _, found = index.search(queries, 10)
    return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])


def built(index):
    index.train(sample)
    index.add(base)
    return index


index = built(compressed_index(dim, n))
own = faiss.extract_index_ivf(index).nprobe
print(f"{n:,} real embeddings ({len(failed)} unreadable left out), width {dim}, {n_lists(n)} lists, "
      f"trained on {len(sample):,}; {len(queries)} queries left out of the index")
tails = np.abs(base).max(axis=0) / base.std(axis=0)   # what 8 bits per dimension must span, in sds
print(f"largest value of a dimension: a median {np.median(tails):.1f} standard deviations (max {tails.max():.0f})")
probes = [(nprobe, recall(index, nprobe))
          for nprobe in sorted({max(1, own // 4), max(1, own // 2), own, min(n_lists(n), 2 * own)})]
text = results_tables.ivf_recall_real(n, dim, len(queries), n_lists(n), len(failed), probes, own)
print(text)
if args.write:
    write_results("ivf-recall-real", text)
if args.alternatives:
    def clipped(index):   # the quantiser's range: the 0.1% and 99.9% quantiles of each dimension
        sq = faiss.downcast_index(faiss.extract_index_ivf(index))
        sq.sq.rangestat, sq.sq.rangestat_arg = faiss.ScalarQuantizer.RS_quantiles, 0.001
        return index

    print(f"\n| index | recall@10, {own} lists probed | all {n_lists(n)} |\n|---|---|---|")
    for name, factory, setup in (("IVF, 8 bits, no rotation", "SQ8", None),
                                 ("IVF, 8 bits clipped at the 0.1% quantiles", "SQ8", clipped),
                                 ("IVF, 16 bits (fp16), no rotation", "SQfp16", None)):
        other = faiss.index_factory(dim, f"IVF{n_lists(n)},{factory}", faiss.METRIC_INNER_PRODUCT)
        other = built(setup(other) if setup else other)
        print(f"| {name} | {recall(other, own):.4f} | {recall(other, n_lists(n)):.4f} |")
