"""Accuracy per source: the same-artist figures on WikiArt and on collections from other sources.

Sources (``../shared/data``):

* ``pbn_dev``: its 384,183 test pairs (WikiArt thumbnails, the competition's layout);
* ``public_art``: museum photographs, split as a user's collection (``shared_data.split_source``:
  40% of the artists no shipped learned part saw are test-only; 20% of the other artists'
  paintings are test paintings; the rest is ``public_art/train``, which the packaged model learned
  from); every pair of the test paintings;
* ``best_artworks``: ``best_artworks_fullsize`` whole (9 painters at up to 1280 px; evaluation
  only), every pair.

For each model, zero-shot without and with context (the collection's own paintings, as
``painter submit`` and ``painter evaluate --context self`` use them): ROC AUC, the verdict's
balanced accuracy, the share of same-artist pairs called "same" and of different-artist pairs
called "different"; ``seen`` (both artists learned by the model) and ``unseen`` apart.
``--train 30,70,all`` adds models trained as ``painter train public_art/train`` users do (on the
packaged base), on 30, 70 or all of its training artists.

    python benchmarks/sources.py [--model DIR] [--train 30,70,all] [--seeds 0] [--write]
                                 [--sources pbn_dev,public_art,best_artworks]
"""
import argparse
import json

import pandas as pd

from shared_data import (RUNS, SOURCES, artist_subset, clean_pbn_dev, known_artists, solution, split_source,
                         submit_and_score, write_results)
from painter.same_artist.evaluate import evaluate, verdict_rates
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model

p = argparse.ArgumentParser()
p.add_argument("--model", default=str(PACKAGED_MODEL), help="the zero-shot model (default: the packaged one)")
p.add_argument("--train", default="", help="also train on 30, 70 or all of public_art/train's artists, e.g. 30,70,all")
p.add_argument("--seeds", default="0", help="draws of the 30- and 70-artist collections")
p.add_argument("--sources", default="pbn_dev,public_art,best_artworks")
p.add_argument("--out", default=str(RUNS / "sources"))
p.add_argument("--write", action="store_true", help="write the tables into RESULTS.md (its 'sources' section)")
args = p.parse_args()
sources = args.sources.split(",")
train_dir, test_dir = split_source("public_art", exclude=known_artists())
FOLDERS = {"public_art": test_dir, "best_artworks": SOURCES / "best_artworks_fullsize"}


def pbn_dev(model_dir, context):
    """``{seen, unseen}`` verdict rates of pbn_dev's test pairs (the solution's pair kinds)."""
    data = clean_pbn_dev(RUNS / "pbn_clean")
    _, p = submit_and_score(model_dir, data, 0.5, context=context, out=RUNS / "sources_submission.csv")
    same, kind = solution().sameArtist.to_numpy(), solution().pairKind.to_numpy()
    threshold = load_pair_model(model_dir).threshold
    return {k: verdict_rates(same[kind == k], p[kind == k], threshold) for k in ("seen", "unseen")}


def measure(name, model_dir):
    rows = []
    for context in (False, True):
        for source in sources:
            if source == "pbn_dev":
                figures = pbn_dev(model_dir, context)
            else:
                figures = evaluate(FOLDERS[source], model=model_dir, context="self" if context else None,
                                   progress=False).summary
            for kind in ("seen", "unseen"):
                if "auc" in figures.get(kind, {}):
                    row = {"model": name, "context": context, "source": source, "artists": kind,
                           **{k: figures[kind][k] for k in ("pairs", "auc", "balanced_accuracy", "same_called_same",
                                                            "different_called_different")}}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


rows = measure("zero-shot", args.model)
for size in [s for s in args.train.split(",") if s]:
    for seed in map(int, args.seeds.split(",")) if size != "all" else [0]:
        n = 10 ** 6 if size == "all" else int(size)
        folder, _, _ = artist_subset(train_dir, n, f"{args.out}/public_art_{size}_seed{seed}", seed)
        model_dir = f"{args.out}/model_public_art_{size}_seed{seed}"
        from painter.errors import InputError
        from painter.same_artist.training import train
        try:
            train(folder, model_dir, progress=False)
        except InputError as e:   # a draw painter train refuses: said, not measured
            print(f"trained on {size} artists (draw {seed}): painter train refused it: {e}", flush=True)
            continue
        rows += measure(f"trained on {size} artists" + (f" (draw {seed})" if size != "all" else ""), model_dir)

table = pd.DataFrame(rows)
wide = table.pivot_table(index=["model", "context", "artists"], columns="source",
                         values=["auc", "balanced_accuracy", "same_called_same", "different_called_different"],
                         sort=False)
wide.columns = [f"{source} {metric}" for metric, source in wide.columns]
wide = wide[[f"{s} {m}" for s in sources for m in ("auc", "balanced_accuracy", "same_called_same",
                                                    "different_called_different") if f"{s} {m}" in wide.columns]]
print(wide.to_string(float_format=lambda x: f"{x:.3f}"))
means = table[table.model.str.contains("draw")]
means = means.assign(model=means.model.str.replace(r" \(draw \d+\)", "", regex=True))
if len(means):
    means = means.groupby(["model", "context", "source", "artists"], sort=False)[["auc", "balanced_accuracy"]].mean()
    print("\nmean over draws:")
    print(means.to_string(float_format=lambda x: f"{x:.3f}"))
if args.write:
    short = {"auc": "AUC", "balanced_accuracy": "bal. acc", "same_called_same": "same→same",
             "different_called_different": "diff→diff"}
    wide.columns = [" ".join([c.split(" ")[0], short[c.split(" ")[1]]]) for c in wide.columns]
    text = wide.reset_index().to_markdown(index=False, floatfmt=".3f")
    if len(means):
        text += "\n\nMean over draws:\n\n" + means.reset_index().to_markdown(index=False, floatfmt=".3f")
    write_results("sources", text)
