"""Wall time of ``painter predict-pair A B`` in a new process, as a user at a shell waits for it.

* warm: the exported models are cached (one earlier run), the two paintings are new (their
  features are not cached: fresh copies with one changed pixel); median of ``--runs``;
* cold: nothing cached at all, the first run after install, in an empty ``$PAINTER_CACHE``: it
  answers with Keras and leaves the exports of both backbones and the model's embedder to a
  background process, whose run is timed too (the warm runs start once it is done).

One more warm run, untimed, under ``python -X importtime`` tells whether such a run imports
TensorFlow. Uses the packaged default model (``$PAINTER_MODEL`` unset) and two pbn_dev test paintings.

    python benchmarks/cli_latency.py [--runs 5] [--data runs/pbn_clean] [--write]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import results_tables
from shared_data import clean_pbn_dev, pbn_dev_arguments, write_results
from painter.runtime import wait_for_exports

args = pbn_dev_arguments("cli-latency", runs=5)
data = clean_pbn_dev(args.data)
originals = sorted((data / "test").glob("*.jpg"))[:2]
work = Path(tempfile.mkdtemp(prefix="cli_latency_"))


def fresh_pair(k):
    """Copies of the two paintings with one pixel changed: new content, so no cached features."""
    out = []
    for n, src in enumerate(originals):
        a = np.asarray(Image.open(src).convert("RGB")).copy()
        a[0, 0] = (k * 7 + n) % 256
        path = work / f"run{k}_{n}.png"
        Image.fromarray(a).save(path)
        out.append(str(path))
    return out


def run(env, k, *python_options):
    t = time.time()
    r = subprocess.run([sys.executable, *python_options, "-m", "painter", "predict-pair", *fresh_pair(k)], env=env,
                       cwd=work, capture_output=True, text=True)
    wall = time.time() - t
    if r.returncode:
        sys.exit(r.stderr)
    return wall, r.stdout.strip(), r.stderr.strip()


# the painter of this checkout, also when PYTHONPATH is relative (the runs' working folder is `work`)
root = str(Path(__file__).resolve().parents[1])
env = {**{k: v for k, v in os.environ.items() if k != "PAINTER_MODEL"}, "PAINTER_CACHE": str(work / "cache"),
       "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
cold, out, err = run(env, 0)
print(f"cold (empty cache, first run after install): {cold:.1f} s -> {out}" + (f" | stderr: {err}" if err else ""))
os.environ["PAINTER_CACHE"] = env["PAINTER_CACHE"]
t = time.time()
if not wait_for_exports(timeout=600):
    sys.exit("the background export still runs after 10 minutes; see background.log in the cache")
export_after = time.time() - t
print(f"background export (both backbones and the embedder) done {export_after:.1f} s after the cold answer")
warm = [run(env, k) for k in range(1, args.runs + 1)]
print(f"warm (exports cached, new paintings): median {statistics.median(w for w, _, _ in warm):.2f} s over "
      f"{args.runs} runs ({', '.join(f'{w:.2f}' for w, _, _ in warm)}); stderr lines: "
      f"{sum(len(e.splitlines()) for _, _, e in warm)}")
# -X importtime writes a line per imported module to stderr, "... | tensorflow" among them if it is imported
imports = run(env, args.runs + 1, "-X", "importtime")[2]
tensorflow = any(line.rsplit("|", 1)[-1].strip() == "tensorflow" for line in imports.splitlines())
text = results_tables.cli_latency([w for w, _, _ in warm], tensorflow, cold, export_after)
print(text)
if args.write:
    write_results("cli-latency", text)
