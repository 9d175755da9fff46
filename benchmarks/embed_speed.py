"""Images/s embedding 1,000 real pbn_dev paintings (decode included) against Keras's raw forward speed.

For each feature model, in interleaved rounds (so that this virtual machine's drift in speed over
minutes falls on every column alike; ratios are of the totals):

* Keras raw: ``predict_on_batch`` of the Keras model on one ready batch, repeated (no decoding);
* Keras end to end: ``extract_features`` with the Keras model (decode included, no cache);
* exported end to end: ``extract_features`` with the default runner (``painter.features.serving``,
  LiteRT unless ``$PAINTER_RUNTIME`` says otherwise), decode included, no cache.

    python benchmarks/embed_speed.py [--n 1000] [--rounds 4] [--specs style] [--data runs/pbn_clean]
                                     [--zoom 2,1] [--write]

``--specs style``: the default features' two models (``DEFAULT_FEATURES.components()``); ``--zoom
2,1``: with zoomed views (``FeatureSpec(zoom=...)``, the zoomed row).
"""
import argparse
import os
import time

import numpy as np

import results_tables
from shared_data import RUNS, clean_pbn_dev, default_features_zoomed, write_results
from painter.features import FeatureSpec, build_feature_model, extract_features, feature_model

RUNTIME_NAMES = {"keras": "Keras", "litert": "LiteRT", "onnx": "ONNX Runtime", "openvino": "OpenVINO"}


def label(spec):
    """``Lite0 224 px, style statistics``: a feature model as the table names it."""
    summary = "style statistics" if spec.summary == "style" else spec.summary
    zoom = f", zoom {spec.zoom}" if spec.zoom > 1 else ""
    return f"{spec.backbone.replace('efficientnet_lite', 'Lite')} {spec.image_size} px, {summary}{zoom}"

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=1000)
p.add_argument("--rounds", type=int, default=4)
p.add_argument("--specs", default="style", help="'style' (the default features' two models) or 'all'")
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
p.add_argument("--zoom", default=None, help="zoomed views of the default features' models, e.g. 2,1")
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'embed-speed' section)")
args = p.parse_args()
load = [os.getloadavg()[0]]
data = clean_pbn_dev(args.data)
paths = sorted((data / "train").glob("*.jpg"))[: args.n]
# rounds end on whole batches, so the 1,000 images have one short (padded) batch, as in one call
cuts = [32 * round(len(paths) * k / args.rounds / 32) for k in range(1, args.rounds)]
parts = np.split(np.arange(len(paths)), cuts)
if args.zoom and args.specs != "style":
    p.error("--zoom: with --specs style only")
default = default_features_zoomed(args.zoom)
specs = default.components()
if args.specs == "all":
    specs = [FeatureSpec(b, s, k) for b, s in (("efficientnet_lite0", 224), ("efficientnet_lite1", 240),
                                                ("efficientnet_lite2", 260)) for k in ("pooled", "style")]
per_image = {}   # spec -> seconds per image of each column, for the default features' line
rows = []
for spec in specs:
    keras_model, runner = build_feature_model(spec), feature_model(spec)
    x = np.random.default_rng(0).uniform(0, 255, (32, spec.image_size, spec.image_size, 3)).astype(np.float32)
    keras_model.predict_on_batch(x)   # warm-up at the timed batch shape (oneDNN builds its kernels per shape)
    runner.predict_on_batch(x)
    seconds = {"raw": 0.0, "keras": 0.0, "exported": 0.0}
    raw_n = 0
    for part in parts:
        t = time.time()
        for _ in range(max(1, len(part) // 32)):
            keras_model.predict_on_batch(x)
        seconds["raw"] += time.time() - t
        raw_n += 32 * max(1, len(part) // 32)
        for name, model in (("keras", keras_model), ("exported", runner)):
            t = time.time()
            extract_features([paths[k] for k in part], spec, cache=False, model=model, progress=False)
            seconds[name] += time.time() - t
    per_image[spec] = {"raw": seconds["raw"] / raw_n, "keras": seconds["keras"] / len(paths),
                       "exported": seconds["exported"] / len(paths)}
    raw = raw_n / seconds["raw"]
    keras_e2e, exported_e2e = len(paths) / seconds["keras"], len(paths) / seconds["exported"]
    rows.append((label(spec), raw, keras_e2e, exported_e2e))
    print(f"{spec.backbone:20s} {spec.image_size}px {spec.summary:6s} zoom {spec.zoom}: Keras raw {raw:6.1f} img/s | "
          "end to end: "
          f"Keras {keras_e2e:6.1f} img/s ({keras_e2e / raw:.0%} of raw), {type(runner).__name__} "
          f"{getattr(runner, 'runtime', 'keras')} {exported_e2e:6.1f} img/s ({exported_e2e / raw:.2f}x Keras raw)",
          flush=True)
default_row = None
if args.specs == "style":   # the default features run both models on every painting: their times add up
    total = {k: sum(t[k] for t in per_image.values()) for k in ("raw", "keras", "exported")}
    print(f"default features ({default.key}): Keras raw {1 / total['raw']:6.1f} img/s | end to end: Keras "
          f"{1 / total['keras']:6.1f} img/s, exported {1 / total['exported']:6.1f} img/s "
          f"({total['raw'] / total['exported']:.2f}x Keras raw)", flush=True)
    models = " + ".join(s.backbone.replace("efficientnet_lite", "Lite") for s in specs)
    default_row = (f"default features{f' with zoom {args.zoom}' if args.zoom else ''} ({models}, both on every "
                   "painting)", 1 / total["raw"], 1 / total["keras"], 1 / total["exported"])
load.append(os.getloadavg()[0])
text = results_tables.embed_speed(len(paths), args.rounds, load, default.weights,
                                  RUNTIME_NAMES.get(getattr(runner, "runtime", "keras")), rows, default_row)
print(text)
if args.write:
    write_results("embed-speed", text)
