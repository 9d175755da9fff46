"""Attribution on pbn_dev: who painted each test painting, among the training artists, or none of them?

Reference = the cleaned training paintings (175 artists); questioned paintings = the cleaned test
paintings: those of the 175 reference artists must be attributed, those of the 75 test-only
artists should be answered "none of the reference artists". Labels come from all_data_info.csv.

Everything is chosen on splits of the training paintings (calibration_splits.choose_calibration):
the aggregate, the temperature and the none model, fitted on each split's reference and on smaller
ones drawn from it (``--reference-sizes``; the temperature on the whole references, or with
``--temperature-from all`` on every size alike); the answer is the most probable outcome, or with
``--fixed-threshold`` "none" from a threshold on P(none) chosen there. The test paintings are
only scored. The packaged model's ``attribution.json`` comes from ``--model painter/default_model
--also ../shared/data/wikiart_extra --also runs/sources/public_art/train --reference-sizes 30,70
--temperature-from all --save-calibration``.

    python benchmarks/recipes/attribution.py [--data runs/pbn_clean] [--model DIR] [--seeds 0,1,2]
                                     [--also ../shared/data/wikiart_extra] [--save-calibration]
                                     [--artists 30 [--draw 1]] [--latency-size 0]
                                     [--reference-sizes 15,30,70] [--temperature-from whole|all]
                                     [--fixed-threshold] [--calibration FILE]

``--also``: for a model that learned from more than the reference, as the packaged one did.
``--artists N``: a small collection: the reference is the training paintings of N of the 175
training artists (drawn as ``benchmarks/recipes/base_model.py`` draws them: ``--draw`` is its seed), the
questions their test paintings and the test-only artists'; the test paintings of the left-out
training artists are not asked (the packaged model knows those artists). The test figures are
printed at the calibration chosen on this reference's splits and at the model's own (what
``painter attribute`` uses; ``--calibration FILE`` reports another file's instead).

Prints the validation table, the test figures at the chosen calibration, the trade-off curve
(PNG), and the latency of one attribution against a 10,000-painting reference.
"""
import argparse
import dataclasses
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, artist_subset, clean_pbn_dev
from calibration_splits import choose_calibration
from painter.attribution import (AttributionCalibration, attribute, attribution_metrics, load_reference, probabilities,
                                 tradeoff, ReferenceSet)
from painter.attribution.query import _model_calibration
from painter.cache import cache_dir
from painter.features import DEFAULT_FEATURES
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model


def top_outcome_calibration(p_art, p_none, truth):
    """Mean probability of the most probable outcome (an artist or "none"), how often it is right,
    and the expected calibration error over 10 probability bins."""
    top_p = np.maximum(p_art.max(axis=1), p_none)
    right = np.where(AttributionCalibration().answers_none(p_art, p_none), truth < 0,
                     (p_art.argmax(axis=1) == truth) & (truth >= 0))
    bins = np.minimum((top_p * 10).astype(int), 9)
    ece = sum(abs(top_p[bins == b].mean() - right[bins == b].mean()) * (bins == b).mean() for b in np.unique(bins))
    return top_p.mean(), right.mean(), ece


def rounded(metrics):
    return json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})


LEAD_MODEL = RUNS / "accuracy" / "lda"
p = argparse.ArgumentParser()
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--model", default=str(LEAD_MODEL if (LEAD_MODEL / "config.json").is_file() else PACKAGED_MODEL),
               help="same-artist model trained on the training paintings (default: benchmarks/accuracy.py's lda)")
p.add_argument("--out", default=str(RUNS / "attribution"))
p.add_argument("--seeds", default="0,1,2", help="validation splits of the training paintings")
p.add_argument("--latency-size", type=int, default=10_000, help="0: no latency measurement")
p.add_argument("--artists", type=int, default=0, help="reference of this many training artists (0: all 175)")
p.add_argument("--draw", type=int, default=0, help="--artists: which draw of them (base_model.py's --seeds)")
p.add_argument("--also", action="append", default=[],
               help="more sources the model learned from (the packaged model: wikiart_extra); the validation "
                    "split models learn from them too, without the held-out artists and questioned paintings")
p.add_argument("--reference-sizes", default="15,30,70",
               help="smaller references drawn from each split's for the size term ('': none; for a model "
                    "trained on the reference it serves)")
p.add_argument("--temperature-from", choices=("whole", "all"), default="whole",
               help="fit the softmax temperature on the splits' whole references, or on every size alike")
