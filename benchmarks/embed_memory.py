"""Peak RSS and speed of embedding N pbn_dev paintings with one backbone (Keras), eager call vs
compiled (``predict_on_batch``): each call runs in a process of its own, since peak RSS is per process.

    python benchmarks/embed_memory.py [--backbone efficientnet_lite2] [--n 256] [--batch 32] [--write]
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

import results_tables
from shared_data import RUNS, clean_pbn_dev, write_results

CALLS = ("compiled", "eager")


def measure(backbone, n, batch, how):
    """In this process: embed, then print ``{"img/s": ., "peak MB": .}``."""
    from painter.features import FeatureSpec, build_feature_model, image_batches
    spec = FeatureSpec(backbone).components()[0]
    model = build_feature_model(spec)   # Keras: the eager and compiled calls are what is compared
    paths = sorted((clean_pbn_dev(RUNS / "pbn_clean") / "train").glob("*.jpg"))[:n]
    t = time.time()
    for images, _reasons in image_batches(paths, spec.image_size, batch):
        np.asarray(model(images, training=False) if how == "eager" else model.predict_on_batch(images))
    print(json.dumps({"img/s": n / (time.time() - t),
                      "peak MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


p = argparse.ArgumentParser()
p.add_argument("--backbone", default="efficientnet_lite2")
p.add_argument("--n", type=int, default=256)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--call", choices=CALLS, help="measure this call in this process (the script runs each so)")
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'embed-memory' section)")
args = p.parse_args()
if args.call:
    measure(args.backbone, args.n, args.batch, args.call)
    sys.exit()
peaks = {}
for how in CALLS:
    out = subprocess.run([sys.executable, __file__, "--backbone", args.backbone, "--n", str(args.n), "--batch",
                          str(args.batch), "--call", how], capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{args.backbone} {how}: {figures['img/s']:.1f} img/s, peak RSS {figures['peak MB']:,.0f} MB", flush=True)
    peaks[how] = figures["peak MB"]
text = results_tables.embed_memory(args.backbone.replace("efficientnet_lite", "Lite"), args.n, args.batch, peaks)
print(text)
if args.write:
    write_results("embed-memory", text)
