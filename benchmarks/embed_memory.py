"""Peak RSS and speed of embedding N pbn_dev paintings with one backbone, eager call vs compiled.

Run each mode in its own process (peak RSS is per process):

    python benchmarks/embed_memory.py efficientnet_lite2 256 32 eager
    python benchmarks/embed_memory.py efficientnet_lite2 256 32 compiled
"""
import resource
import sys
import time

import numpy as np

from shared_data import RUNS, clean_pbn_dev
from painter.features import FeatureSpec, build_feature_model, image_batches

name, n, batch, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
spec = FeatureSpec(name).components()[0]
model = build_feature_model(spec)   # Keras: the eager and compiled calls are what is compared
paths = sorted((clean_pbn_dev(RUNS / "pbn_clean") / "train").glob("*.jpg"))[:n]
t = time.time()
for images, _reasons in image_batches(paths, spec.image_size, batch):
    np.asarray(model(images, training=False) if how == "eager" else model.predict_on_batch(images))
print(f"{name} {how}: {n / (time.time() - t):.1f} img/s, peak RSS "
      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB", flush=True)
