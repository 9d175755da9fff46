"""Which runtime runs the frozen style-feature models fastest on this CPU.

1. Raw img/s of Keras ``predict_on_batch`` against the Keras exports run by ONNX Runtime,
   LiteRT and OpenVINO, batch 32, for the default Lite0 (224 px) and Lite1 (240 px) style
   models; rounds interleaved (each round runs every runner, in a rotated order), warm-up
   excluded, medians of the rounds (other engineers' jobs load this 2-core machine on and off).
   The feature difference to Keras on real paintings: max |delta| / max |keras| and the
   largest row's ||delta|| / ||keras||.
2. Whether each runner releases the GIL while it runs (Python work done meanwhile).
3. End to end (decode + features, Lite0) with and without decoding the next batch during
   the forward pass (``image_batches(overlap=...)``), on pbn_dev's 224 px JPEGs and on the
   same images enlarged to 1600 x 1200 (decoding cost like the raw competition files).
4. The small dense embedders (15,872 -> 384 unit-normalised; 15,872 -> 174 softmax): Keras
   eager call and ``predict_on_batch`` against the runtimes for 1 and 4,096 rows, and the
   import time of TensorFlow against each runtime (what a one-shot command pays).

    python benchmarks/recipes/runtime_choice.py [--rounds 12] [--batches 1] [--images 96] [--sections 1234]

Exports go to ``$PAINTER_CACHE/exports`` (made once). Needs ../shared/data/pbn_dev for real images
(falls back to synthetic paintings, and says so).
"""
import argparse
import io
import os
import shutil
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data
from shared_data import PBN_DEV
from painter import runtime
from painter.features.serving import export_dir, feature_runner
from painter.features import FeatureSpec, image_batches, predict_padded
from painter.data.images import load_array

p = argparse.ArgumentParser()
p.add_argument("--rounds", type=int, default=12)
p.add_argument("--batches", type=int, default=1, help="batches of 32 per runner and round")
p.add_argument("--images", type=int, default=96, help="images for the overlap measurement")
p.add_argument("--sections", default="1234", help="which of the sections 1-4 to run")
args = p.parse_args()
EXPORTED = [r for r in runtime.RUNTIMES if r != "keras"]


def real_images(n, tmp):
    """``n`` image files: pbn_dev's 224 px test paintings (its few huge scans left out: one 99 MP
    file would dominate the decoding time), or synthetic ones without the shared data."""
    tmp.mkdir(parents=True, exist_ok=True)
    if (PBN_DEV / "test.zip").is_file():
        with zipfile.ZipFile(PBN_DEV / "test.zip") as z:
            for m in sorted(m for m in z.namelist() if m.endswith(".jpg")):
                data = z.read(m)
                if Image.open(io.BytesIO(data)).size == (224, 224):
                    (tmp / Path(m).name).write_bytes(data)
                if len(os.listdir(tmp)) == n:
                    break
        return sorted(tmp.glob("*.jpg"))
    print("(no ../shared/data/pbn_dev: synthetic paintings)")
    from painter.data.synthetic import artist_traits, paint
    rng = np.random.default_rng(0)
    for i in range(n):
        paint(artist_traits(rng), 224, rng).save(tmp / f"{i:05d}.jpg", quality=90)
    return sorted(tmp.glob("*.jpg"))


def interleaved(runners, x, rounds, batches):
    """Per-round img/s of each runner's ``predict_on_batch(x)`` (``batches`` calls a round),
    rounds interleaved in a rotated order, warm-up excluded: ``{name: array (rounds,)}``.
    Other users' load on this shared machine comes and goes within seconds, so the medians of
    the per-round figures, and of the per-round ratios, are reported rather than totals."""
    for r in runners.values():
        r.predict_on_batch(x)
        r.predict_on_batch(x)
    speed = {name: [] for name in runners}
    names = list(runners)
    for k in range(rounds):
        for name in names[k % len(names):] + names[:k % len(names)]:
            t = time.perf_counter()
            for _ in range(batches):
                runners[name].predict_on_batch(x)
            speed[name].append(batches * len(x) / (time.perf_counter() - t))
    return {name: np.array(v) for name, v in speed.items()}


def exported_runners(spec):
    runners = {"keras": feature_runner(spec, "keras")}
    loads = {}
    for rt in EXPORTED:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = feature_runner(spec, rt)   # exports once
        if not isinstance(r, runtime.ExportedModel):
            print(f"  {rt}: not measured ({caught[0].message if caught else 'fell back to Keras'})")
            continue
        t = time.perf_counter()
        runners[rt] = runtime.load_exported(export_dir(spec, rt))
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
    for images, _ in image_batches(paths, size, 32, overlap=overlap):
        predict_padded(runner, images)   # as predict_images runs each batch
    return len(paths) / (time.perf_counter() - t)


def import_seconds(module):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                    check=True).stdout) for _ in range(3))


