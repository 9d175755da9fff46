"""Images/s embedding 1,000 real pbn_dev paintings (decode included) vs raw forward speed, Lite0/1/2.

Raw and end-to-end passes are interleaved in rounds, so that this virtual machine's drift in
speed over minutes falls on both alike; the ratio is of the totals.

    python benchmarks/embed_speed.py [--n 1000] [--rounds 4] [--data runs/pbn_clean]
"""
import argparse
import time

import numpy as np

from shared_data import RUNS, clean_pbn_dev
from painter.features import FeatureSpec, extract_features, feature_model

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=1000)
p.add_argument("--rounds", type=int, default=4)
p.add_argument("--data", default=str(RUNS / "pbn_clean"))
args = p.parse_args()
data = clean_pbn_dev(args.data)
paths = sorted((data / "train").glob("*.jpg"))[: args.n]
# rounds end on whole batches, so the 1,000 images have one short (padded) batch, as in one call
cuts = [32 * round(len(paths) * k / args.rounds / 32) for k in range(1, args.rounds)]
parts = np.split(np.arange(len(paths)), cuts)
for backbone, size in (("efficientnet_lite0", 224), ("efficientnet_lite1", 240), ("efficientnet_lite2", 260)):
    for kind in ("pooled", "style"):
        spec = FeatureSpec(backbone, size, kind)
        model = feature_model(spec)
        x = np.random.default_rng(0).uniform(0, 255, (32, size, size, 3)).astype(np.float32)
        model.predict_on_batch(x)  # warm-up at the timed batch shape (oneDNN builds its kernels per shape)
        raw_s = e2e_s = raw_n = 0
        for part in parts:
            t = time.time()
            for _ in range(max(1, len(part) // 32)):
                model.predict_on_batch(x)
            raw_s += time.time() - t
            raw_n += 32 * max(1, len(part) // 32)
            t = time.time()
            extract_features([paths[k] for k in part], spec, cache=False, model=model, progress=False)
            e2e_s += time.time() - t
        raw, e2e = raw_n / raw_s, len(paths) / e2e_s
        print(f"{backbone:20s} {size}px {kind:6s}: end to end {e2e:6.1f} img/s, raw forward {raw:6.1f} img/s, "
              f"ratio {e2e / raw:.0%}", flush=True)