p.add_argument("--fixed-threshold", action="store_true",
               help="answer 'none' from a threshold on P(none) chosen on validation (DEFAULT_CALIBRATION's rule) "
                    "instead of the most probable outcome")
p.add_argument("--calibration", help="attribution.json to report as the model's own (default: the model folder's, "
                                     "else DEFAULT_CALIBRATION)")
p.add_argument("--save-calibration", action="store_true",
               help="write the chosen calibration as attribution.json into --model (used by painter attribute)")
args = p.parse_args()
if args.save_calibration and args.artists:
    p.error("--save-calibration with --artists: a calibration chosen on a small reference is not the model's")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
print("command: python " + " ".join(sys.argv), flush=True)

t = time.time()
data = clean_pbn_dev(args.data)
print(f"clean: {time.time() - t:.1f} s")
reference, chosen, left_out = artist_subset(data, args.artists or 10**9, out / f"pbn_{args.artists}_draw{args.draw}",
                                           args.draw)
print(f"reference: {len(chosen)} training artists ({reference})")

# --- 1. choose on the training paintings ------------------------------------------------------------
# the split models are lda models on the features the model reads (the default's: no argument, so
# that split folders made before this option was passed stay valid)
target = load_pair_model(args.model, exported=False)
train_kwargs = None if target.spec in (None, DEFAULT_FEATURES) else {"spec": target.spec}
if args.save_calibration and target.method != "lda":   # only an lda model takes the split models' calibration
    sys.exit(f"{args.model}: a {target.method} model; the calibration is chosen for lda")
t = time.time()
cal, table, val_curve = choose_calibration(reference, out / "validation", seeds=[int(s) for s in args.seeds.split(",")],
                                           also=args.also, progress=False, fixed_threshold=args.fixed_threshold,
                                           reference_sizes=[int(n) for n in args.reference_sizes.split(",") if n],
                                           train_kwargs=train_kwargs, temperature_from=args.temperature_from)
print(f"validation ({time.time() - t:.0f} s), pooled over seeds {args.seeds}, each aggregate at its own fitted "
      "calibration (balanced@n: on smaller references drawn from the splits'):")
print(table.round(4).to_string(index=False))
val_table = table.iloc[0]   # the chosen aggregate's validation figures
print("chosen:", json.dumps(cal.to_dict()))
(out / "attribution.json").write_text(json.dumps(cal.to_dict(), indent=2))
if args.save_calibration:
    print(f"calibration written to {cal.save(args.model)}")

# --- 2. test paintings -----------------------------------------------------------------------------
model = load_pair_model(args.model)
t = time.time()
ref = load_reference(reference, model, progress=False)
print(f"reference: {ref} ({time.time() - t:.1f} s)")
info = pd.read_csv(data / "all_data_info.csv", dtype=str, keep_default_na=False)
test = info[info["in_train"].str.lower() == "false"].copy()
test["file"] = [str(data / "test" / f) for f in test["new_filename"]]
on_disk = np.array([Path(f).is_file() for f in test["file"]])
if (~on_disk).any():
    print(f"{(~on_disk).sum()} test paintings not on disk (not written by cleaning): "
          f"{', '.join(test['file'][~on_disk])}")
test = test[on_disk]
asked = ~test["artist"].isin(left_out)
print(f"{(~asked).sum()} test paintings of the {len(left_out)} left-out training artists not asked "
      "(reported apart below)")
aside, test = test[~asked], test[asked]
t = time.time()
Zq, failed = model.embed_files(test["file"].tolist(), progress=False)
ok = ~np.isnan(Zq).any(axis=1)
for f, reason in failed.items():
    print(f"skipped test painting {f}: {reason}")
col = {a: c for c, a in enumerate(ref.artists)}
subset = Path(reference) != Path(data)   # artist_subset's folder-per-artist tree: a "/" in a name became "_"
folder_name = (lambda a: a.replace("/", "_")) if subset else (lambda a: a)
truth = np.array([col.get(folder_name(a), -1) for a in test["artist"]])[ok]
scores = ref.scores(Zq[ok], cal.aggregate)
p_art, p_none = probabilities(scores, cal)
t_score = time.time() - t
m = attribution_metrics(p_art, p_none, truth, cal)
print(f"test ({m['n_known']} paintings of reference artists, {m['n_unknown']} of test-only artists; "
      f"{t_score:.1f} s): {cal.describe()} (calibration chosen on validation)")
