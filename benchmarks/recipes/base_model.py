"""Training that builds on a base model, on pbn_dev test pairs.

1. The base (the packaged model's recipe): ``lda`` on pbn_dev's training paintings +
   ``wikiart_extra`` + ``public_art``'s training part as another source (``--other-source``;
   ``shared_data.split_source``: museum photographs of 374 artists; its test artists stay
   unseen), ``--base none``; its zero-shot
   figures on pbn_dev's test pairs (it never saw a test painting nor a test-only artist).
2. A user's collection of 30, 70 or all 175 pbn_dev training artists (subsets drawn at random),
   trained with ``--base none`` and with the base.

Columns: ``seen`` / ``unseen`` are the solution's pair kinds (unseen: a test-only artist, unknown
to the user's model and to the base alike); ``own`` are the pairs whose two artists are both in
the user's collection (for the subsets, most of the solution's seen pairs are artists the user
never had). Every choice is made on validation pairs of the training paintings.

    python benchmarks/recipes/base_model.py [--data runs/pbn_clean] [--extra wikiart_extra] [--other public_art]
                                    [--sizes 30,70,175] [--seeds 0,1,2] [--base-params '{"refit": false}']
                                    [--zoom 2,1] [--no-groups]

``--seeds``: one collection of 30 (70) artists per seed; the last table gives each figure's mean over
the draws, and the base's gains on unseen and own pairs. A base already trained in ``--out/base``
is reused. ``--zoom``: zoomed views in the features of every model, base and collections alike
(``FeatureSpec(zoom=...)``, as ``painter train --zoom``); without it, the default features.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import (PBN_DEV, RUNS, artist_subset, clean_pbn_dev, default_features_zoomed, known_artists,
                         pair_artists, solution, split_source, submit_and_score)
from painter.metrics import pair_metrics
from painter.same_artist.training import train

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--extra", default="wikiart_extra",
               help="more of the base's training paintings: folders, or names in ../shared/data")
p.add_argument("--other", default="public_art",
               help="the base's other sources (painter train --other-source): folders, or names in ../shared/data "
                    "(public_art: its training part)")
p.add_argument("--out", default=str(RUNS / "base_model"))
p.add_argument("--sizes", default="30,70,175")
p.add_argument("--seeds", default="0", help="draws of the smaller collections")
p.add_argument("--zoom", default=None, help="zoomed views per backbone, e.g. 2,1 (default: none, as the default "
               "features)")
p.add_argument("--no-groups", dest="groups", action="store_false",
               help="submit with context but without the test images' groups")
p.add_argument("--base-params", default="{}", help="the base's lda parameters, as JSON (e.g. '{\"refit\": false}')")
args = p.parse_args()
base_params = json.loads(args.base_params)
spec = default_features_zoomed(args.zoom)
data, out = clean_pbn_dev(args.data), Path(args.out)
a1, a2 = pair_artists(data)


def evaluate(name, model_dir, threshold, own_artists):
    t = time.time()
    m, p = submit_and_score(model_dir, data, threshold, groups=args.groups)
    own = np.isin(a1, list(own_artists)) & np.isin(a2, list(own_artists))
    o = pair_metrics(solution().sameArtist[own], p[own], threshold=threshold)["all"]
    row = {"model": name, "threshold": threshold, "seen AUC": m["seen"]["auc"], "unseen AUC": m["unseen"]["auc"],
           "own AUC": o["auc"], "seen acc": m["seen"]["accuracy"], "unseen acc": m["unseen"]["accuracy"],
           "own acc": o["accuracy"], "own pairs": int(own.sum()), "submit s": round(time.time() - t, 1)}
    print(json.dumps(row), flush=True)
    return row


rows = []
t = time.time()
if (out / "base" / "config.json").is_file():
    from painter.same_artist.predict import load_pair_model
    base = load_pair_model(out / "base")
    if base.spec != spec:
        raise SystemExit(f"{out / 'base'} was trained on {base.spec}, not {spec}: use another --out")
    if args.other and "source_shift" not in base.info:
        raise SystemExit(f"{out / 'base'} learned no other source (an earlier recipe): use another --out")
    if any(base.info["params"].get(k) != v for k, v in base_params.items()):
        raise SystemExit(f"{out / 'base'} was trained with {base.info['params']}, not {base_params}: use another --out")
else:
    extra, other = ([split_source("public_art", exclude=known_artists())[0] if e == "public_art" else
                     (e if Path(e).exists() else PBN_DEV.parent / e) for e in names.split(",") if e]
                    for names in (args.extra, args.other))
    base = train(data, out / "base", spec=spec, also=extra, other_sources=other, base="none", progress=False,
                 **base_params)
print(f"base: {base.info['n_images']} paintings, {base.info['n_artists']} artists, {time.time() - t:.1f} s")
rows.append(evaluate("base alone (zero-shot)", out / "base", base.threshold, set(base.info["artists"])))
for n in map(int, args.sizes.split(",")):
    for seed in map(int, args.seeds.split(",")) if n < 175 else [0]:
        collection = out / (f"collection_{n}" + (f"_seed{seed}" if seed else ""))
        source, artists, _ = artist_subset(data, n, collection, seed)
        for with_base in ("none", str(out / "base")):
            label = f"{n} artists, " + ("no base" if with_base == "none" else "with base")
            folder = out / (f"{n}_{'plain' if with_base == 'none' else 'base'}" + (f"_seed{seed}" if seed else ""))
            t = time.time()
            model = train(source, folder, spec=spec, base=with_base, progress=False)
            row = evaluate(label, folder, model.threshold, artists)
            rows.append({**row, "seed": seed, "train s": round(time.time() - t - row["submit s"], 1),
                         "how": model.info.get("base", {}).get("how", "")})
table = pd.DataFrame(rows)
print(table.drop(columns=["how"]).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
for r in rows:
    if r.get("how"):
        print(f"{r['model']}: {r['how']}")
aucs = ["seen AUC", "unseen AUC", "own AUC"]
means = table.groupby("model", sort=False)[aucs].mean()
print(f"\nmean over seeds {args.seeds} (smaller collections):")
print(means.to_string(float_format=lambda x: f"{x:.3f}"))
for n in map(int, args.sizes.split(",")):
    gain = means.loc[f"{n} artists, with base"] - means.loc[f"{n} artists, no base"]
    print(f"{n} artists: the base changes unseen AUC by {gain['unseen AUC']:+.3f}, own AUC by {gain['own AUC']:+.3f}")
