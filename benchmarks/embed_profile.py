"""Where end-to-end embedding time goes: waiting for decoded batches vs the forward pass.

Embeds N pbn_dev paintings with Lite0 (pooled) in two rounds and prints, per round: the raw
forward time of the same number of random batches, the time spent waiting for decoded batches,
the forward time on the decoded batches, and one whole ``extract_features`` call.

    python benchmarks/embed_profile.py [--n 512] [--data runs/pbn_clean] [--write]
"""
import time

import numpy as np

import results_tables
from shared_data import clean_pbn_dev, pbn_dev_arguments, write_results
from painter.features import FeatureSpec, extract_features, feature_model, image_batches

args = pbn_dev_arguments("embed-profile", n=512)
paths = [str(q) for q in sorted((clean_pbn_dev(args.data) / "train").glob("*.jpg"))[: args.n]]
spec = FeatureSpec("efficientnet_lite0", 224, "pooled")
model = feature_model(spec)
x = np.random.default_rng(0).uniform(0, 255, (32, 224, 224, 3)).astype(np.float32)
model.predict_on_batch(x)  # warm-up at the timed batch shape
for _ in image_batches(paths, 224, 32):   # warm-up: the files' first read from disk is not decoding
    pass
rounds = []
for _ in range(2):
    t = time.time()
    for _ in range(int(np.ceil(len(paths) / 32))):
        model.predict_on_batch(x)
    raw = time.time() - t
    wait = forward = 0.0
    batches = image_batches(paths, 224, 32)
    while True:
        t = time.time()
        try:
            images, _reasons = next(batches)
        except StopIteration:
            break
        wait += time.time() - t
        t = time.time()
        model.predict_on_batch(images)
        forward += time.time() - t
    t = time.time()
    extract_features(paths, spec, cache=False, model=model, progress=False)
    whole = time.time() - t
    print(f"{len(paths)} images: raw forward {raw:.2f} s | decode wait {wait:.2f} s "
          f"({wait / whole:.1%} of extract_features), forward on decoded {forward:.2f} s | "
          f"extract_features {whole:.2f} s ({raw / whole:.0%} of raw speed)", flush=True)
    rounds.append((wait, whole))
text = results_tables.embed_profile(len(paths), "Lite0 224 px pooled", getattr(model, "runtime", "keras"), rounds)
print(text)
if args.write:
    write_results("embed-profile", text)
