"""Which attribution calibration of the packaged model serves references of 30, 70 and 175 artists?

    python benchmarks/experiments/attribution_calibration_sizes.py [--work runs/attribution/validation]
                                     [--out runs/attribution_sizes] [--test]

Step 1, validation only: the split models that ``benchmarks/recipes/attribution.py --model
painter/default_model --also ../shared/data/wikiart_extra --also runs/sources/public_art/train``
left in ``--work`` (trained there when missing) score their questioned paintings against each
split's whole reference (140 artists) and against 3 smaller ones of 15, 30, 70 and 100 artists
drawn from it (``calibration_splits.validation_scores``; the 15-, 30- and 70-artist draws are those
the recipe fits on). Several fits are made on these pooled scores (which smaller sizes the size
term sees; the softmax temperature fitted on the whole references or on every size; the most
probable outcome or a fixed threshold on P(none)), each with every aggregate, and scored by the
balanced answer accuracy on 30-, 70- and 140-artist references (their mean ranks them; no test
painting is read). Every fit's ``attribution.json`` goes into ``--out``.

Step 2 (``--test``): the test figures of the packaged model's ``attribution.json``, of the fit
that validation ranks first and of every ``--calibration FILE``, for the 175-artist reference
and for 30- and 70-artist references (draws 0, 1, 2, as ``attribution.py --artists N --draw D``
draws them and asks them), with the packaged model.
"""
import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data, recipes

from shared_data import RUNS, artist_subset, clean_pbn_dev
from recipes.calibration_splits import validation_scores
from painter.attribution import (AttributionCalibration, attribution_metrics, fit_attribution_calibration,
                                 load_reference, probabilities)
from painter.attribution.calibration import pooled_probabilities
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model

p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--work", default=str(RUNS / "attribution" / "validation"))
p.add_argument("--out", default=str(RUNS / "attribution_sizes"))
p.add_argument("--also", action="append",
               default=["../shared/data/wikiart_extra", str(RUNS / "sources" / "public_art" / "train")])
p.add_argument("--test", action="store_true", help="also the test figures of the shipped and the first-ranked fit")
p.add_argument("--calibration", action="append", default=[],
               help="--test: this attribution.json's test figures too (labelled by its path)")
args = p.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
print("command: python " + " ".join(sys.argv), flush=True)
data = clean_pbn_dev(args.data)
SIZES = (15, 30, 70, 100)   # 100 added after the recipe's three: their draws stay the recipe's
pooled = validation_scores(data, args.work, also=args.also, reference_sizes=SIZES, progress=False)


def fit(how, sizes, fixed_threshold=False, temperature_from="whole"):
    """A calibration fitted on the whole references and the smaller ones of ``sizes``, and its
    balanced answer accuracy on each size (the whole references: 140)."""
    scores, truth, whole = pooled[how]
    keep = [w or s.shape[1] in sizes for s, w in zip(scores, whole)]
    groups = [(s, t) for s, t, k in zip(scores, truth, keep) if k]
    w = np.array([x for x, k in zip(whole, keep) if k])
    cal, _ = fit_attribution_calibration([s for s, _ in groups], [t for _, t in groups], how, w, fixed_threshold,
                                         temperature_from)
    row = {}
    all_groups = list(zip(scores, truth))
    for label, pick in [("140", list(whole))] + [(str(n), [not w_ and s.shape[1] == n for (s, _), w_ in
                                                          zip(all_groups, whole)]) for n in SIZES]:
        row[label] = attribution_metrics(*pooled_probabilities(all_groups, cal, pick), cal)["balanced"]
    return cal, row


VARIANTS = {   # name: (smaller sizes in the fit, fixed threshold, temperature fitted on)
    "shipped recipe: 15,30,70": ((15, 30, 70), False, "whole"),
    "30,70": ((30, 70), False, "whole"),
    "30,70,100": ((30, 70, 100), False, "whole"),
    "15,30,70,100": ((15, 30, 70, 100), False, "whole"),
    "15,30,70, T on every size": ((15, 30, 70), False, "all"),
    "30,70, T on every size": ((30, 70), False, "all"),
    "30,70,100, T on every size": ((30, 70, 100), False, "all"),
    "15,30,70, fixed threshold": ((15, 30, 70), True, "whole"),
    "30,70, fixed threshold": ((30, 70), True, "whole"),
}
rows, cals = [], {}
for name, (sizes, fixed, t_on) in VARIANTS.items():
    for how in pooled:
        cal, row = fit(how, sizes, fixed, t_on)
        cals[(name, how)] = cal
        rows.append({"fit": name, "aggregate": how, **row,
                     "mean 30/70/140": np.mean([row["30"], row["70"], row["140"]]),
                     "T": cal.temperature, "c": cal.none_size_slope, "threshold": cal.threshold})
