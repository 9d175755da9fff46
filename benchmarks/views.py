"""Views at the painting's scale (``FeatureSpec.views``) against whole-painting features.

* ``best_artworks_fullsize`` (9 painters, long side up to 1280 px, evaluation only): zero-shot
  with the packaged model, without and with context; and models trained as ``painter train``
  users do (on the packaged base) on 5 of its 9 painters, evaluated on the other 4 (``--draws``
  draws of the 5), without and with context. Zero-shot figures are given for all 9 painters, and
  apart for a validation group of 4 painters (a fixed draw) and the 5 others: the default is
  chosen on the validation group's zero-shot AUC alone. Config ``auto`` is painter's default:
  whole paintings, and views ``CONTEXT_VIEWS`` when the context is a collection at its own
  resolution (``same_artist.context``); the other configs' contexts keep their features.
* pbn_dev's test pairs (WikiArt thumbnails: no painting has tiles but the two huge ones): the
  packaged model's seen / unseen AUC with each configuration.
* ``--timing``: embedding time per painting of each configuration on best_artworks (no cache;
  run it alone on the machine).

    python benchmarks/views.py [--configs whole,1,2,3,1+2,1+2+3,1+2:scales,1+2+3:scales] [--draws 3]
                               [--timing] [--write]
"""
import argparse
import copy
import dataclasses
import json
import sys
import time

import numpy as np
import pandas as pd

from shared_data import RUNS, best_artworks_painters, require_pbn_dev, solution, submit_and_score, write_results
from painter.features import extract_features
from painter.same_artist.context import CollectionContext
from painter.same_artist.evaluate import evaluate, verdict_rates
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model
from painter.same_artist.training import load_training_images

p = argparse.ArgumentParser()
p.add_argument("--configs", default="auto,whole,1,2,3,1+2,1+2+3,1+2:scales,1+2+3:scales",
               help="'whole', or scales joined by '+' with an optional ':scales' pooling")
p.add_argument("--draws", type=int, default=3, help="draws of the 5 training painters")
p.add_argument("--timing", action="store_true", help="also time the embedding of best_artworks, uncached")
p.add_argument("--write", action="store_true", help="write the tables into RESULTS.md (its 'views' section)")
args = p.parse_args()
BEST, PAINTERS, VALIDATION = best_artworks_painters()


def spec_of(config, base_spec):
    """``whole``, or ``1+2`` / ``1+2:scales``: scales joined by '+' and the pooling."""
    if config in ("whole", "auto"):
        return base_spec.whole()
    scales, _, pool = config.partition(":")
    return dataclasses.replace(base_spec, views=tuple(int(s) for s in scales.split("+")), view_pool=pool or "mean")


def with_spec(model, spec):
    out = copy.copy(model)
    out.spec = spec
    return out


def painters_folder(names, root):
    """A folder per painter of ``names`` (symlinks into best_artworks)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        link = root / name
        if not link.exists():
            link.symlink_to(BEST / name)
    return root


def contexts(folder, config):
    """No context, and the collection itself: read as painter does (``auto``), else with the config's features."""
    if config == "auto":
        return None, "self"
    return None, CollectionContext(load_training_images(folder)[0], views=())


def zero_shot(model, config):
    rows = []
    for group, names in (("all 9", PAINTERS), ("validation 4", VALIDATION),
                         ("other 5", [n for n in PAINTERS if n not in VALIDATION])):
        folder = painters_folder(names, RUNS / "views" / group.replace(" ", "_"))
        for context in contexts(folder, config):
            s = evaluate(folder, model=model, context=context, progress=False).summary["all"]
            rows.append({"config": config, "model": "zero-shot", "painters": group, "context": context is not None,
                         "auc": s["auc"], "balanced_accuracy": s["balanced_accuracy"]})
    return rows


