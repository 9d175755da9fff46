"""Classification reports (artist, style, genre), retrieval metrics and search latency on pbn_dev.

    python benchmarks/classify_search.py [--data runs/pbn_clean] [--out runs/classify_search] [--write]
"""
import argparse
import time

import numpy as np

import results_tables
from shared_data import RUNS, clean_pbn_dev, write_results
from painter.classify import train_classifier
from painter.same_artist.predict import PACKAGED_MODEL
from painter.metrics import retrieval_metrics
from painter.search import build_index_from_data, make_faiss_index, unit_rows

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--out", default=str(RUNS / "classify_search"))
p.add_argument("--write", action="store_true",
               help="write the tables into RESULTS.md (its 'classify', 'retrieval' and 'search-latency' sections)")
args = p.parse_args()
data = clean_pbn_dev(args.data)
summaries, retrieval, latency = [], {}, []
for target in ("artist", "style", "genre"):
    s = train_classifier(data, f"{args.out}/{target}", target=target, progress=False)
    summaries.append(s)
    print(f"CLASSIFY {target}: classes {s['n_classes']}, test images {s['n_test']}, top-1 {s['top1']:.3f}, "
          f"top-5 {s['top5']:.3f}, weighted F1 {s['weighted_f1']:.3f}, "
          f"excluded {s['excluded']['unlabelled']} unlabelled",
          flush=True)
for name, folder, embedding in (
        ("**frozen backbones, default features** (`painter index --embedding backbone`, the default)", "backbone",
         "backbone"),
        ("packaged same-artist model", "packaged", str(PACKAGED_MODEL))):
    t = time.time()
    index = build_index_from_data(data, f"{args.out}/index_{folder}", embedding=embedding, progress=False)
    build = time.time() - t
    seen = index.metadata["artist_in_train"].to_numpy() == "True"
    retrieval[name] = {}
    for label, queries in (("artist", None), ("artist seen", seen), ("artist unseen", ~seen), ("style", None)):
        m = retrieval_metrics(index.vectors, index.metadata[label.split()[0]].to_numpy(), queries=queries)
        retrieval[name][label] = m
        print(f"RETRIEVE {name} / {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items() if k != "queries")
              + f" (queries {m['queries']}); index build incl. embedding {build:.1f} s", flush=True)
# query latency over 10,000 paintings (real vectors padded with noisy copies)
rng = np.random.default_rng(0)
v = index.vectors
extra = v[rng.integers(0, len(v), 10_000 - len(v))] + 0.01 * rng.normal(size=(10_000 - len(v), v.shape[1]))
allv = unit_rows(np.concatenate([v, extra]))
for kind in ("flat", "hnsw", "ivf"):
    ix = make_faiss_index(allv.shape[1], kind, len(allv))
    t = time.time()
    if not ix.is_trained:
        ix.train(allv)
    ix.add(allv)
    tb = time.time() - t
    q = allv[rng.integers(0, len(allv), 500)]
    t = time.time()
    for row in q:
        ix.search(row[None], 11)
    latency.append((kind, tb, 1000 * (time.time() - t) / len(q)))
    print(f"LATENCY {kind}: 10,000 paintings, build {tb * 1000:.0f} ms, {latency[-1][2]:.2f} ms/query", flush=True)
tables = {"classify": results_tables.classification(summaries), "retrieval": results_tables.retrieval(retrieval),
          "search-latency": results_tables.search_latency(len(allv), 10, latency)}
for name, text in tables.items():
    print(f"\n{text}")
    if args.write:
        write_results(name, text)
