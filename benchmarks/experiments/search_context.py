"""Does a collection context help ``painter index`` / ``painter similar`` find the same artist?

The index holds unit-length embeddings and ranks by cosine. Shifting every embedding by one
vector leaves L2 distances between raw vectors as they were, but not the cosines once the vectors
are scaled to unit length, so a context can change the rankings. Two embeddings, each without and
with the indexed collection itself as context:

* ``backbone`` (``painter index``'s default): the frozen default features; context = the
  collection's mean feature subtracted before the scaling to unit length;
* ``model``: the packaged same-artist model's embedding; context = the model adapted to the
  collection (``CollectionContext.adapt``: its whitened projection moved by the collection's shrunk
  mean, as ``predict_pair(context=)`` does).

Collections: ``public_art``, the test part of ``shared_data.split_source("public_art",
exclude=known_artists())`` (museum photographs, another source than WikiArt; its test-only artists
are unseen by every learned part of the packaged model, the others' artists were learned from
``public_art/train``) and ``pbn_dev``, every cleaned painting (WikiArt, the model's own source;
test-only artists unseen). Leave-one-out retrieval of same-artist paintings (the query itself
excluded, every indexed painting searched): P@1, P@5, MRR, mAP, unseen and seen artists' queries
apart, and the paired mAP difference that context makes, with a 95% interval from resampling the
artists (1,000 draws).

    python benchmarks/experiments/search_context.py [--sources public_art,pbn_dev] [--data runs/pbn_clean]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, clean_pbn_dev, known_artists, split_source
from painter.data.labels import read_collection
from painter.features import DEFAULT_FEATURES, extract_features
from painter.same_artist.context import CollectionContext
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model
from painter.search import unit_rows

p = argparse.ArgumentParser()
p.add_argument("--sources", default="public_art,pbn_dev")
p.add_argument("--data", default=str(RUNS / "pbn_clean"), help="cleaned pbn_dev (cleaned here when absent)")
p.add_argument("--model", default=str(PACKAGED_MODEL))
args = p.parse_args()


def collection(source):
    """``(paths, artists, unseen)``: the indexed paintings, their artists and whether no learned
    part of the packaged model saw the artist."""
    if source == "public_art":
        train, test = split_source("public_art", exclude=known_artists())
        info = read_collection(test)
        learned = set(read_collection(train)["artist"])
        return info["file"].tolist(), info["artist"].to_numpy(), ~info["artist"].isin(learned).to_numpy()
    info = read_collection(clean_pbn_dev(args.data))
    info = info[[Path(f).is_file() for f in info["file"]]]   # one listed file is in no archive
    return info["file"].tolist(), info["artist"].to_numpy(), (info["artist_in_train"] == "False").to_numpy()


def per_query(x, labels):
    """Per painting: precision@1, precision@5, reciprocal rank, average precision (NaN when the
    artist has no other indexed painting), leave-one-out over unit rows ``x``."""
    out = np.full((len(x), 4), np.nan)
    for start in range(0, len(x), 1024):
        sims = x[start:start + 1024] @ x.T
        for q, row in enumerate(sims, start):
            row[q] = -np.inf
            rel = labels[np.argsort(-row, kind="stable")[:-1]] == labels[q]
            hits = np.flatnonzero(rel)
            if len(hits):
                out[q] = rel[0], rel[:5].mean(), 1 / (hits[0] + 1), np.mean(np.arange(1, len(hits) + 1) / (hits + 1))
    return out


def artist_interval(diff, labels, draws=1000):
    """95% interval of the mean of ``diff`` when the artists are drawn again with replacement."""
    names, codes = np.unique(labels, return_inverse=True)
    sums, counts = np.bincount(codes, diff, len(names)), np.bincount(codes, minlength=len(names))
    rng = np.random.default_rng(0)
    means = [sums[d].sum() / counts[d].sum() for d in (rng.integers(0, len(names), len(names)) for _ in range(draws))]
    return np.percentile(means, [2.5, 97.5])


model = load_pair_model(args.model)
if model.spec != DEFAULT_FEATURES:
    sys.exit(f"{args.model}: reads {model.spec}, not the default features the backbone index uses")
print("| collection | embedding | context | queries | P@1 | P@5 | MRR | mAP | mAP change (95% over artists) |")
print("|---|---|---|---|---|---|---|---|---|")
for source in args.sources.split(","):
    paths, labels, unseen = collection(source)
    F, failed = extract_features(paths, DEFAULT_FEATURES, progress=False)
    if failed:
        sys.exit(f"{source}: unreadable paintings: {failed}")
    adapted = CollectionContext(paths).adapt(model)
    shift = adapted.info["context"]["shift"][0]
    print(f"<!-- {source}: {len(paths)} paintings, {len(set(labels))} artists; the model's shift: distance "
          f"{shift['distance']}, shrink {shift['shrink']} -->", flush=True)
    embeddings = {("backbone", "none"): F, ("backbone", "collection mean"): F - F.mean(0),
                  ("model", "none"): model.embed_features(F), ("model", "adapted"): adapted.embed_features(F)}
    scores = {key: per_query(unit_rows(x), labels) for key, x in embeddings.items()}
    for group, mask in (("unseen", unseen), ("seen", ~unseen)):
        for (embedding, context), s in scores.items():
            keep = mask & ~np.isnan(s[:, 0])
            if not keep.any():
                continue
            change = ""
            if context != "none":
                diff = s[keep, 3] - scores[(embedding, "none")][keep, 3]
                low, high = artist_interval(diff, labels[keep])
                change = f"{diff.mean():+.3f} ({low:+.3f} to {high:+.3f})"
            m = s[keep].mean(0)
            print(f"| {source} | {embedding} | {context} | {group} {keep.sum()} | {m[0]:.3f} | {m[1]:.3f} | "
                  f"{m[2]:.3f} | {m[3]:.3f} | {change} |", flush=True)