def raw_speed(paths):
    print(f"\n1. Raw speed, batch 32 (median img/s of {args.rounds} rounds; x Keras = median ratio within a round), "
          f"and features against Keras on 32 real paintings")
    print(f"{'model':24s} {'runtime':9s} {'img/s':>7s} {'x Keras':>8s} {'max|d|/max|k|':>14s} {'row L2 rel':>11s} "
          f"{'load s':>7s}")
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
            ratio = np.median(speed[name] / speed["keras"])
            print(f"{backbone + ' ' + str(size):24s} {name:9s} {np.median(speed[name]):7.1f} {ratio:8.2f} "
                  f"{d:14.1e} {row:11.1e} {load}", flush=True)


def gil(runners, x):
    print("\n2. Python work done while the runner runs, relative to alone (0 = it holds the GIL)")
    for name, r in runners.items():
        print(f"  {name:9s} {gil_free_work(r, x):.2f}", flush=True)


def overlap(runners, paths, tmp):
    print(f"\n3. End to end, Lite0 224 px, {len(paths)} images: decode waits its turn (sequential) vs overlaps the "
          f"forward pass; {args.rounds} back-to-back pairs in alternating order, medians of img/s and of the ratio")
    big = tmp / "big"
    big.mkdir()
    for q in paths:   # the same paintings at the raw competition files' size: decoding costs ~30x more
        Image.open(q).convert("RGB").resize((1600, 1200), Image.BICUBIC).save(big / q.name, quality=90)
    for label, files in (("224 px JPEG", paths), ("1600x1200 JPEG", sorted(big.glob("*.jpg")))):
        for name, r in runners.items():
            end_to_end(r, files[:32], 224, False)   # warm-up
            speed = {False: [], True: []}
            for k in range(args.rounds):
                for ahead in ((False, True) if k % 2 == 0 else (True, False)):
                    speed[ahead].append(end_to_end(r, files, 224, ahead))
            ratio = np.median(np.array(speed[True]) / np.array(speed[False]))
            print(f"  {label:15s} {name:9s} sequential {np.median(speed[False]):6.1f}  overlap "
                  f"{np.median(speed[True]):6.1f}  ratio {ratio:.2f}", flush=True)


class EagerCall:
    """The Keras model called eagerly, as ``painter.pairmodel.predict_rows`` runs the embedders."""

    def __init__(self, model):
        self.model = model

    def predict_on_batch(self, v):
        import keras
        return keras.ops.convert_to_numpy(self.model(v, training=False))


def dense(tmp):
    import keras
    print("\n4. Small dense embedders (rows/s; ms per call; max |delta| to Keras) and import time")
    dense_models = {
        "15872->384 unit-norm": keras.Sequential([keras.Input((15872,)), keras.layers.Dense(384),
                                                  keras.layers.UnitNormalization()]),
        "15872->174 softmax": keras.Sequential([keras.Input((15872,)), keras.layers.Dense(174, activation="softmax")]),
    }
    for label, model in dense_models.items():
        runners = {"keras call": EagerCall(model), "keras pob": model}
        for rt in EXPORTED:
            try:
                runners[rt] = runtime.load_exported(runtime.export_model(model, tmp / f"dense-{rt}", rt))
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                print(f"  {label} {rt}: export failed ({type(e).__name__}: {e})")
        for n in (1, 4096):
            v = np.random.default_rng(1).normal(size=(n, 15872)).astype(np.float32)
            speed = {k: np.median(v) for k, v in interleaved(runners, v, args.rounds, 100 if n == 1 else 1).items()}
            ref = np.asarray(model(v))
            diffs = {k: np.abs(np.asarray(r.predict_on_batch(v)) - ref).max() for k, r in runners.items()}
            print(f"  {label:22s} {n:5d} rows: " + ", ".join(
                f"{k} {speed[k]:6.0f} ({1e3 * n / speed[k]:.2f} ms, d {diffs[k]:.0e})" for k in runners), flush=True)
    print("  import seconds (best of 3, fresh process): " + ", ".join(
        f"{m} {import_seconds(m):.2f}" for m in ("tensorflow", "keras", "onnxruntime", "ai_edge_litert.interpreter",
                                                 "openvino")))


print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")
tmp = Path(tempfile.mkdtemp(prefix="runtime_choice_"))
try:
    paths = real_images(max(args.images, 32), tmp / "small")
    if "1" in args.sections:
        raw_speed(paths)
    if "2" in args.sections or "3" in args.sections:
        lite0, _ = exported_runners(FeatureSpec("efficientnet_lite0", 224, "style"))
        if "2" in args.sections:
            gil(lite0, np.stack([load_array(q, 224) for q in paths[:32]]).astype(np.float32))
        if "3" in args.sections:
            overlap(lite0, paths, tmp)
    if "4" in args.sections:
        dense(tmp)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print(f"load average {os.getloadavg()[0]:.2f} at end")
