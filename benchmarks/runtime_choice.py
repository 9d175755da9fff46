"""Which runtime runs the frozen style-feature models fastest on this CPU (issue 17).

1. Raw img/s of Keras ``predict_on_batch`` against the Keras exports run by ONNX Runtime,
   LiteRT and OpenVINO, batch 32, for the default Lite0 (224 px) and Lite1 (240 px) style
   models; rounds interleaved (each round runs every runner, in a rotated order) so this
   shared machine's drift falls on all alike; warm-up excluded. The feature difference to
   Keras on real paintings: max |delta| / max |keras| and the largest row's ||delta|| / ||keras||.
2. Whether each runner releases the GIL while it runs (Python work done meanwhile).
3. End to end (decode + features, Lite0) with and without decoding the next batch during
   the forward pass (``_image_batches(overlap=...)``), on pbn_dev's 224 px JPEGs and on the
   same images enlarged to 1600 x 1200 (decoding cost like the raw competition files).
4. The small dense embedders (15,872 -> 384 unit-normalised; 15,872 -> 174 softmax): Keras
   eager call and ``predict_on_batch`` against the runtimes for 1 and 4,096 rows, and the
   import time of TensorFlow against each runtime (what a one-shot command pays).

    python benchmarks/runtime_choice.py [--rounds 5] [--batches 3] [--images 256]

Exports go to ``$PAINTER_CACHE/exports`` (made once). Needs ../shared/data/pbn_dev for real images
(falls back to synthetic paintings, and says so).
"""
import argparse
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from _common import PBN_DEV
from painter import runtime
from painter.features import FeatureSpec, _image_batches
from painter.images import load_array

p = argparse.ArgumentParser()
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--batches", type=int, default=3, help="batches of 32 per runner and round")
p.add_argument("--images", type=int, default=256, help="images for the overlap measurement")
args = p.parse_args()
EXPORTED = [r for r in runtime.RUNTIMES if r != "keras"]


def real_images(n, tmp):
    """``n`` image files: pbn_dev test paintings, or synthetic ones without the shared data."""
    tmp.mkdir(parents=True, exist_ok=True)
    if (PBN_DEV / "test.zip").is_file():
        with zipfile.ZipFile(PBN_DEV / "test.zip") as z:
            names = sorted(m for m in z.namelist() if m.endswith(".jpg"))[:n]
            for m in names:
                (tmp / Path(m).name).write_bytes(z.read(m))
        return sorted(tmp.glob("*.jpg"))
    print("(no ../shared/data/pbn_dev: synthetic paintings)")
    from painter.synthetic import _artist_traits, paint
    rng = np.random.default_rng(0)
    for i in range(n):
        paint(_artist_traits(rng), 224, rng).save(tmp / f"{i:05d}.jpg", quality=90)
    return sorted(tmp.glob("*.jpg"))


def interleaved(runners, x, rounds, batches):
    """img/s of each runner's ``predict_on_batch(x)``, rounds interleaved, warm-up excluded."""
    for r in runners.values():
        r.predict_on_batch(x)
        r.predict_on_batch(x)
    seconds = dict.fromkeys(runners, 0.0)
    names = list(runners)
    for k in range(rounds):
        for name in names[k % len(names):] + names[:k % len(names)]:
            t = time.perf_counter()
            for _ in range(batches):
                runners[name].predict_on_batch(x)
            seconds[name] += time.perf_counter() - t
    return {n: rounds * batches * len(x) / s for n, s in seconds.items()}


def exported_runners(spec):
    runners = {"keras": runtime.feature_runner(spec, "keras")}
    loads = {}
    for rt in EXPORTED:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = runtime.feature_runner(spec, rt)   # exports once
        if not isinstance(r, runtime.ExportedModel):
            print(f"  {rt}: not measured ({caught[0].message if caught else 'fell back to Keras'})")
            continue
        t = time.perf_counter()
        runners[rt] = runtime.load_exported(runtime.export_dir(spec, rt))
        loads[rt] = time.perf_counter() - t
    return runners, loads


def gil_free_work(runner, x):
    """Python loop iterations done by this thread per second while another thread runs the
    runner, relative to the same loop alone: ~0 when the runner holds the GIL."""
    def spin(seconds):
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n / seconds
    alone = spin(0.3)
    worker = threading.Thread(target=lambda: [runner.predict_on_batch(x) for _ in range(3)])
    worker.start()
    t, n = time.perf_counter(), 0
    while worker.is_alive():
        n += 1
    worker.join()
    return n / (time.perf_counter() - t) / alone


def end_to_end(runner, paths, size, overlap):
    t = time.perf_counter()
    for images, _ in _image_batches(paths, size, 32, overlap=overlap):
        if len(images) < 32:   # padded as predict_images does
            images = np.concatenate([images, np.zeros((32 - len(images), *images.shape[1:]), images.dtype)])
        runner.predict_on_batch(images)
    return len(paths) / (time.perf_counter() - t)


