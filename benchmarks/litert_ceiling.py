"""Where LiteRT's end-to-end embedding time goes, and what does not make it faster.

1. ``extract_features`` over 640 pbn_dev paintings (``--n``), timed inside: decoding (``image_batches``) vs the
   forward pass (``predict_padded``), beside the runner's raw speed on a ready batch;
2. the raw speed of the pooled vs the style summary (what the channel statistics cost);
3. one interpreter with two threads vs two single-thread interpreters side by side (one batch each).

    python benchmarks/litert_ceiling.py [--n 640] [--data runs/pbn_clean] [--write]
"""
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import results_tables
from shared_data import clean_pbn_dev, pbn_dev_arguments, write_results
import painter.features.inference as inference
from painter.features import FeatureSpec, extract_features, feature_model
from painter.features.serving import export_dir

args = pbn_dev_arguments("litert-ceiling", n=640)
paths = sorted((clean_pbn_dev(args.data) / "train").glob("*.jpg"))[:args.n]
SPECS = (FeatureSpec("efficientnet_lite0", 224), FeatureSpec("efficientnet_lite1", 240))
seconds = {"decode": 0.0, "forward": 0.0}


def timed(name, function):
    def run(*a, **k):
        t = time.time()
        out = function(*a, **k)
        seconds[name] += time.time() - t
        return out
    return run


def timed_batches(*a, **k):
    batches = image_batches(*a, **k)
    while True:
        t = time.time()
        item = next(batches, None)
        seconds["decode"] += time.time() - t
        if item is None:
            return
        yield item


def raw_speed(run, size, batch=32, n=20):
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    run(x)
    t = time.time()
    for _ in range(n):
        run(x)
    return n * batch / (time.time() - t)


image_batches = inference.image_batches
inference.image_batches, inference.predict_padded = timed_batches, timed("forward", inference.predict_padded)
print(f"1. end to end, timed inside ({len(paths)} paintings, two rounds)")
MODELS = {spec: f"{spec.backbone.replace('efficientnet_lite', 'Lite')} {spec.image_size}" for spec in SPECS}
rounds, summaries, threads = {}, {}, {}   # the table's figures (results_tables.litert_ceiling)
for spec in SPECS:
    runner = feature_model(spec)
    for _ in range(2):
        raw = raw_speed(runner.predict_on_batch, spec.image_size)
        seconds.update(decode=0.0, forward=0.0)
        t = time.time()
        extract_features(paths, spec, cache=False, model=runner, progress=False)
        total = time.time() - t
        print(f"  {spec.backbone} {spec.image_size}px: raw {raw:.1f} img/s, end to end {len(paths) / total:.1f} img/s; "
              f"decoding {seconds['decode']:.2f} s, forward {seconds['forward']:.2f} s of {total:.2f} s", flush=True)
        rounds.setdefault(MODELS[spec], []).append((raw, len(paths) / total, seconds["decode"], seconds["forward"]))

print("2. raw speed by summary (Lite0 224)")
for summary in ("pooled", "style"):
    runner = feature_model(FeatureSpec("efficientnet_lite0", 224, summary))
    summaries[summary] = max(raw_speed(runner.predict_on_batch, 224) for _ in range(2))
    print(f"  {summary}: {summaries[summary]:.1f} img/s", flush=True)

print("3. one interpreter with 2 threads vs two with 1 thread each, side by side")
from ai_edge_litert.interpreter import Interpreter


def interpreter(path, threads, shape):
    it = Interpreter(str(path), num_threads=threads)
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    it.resize_tensor_input(i, shape)
    it.allocate_tensors()

    def run(x):
        it.set_tensor(i, x)
        it.invoke()
        return it.get_tensor(o)
    return run


for spec in SPECS:
    path = next(export_dir(spec, "litert").glob("*.tflite"))
    for batch in (32, 16, 8):
        shape = (batch, spec.image_size, spec.image_size, 3)
        x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
        one, twins = interpreter(path, 2, shape), [interpreter(path, 1, shape) for _ in range(2)]
        n, t_one, t_two = max(4, 256 // batch), 0.0, 0.0
        with ThreadPoolExecutor(2) as pool:
            for _ in range(3):
                t = time.time()
                for _ in range(n):
                    one(x)
                t_one += time.time() - t
                t = time.time()
                list(pool.map(lambda k: [twins[k](x) for _ in range(n // 2)], range(2)))
                t_two += time.time() - t
        threads.setdefault(MODELS[spec], {})[batch] = (3 * n * batch / t_one, 3 * n * batch / t_two)
        print(f"  {spec.backbone} batch {batch}: 1 x 2 threads {threads[MODELS[spec]][batch][0]:.1f} img/s, "
              f"2 x 1 thread {threads[MODELS[spec]][batch][1]:.1f} img/s", flush=True)
text = results_tables.litert_ceiling(len(paths), list(MODELS.values()), rounds, summaries, threads)
print(text)
if args.write:
    write_results("litert-ceiling", text)