table = pd.DataFrame(rows).sort_values("mean 30/70/140", ascending=False).reset_index(drop=True)
pd.set_option("display.width", 200)
print("validation balanced answer accuracy by reference size (3 splits; smaller references: 3 draws each):")
print(table.round(4).to_string(index=False))
table.to_csv(out / "validation.csv", index=False)
for (name, how), cal in cals.items():
    folder = out / "fits" / f"{name}_{how}".replace(" ", "").replace(",", "-").replace(":", "")
    folder.mkdir(parents=True, exist_ok=True)
    cal.save(folder)
best = table.iloc[0]
best_cal = cals[(best["fit"], best["aggregate"])]
best_cal = dataclasses.replace(best_cal, note=(
    f"chosen on 3 splits of pbn_dev's training paintings ({best['fit']}): balanced answer accuracy by number of "
    f"reference artists 140: {best['140']:.3f}, 100: {best['100']:.3f}, 70: {best['70']:.3f}, 30: {best['30']:.3f}, "
    f"15: {best['15']:.3f}"))
print("first:", json.dumps(best_cal.to_dict()))
best_cal.save(out)
if not args.test:
    sys.exit(0)

# --- test: the shipped file and the first-ranked fit ---------------------------------------------------
shipped = AttributionCalibration.from_dict(json.loads((Path(PACKAGED_MODEL) / "attribution.json").read_text()))
others = [(f, AttributionCalibration.from_dict(json.loads(Path(f).read_text()))) for f in args.calibration]
model = load_pair_model(PACKAGED_MODEL)
info = pd.read_csv(data / "all_data_info.csv", dtype=str, keep_default_na=False)
test = info[info["in_train"].str.lower() == "false"].copy()
test["file"] = [str(data / "test" / f) for f in test["new_filename"]]
test = test[[Path(f).is_file() for f in test["file"]]]
Zall, _ = model.embed_files(test["file"].tolist(), progress=False)
results = []
for n, draw in [(0, 0)] + [(n, d) for n in (30, 70) for d in (0, 1, 2)]:
    reference, chosen, left_out = artist_subset(data, n or 10**9, RUNS / f"attribution_{n}_draw{draw}" /
                                                f"pbn_{n}_draw{draw}", draw)
    ref = load_reference(reference, model, progress=False)
    asked = (~test["artist"].isin(left_out)).to_numpy() & ~np.isnan(Zall).any(axis=1)
    col = {a: c for c, a in enumerate(ref.artists)}
    fold = (lambda a: a.replace("/", "_")) if n else (lambda a: a)
    truth = np.array([col.get(fold(a), -1) for a in test["artist"][asked]])
    for label, cal in [("packaged", shipped), ("first-ranked fit", best_cal)] + others:
        m = attribution_metrics(*probabilities(ref.scores(Zall[asked], cal.aggregate), cal), truth, cal)
        results.append({"artists": n or 175, "draw": draw, "calibration": label,
                        **{k: m[k] for k in ("top1", "top5", "none_rate", "answered", "balanced", "nll")}})
        print(f"{n or 175} artists, draw {draw}, {label}: " + json.dumps({k: round(v, 4) for k, v in results[-1].items()
                                                                          if isinstance(v, float)}), flush=True)
res = pd.DataFrame(results)
res.to_csv(out / "test.csv", index=False)
mean = res.groupby(["artists", "calibration"]).mean(numeric_only=True).drop(columns="draw")
print("test, mean of the draws:")
print(mean.round(4).to_string())
per = res.pivot_table(index="artists", columns="calibration", values="balanced")
print("balanced answer accuracy (mean of the draws) and its mean over 30 / 70 / 175:")
print(pd.concat([per, per.mean().to_frame("mean").T]).round(4).to_string())