print(rounded(m))
print(f"  top-1 {m['top1']:.3f} (goal >= 0.70), top-5 {m['top5']:.3f} (goal >= 0.90), "
      f"none rate for unknown artists {m['none_rate']:.3f} (goal >= 0.50); right artist and not 'none' "
      f"{m['answered']:.3f}; none AUC {m['none_auc']:.3f}")
known = truth >= 0
none_known = cal.answers_none(p_art, p_none)[known].mean()
print(f"  reference-artist paintings answered 'none': {none_known:.3f}")
shipped = (AttributionCalibration.from_dict(json.loads(Path(args.calibration).read_text())) if args.calibration
           else _model_calibration(args.model))   # what painter attribute uses for this model
sm = attribution_metrics(*probabilities(ref.scores(Zq[ok], shipped.aggregate), shipped), truth, shipped)
print(f"  at the model's own calibration ({shipped.aggregate}, {shipped.describe()}; as painter attribute): "
      + rounded(sm))
if len(aside):   # painters the model learned (the packaged one: all 175) but the reference lacks
    Za, _ = model.embed_files(aside["file"].tolist(), progress=False)
    Za = Za[~np.isnan(Za).any(axis=1)]
    rates = [c.answers_none(*probabilities(ref.scores(Za, c.aggregate), c)).mean() for c in (cal, shipped)]
    print(f"  paintings of the left-out training artists ({len(Za)}: known to the model, not in the reference) "
          "answered 'none': {:.3f} at the chosen calibration, {:.3f} at the model's own".format(*rates))
# a goal-directed operating point, also chosen on validation: the highest threshold whose validation
# none rate reaches 0.5 (keeps the most known-artist answers while meeting the none goal there)
goal_t = float(val_curve[val_curve["none_rate"] >= 0.5]["threshold"].max())
g = attribution_metrics(p_art, p_none, truth, dataclasses.replace(cal, threshold=goal_t))
print(f"  at threshold {goal_t:.2f} (validation none rate >= 0.5): right artist and not 'none' {g['answered']:.3f}, "
      f"none rate {g['none_rate']:.3f}, reference-artist paintings answered 'none' "
      f"{(p_none[known] >= goal_t).mean():.3f}")
share = (truth < 0).mean()
for label, prior in (("prior 0.5, as calibrated", 0.5),
                     (f"diagnosis only: the test's own share {share:.2f} as prior", share)):
    print("  top outcome ({}): mean probability {:.3f}, right {:.3f}, expected calibration error {:.3f}".format(
        label, *top_outcome_calibration(*probabilities(scores, cal, prior_none=prior), truth)))
test_curve = tradeoff(p_art, p_none, truth)
test_curve.to_csv(out / "tradeoff_test.csv", index=False)
val_curve.to_csv(out / "tradeoff_validation.csv", index=False)

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
fig, ax = plt.subplots(figsize=(5.5, 4.5))
for name, curve, style, at in (("validation (training paintings)", val_curve, "--", val_table),
                               ("test", test_curve, "-", m)):
    ax.plot(curve["none_rate"], curve["answered"], style, label=name)
    ax.plot(at["none_rate"], at["answered"], "o", color=ax.lines[-1].get_color())
ax.axhline(m["top1"], color="grey", lw=0.6, ls=":")
ax.set(xlabel="unknown-artist paintings answered 'none'", ylabel="known-artist paintings: right artist, not 'none'",
       title=f"attribution trade-off (dots: {cal.describe()})", xlim=(0, 1), ylim=(0, 1))
ax.legend(loc="lower left")
fig.savefig(out / "tradeoff.png", dpi=110, bbox_inches="tight")
print(f"trade-off curve: {out / 'tradeoff.png'}")

# --- 3. examples, as a user sees them ------------------------------------------------------------------
from painter.attribution import plot_attribution  # noqa: E402
from painter.explain import explain_pair, plot_explanation  # noqa: E402
for name, group in (("known", "train_and_test"), ("unknown", "test_only")):
    pick = test[test["artist_group"] == group].iloc[0]
    row = attribute(pick["file"], ref, model, k=5, calibration=cal)
    print(f"example ({name} artist): {pick['file']} (truth {pick['artist']}) -> answer {row.attrs['answer']}")
    print(row.assign(best_matches=[[Path(f).name for f in b] for b in row["best_matches"]]).to_string(index=False))
    print(f"figure: {plot_attribution(row, out / f'example_{name}.png')}")