def trained(spec, config, draws):
    from painter.same_artist.training import train
    rows = []
    for draw in range(draws):
        names = sorted(np.random.RandomState(100 + draw).choice(PAINTERS, 5, replace=False))
        fit = painters_folder(names, RUNS / "views" / f"fit_{draw}")
        held = painters_folder([n for n in PAINTERS if n not in names], RUNS / "views" / f"held_{draw}")
        model_dir = RUNS / "views" / f"model_{config.replace(':', '_')}_{draw}"
        train(fit, model_dir, spec=spec, progress=False)
        for context in contexts(held, config):
            s = evaluate(held, model=model_dir, context=context, progress=False).summary["all"]
            rows.append({"config": config, "model": "trained on 5", "painters": "the other 4",
                         "context": context is not None, "auc": s["auc"], "balanced_accuracy": s["balanced_accuracy"],
                         "draw": draw})
    return rows


def pbn_dev(model, config):
    """pbn_dev cleaned with detail copies (its paintings at their own size: 224 px but for two)."""
    from painter.data.cleaning import clean_kaggle
    data = RUNS / "pbn_clean_detail"
    clean_kaggle(require_pbn_dev(), data, size=256, progress=False, detail=1536)
    model_dir = RUNS / "views" / f"packaged_{config.replace(':', '_')}"
    model.save(model_dir)
    _, scores = submit_and_score(model_dir, data, 0.5, context=False, out=RUNS / "views_submission.csv")
    sol = solution()
    rows = []
    for kind in ("seen", "unseen"):
        rates = verdict_rates(sol.sameArtist.to_numpy()[sol.pairKind == kind], scores[sol.pairKind == kind],
                              model.threshold)
        rows.append({"config": config, "model": "zero-shot", "painters": f"pbn_dev {kind}", "context": False,
                     "auc": rates["auc"], "balanced_accuracy": rates["balanced_accuracy"]})
    return rows


packaged = load_pair_model(PACKAGED_MODEL, exported=False)   # saved with other specs
rows, timing = [], []
paths = [str(f) for d in PAINTERS for f in sorted((BEST / d).iterdir())]
for config in args.configs.split(","):
    spec = spec_of(config, packaged.spec)
    if args.timing:
        start = time.perf_counter()
        extract_features(paths, spec, cache=False, progress=False)
        timing.append({"config": config, "ms per painting": 1000 * (time.perf_counter() - start) / len(paths)})
        print(json.dumps(timing[-1]), flush=True)
        continue
    model = with_spec(packaged, spec)
    rows += zero_shot(model, config)
    rows += trained(spec, config, args.draws)
    rows += pbn_dev(model, config)
    for r in rows[-(6 + 2 * args.draws + 2):]:
        print(json.dumps(r), flush=True)

if timing:
    text = pd.DataFrame(timing).to_markdown(index=False, floatfmt=".1f")
    print(text)
    if args.write:
        write_results("views-timing", text)
    sys.exit()
table = pd.DataFrame(rows)
means = table.groupby(["config", "model", "painters", "context"], sort=False)[["auc", "balanced_accuracy"]].mean()
cells = means.apply(lambda r: f"{r.auc:.3f} / {r.balanced_accuracy:.3f}", axis=1)
cells = cells.unstack(["model", "painters", "context"]).reindex(args.configs.split(","))
order = [("zero-shot", g, c) for g in ("validation 4", "other 5", "all 9") for c in (False, True)]
order += [("trained on 5", "the other 4", False), ("trained on 5", "the other 4", True),
          ("zero-shot", "pbn_dev seen", False), ("zero-shot", "pbn_dev unseen", False)]
cells = cells[[c for c in order if c in cells.columns]]
cells.columns = [painters if painters.startswith("pbn_dev") else
                 f"{painters}{' (trained on 5)' if model != 'zero-shot' else ''}, {'context' if ctx else 'none'}"
                 for model, painters, ctx in cells.columns]
print(cells.to_string())
if args.write:
    text = ("AUC / balanced accuracy; context: the collection itself; trained: mean of the draws.\n\n"
            + cells.reset_index().to_markdown(index=False))
    write_results("views", text)