def import_seconds(module):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                    check=True).stdout) for _ in range(3))


print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")
tmp = Path(tempfile.mkdtemp(prefix="runtime_choice_"))
paths = real_images(max(args.images, 32), tmp / "small")

print("\n1. Raw speed, batch 32 (img/s), and features against Keras on 32 real paintings")
print(f"{'model':24s} {'runtime':9s} {'img/s':>7s} {'x Keras':>8s} {'max|d|/max|k|':>14s} {'row L2 rel':>11s} {'load s':>7s}")
gil_runners = {}
for backbone, size in (("efficientnet_lite0", 224), ("efficientnet_lite1", 240)):
    spec = FeatureSpec(backbone, size, "style")
    runners, loads = exported_runners(spec)
    x = np.stack([load_array(q, size) for q in paths[:32]]).astype(np.float32)
    ref = np.asarray(runners["keras"].predict_on_batch(x))
    speed = interleaved(runners, x, args.rounds, args.batches)
    for name, r in runners.items():
        y = np.asarray(r.predict_on_batch(x))
        d = np.abs(y - ref).max() / np.abs(ref).max()
        row = (np.linalg.norm(y - ref, axis=1) / np.linalg.norm(ref, axis=1)).max()
        load = f"{loads[name]:7.2f}" if name in loads else f"{'':7s}"
        print(f"{backbone + ' ' + str(size):24s} {name:9s} {speed[name]:7.1f} {speed[name] / speed['keras']:8.2f} "
              f"{d:14.1e} {row:11.1e} {load}", flush=True)
    if backbone == "efficientnet_lite0":
        gil_runners, gil_x = runners, x

print("\n2. Python work done while the runner runs, relative to alone (0 = it holds the GIL)")
for name, r in gil_runners.items():
    print(f"  {name:9s} {gil_free_work(r, gil_x):.2f}", flush=True)

print(f"\n3. End to end, Lite0 224 px, {len(paths)} images (img/s): decode waits its turn vs overlaps the forward pass")
big = tmp / "big"
big.mkdir()
for q in paths:   # the same paintings at the raw competition files' size: decoding costs ~30x more
    Image.open(q).convert("RGB").resize((1600, 1200), Image.BICUBIC).save(big / q.name, quality=90)
big_paths = sorted(big.glob("*.jpg"))
for label, files in (("224 px JPEG", paths), ("1600x1200 JPEG", big_paths)):
    for name, r in gil_runners.items():
        best = {False: 0.0, True: 0.0}
        for k in range(max(2, args.rounds // 2)):   # alternate, keep each setting's best
            for overlap in ((False, True) if k % 2 == 0 else (True, False)):
                best[overlap] = max(best[overlap], end_to_end(r, files, 224, overlap))
        print(f"  {label:15s} {name:9s} sequential {best[False]:6.1f}  overlap {best[True]:6.1f}  "
              f"ratio {best[True] / best[False]:.2f}", flush=True)

print("\n4. Small dense embedders (rows/s) and import time")
import keras  # noqa: E402 - after the feature models, as a one-shot command would not need it

dense_models = {
    "15872->384 unit-norm": keras.Sequential([keras.Input((15872,)), keras.layers.Dense(384),
                                              keras.layers.UnitNormalization()]),
    "15872->174 softmax": keras.Sequential([keras.Input((15872,)), keras.layers.Dense(174, activation="softmax")]),
}


class EagerCall:
    """The Keras model called eagerly, as ``painter.pairmodel.predict_rows`` runs the embedders."""

    def __init__(self, model):
        self.model = model

    def predict_on_batch(self, v):
        return keras.ops.convert_to_numpy(self.model(v, training=False))


for label, model in dense_models.items():
    runners = {"keras call": EagerCall(model), "keras pob": model}
    for rt in EXPORTED:
        try:
            runners[rt] = runtime.load_exported(runtime.export_model(model, tmp / f"dense-{rt}", rt))
        except Exception as e:  # noqa: BLE001 - report and go on with the others
            print(f"  {label} {rt}: export failed ({type(e).__name__}: {e})")
    for n in (1, 4096):
        v = np.random.default_rng(1).normal(size=(n, 15872)).astype(np.float32)
        reps = 200 if n == 1 else 3
        speed = interleaved(runners, v, args.rounds, reps)
        ref = np.asarray(model(v))
        diffs = {k: np.abs(np.asarray(r.predict_on_batch(v)) - ref).max() for k, r in runners.items()}
        print(f"  {label:22s} {n:5d} rows: " + ", ".join(
            f"{k} {speed[k]:9.0f} ({1e3 * n / speed[k]:.2f} ms, d {diffs[k]:.0e})" for k in runners), flush=True)
print("  import seconds (best of 3, fresh process): " + ", ".join(
    f"{m} {import_seconds(m):.2f}" for m in ("tensorflow", "keras", "onnxruntime", "ai_edge_litert.interpreter",
                                             "openvino")))
print(f"load average {os.getloadavg()[0]:.2f} at end")