pick = test[test["artist_group"] == "train_and_test"]
a_file, b_file = pick[pick["artist"] == pick["artist"].iloc[0]]["file"].iloc[:2]
t = time.time()
expl = explain_pair(a_file, b_file, model)
print(f"explanation of {Path(a_file).name} and {Path(b_file).name} (same artist), 7x7 grid: {time.time() - t:.1f} s "
      f"(first call: backbones built), P(same) {expl.probability:.3f}; figure: "
      f"{plot_explanation(expl, out / 'explanation.png')}")
t = time.time()
explain_pair(a_file, b_file, model)
print(f"  again (backbones built): {time.time() - t:.1f} s")

# --- 4. latency against a 10,000-painting reference with cached embeddings -----------------------------
if not args.latency_size:
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    sys.exit(0)
big = out / "latency_reference"
if big.exists():
    shutil.rmtree(big)
(big / "train").mkdir(parents=True)
files, artists = ref.files, ref.artists[ref.codes]
rows, copy = [], 0
while len(rows) < args.latency_size:   # replicate the reference: copy c of an artist is a new artist
    for f, a in zip(files, artists):
        if len(rows) == args.latency_size:
            break
        name = f"{copy}_{Path(f).name}"
        (big / "train" / name).symlink_to(Path(f).resolve())
        rows.append({"artist": f"{a} #{copy}", "in_train": True, "new_filename": name})
    copy += 1
pd.DataFrame(rows).to_csv(big / "all_data_info.csv", index=False)
t = time.time()
load_reference(big, model, progress=False)   # embeddings of the copies: from the feature cache
print(f"latency reference: {len(rows)} paintings, {copy} copies of the reference; built in {time.time() - t:.1f} s")
queries = test["file"].iloc[1:21].tolist()
attribute(queries[0], big, model, calibration=cal)   # warm: model loaded, reference set in memory
times = []
for q in queries:
    t = time.perf_counter()
    attribute(q, big, model, calibration=cal)
    times.append(time.perf_counter() - t)
print(f"one attribution, 10,000-painting reference folder (file list checked for staleness), query features "
      f"cached: median {np.median(times) * 1000:.0f} ms, max {np.max(times) * 1000:.0f} ms over {len(times)} queries")
bigref = load_reference(big, model, progress=False)
times = []
for q in queries:
    t = time.perf_counter()
    attribute(q, bigref, model, calibration=cal)
    times.append(time.perf_counter() - t)
print(f"  with the ReferenceSet object: median {np.median(times) * 1000:.0f} ms")
# a painting never embedded: the CNN forward pass of both backbones is part of the time (models built)
from PIL import Image  # noqa: E402
stamp = time.time_ns()
for k, transpose in enumerate((Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM)):
    fresh = out / f"fresh_query_{k}.jpg"
    im = Image.open(queries[k]).transpose(transpose)
    im.putpixel((0, 0), (stamp % 256, (stamp >> 8) % 256, 0))   # new content: not in the feature cache
    im.save(fresh, quality=92)
    t = time.perf_counter()
    attribute(fresh, bigref, model, calibration=cal)
    if k:
        print(f"  a painting not in the feature cache (the two CNN forward passes included): "
              f"{(time.perf_counter() - t) * 1000:.0f} ms")
# a cold process: the reference cache read from disk
t = time.perf_counter()
ReferenceSet.load(cache_dir() / "references" / bigref.key, bigref.key)
print(f"  reading the cached 10,000-painting reference set from disk: {(time.perf_counter() - t) * 1000:.0f} ms")
# scale: 100,000 paintings of 2,000 artists (random vectors of the model's width)
rng = np.random.default_rng(0)
Z = rng.normal(size=(100_000, ref.Z.shape[1])).astype(np.float32) * 0.1
huge = ReferenceSet(np.arange(100_000).astype(str), rng.integers(0, 2000, 100_000).astype(str), Z, ref.bias)
zq = Zq[ok][:20]
for how in dict.fromkeys(("mean", cal.aggregate, "top3")):   # each once, in this order
    t = time.perf_counter()
    for z in zq:
        huge.scores(z[None], how)
    print(f"  per-artist scores over 100,000 paintings / 2,000 artists ({how}): "
          f"{(time.perf_counter() - t) / len(zq) * 1000:.1f} ms per query")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
