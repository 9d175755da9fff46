"""Paintings/s embedding the default features on a Dask LocalCluster of 1 and of 2 single-thread
worker processes, decode and hashing included, beside this process alone (``extract_features``
without a cluster, every core).

Each timed run embeds ``--n`` real pbn_dev paintings into an empty feature store (the exports
shared); the workers first embed ``--warm`` other paintings, so that their runners are loaded.

    python benchmarks/cluster_throughput.py [--n 1000] [--workers 1,2] [--task 64] [--data runs/pbn_clean]
                                            [--write]
    python benchmarks/cluster_throughput.py --quick    # 24 synthetic paintings, 64 px Lite0: proves that it runs
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from dask.distributed import Client, LocalCluster
from PIL import Image

import results_tables
from shared_data import RUNS, clean_pbn_dev, write_results
from painter.cache import cache_dir
from painter.features import DEFAULT_FEATURES, FeatureSpec, cluster, extract_features


def empty_store(tmp, exports, name):
    """An empty feature store for this process (the workers are told its folder), the exports shared."""
    root = tmp / name
    root.mkdir()
    (root / "exports").symlink_to(exports)
    os.environ["PAINTER_CACHE"] = str(root)


def timed_run(tmp, exports, name, paths, spec, client=None):
    """Paintings/s of ``extract_features(paths)`` into an empty store, and its failures."""
    empty_store(tmp, exports, name)
    t = time.time()
    _, failed = extract_features(paths, spec, progress=False, client=client)
    return len(paths) / (time.time() - t), failed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--warm", type=int, default=64, help="paintings each cluster embeds before the timed run")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--task", type=int, default=64, help="paintings per task (painter's default: 512)")
    p.add_argument("--data", default=str(RUNS / "pbn_clean"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--write", action="store_true",
                   help="write the table into RESULTS.md (its 'cluster-throughput' section)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cluster_throughput-"))   # its stores: 250 MB for 1,000 paintings
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp):
    exports = cache_dir() / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.n, args.warm, args.task, spec = 24, 8, 4, FeatureSpec("efficientnet_lite0", 64)
        what = "synthetic, Lite0 at 64 px"
        rng = np.random.default_rng(0)
        paths = []
        for k in range(args.n + args.warm):
            paths.append(tmp / f"{k}.jpg")
            Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(paths[-1])
    else:
        spec, what = DEFAULT_FEATURES, "pbn_dev, the default features"
        paths = sorted((clean_pbn_dev(args.data) / "train").glob("*.jpg"))[: args.n + args.warm]
    timed, warm = paths[:args.n], paths[args.n:]

    rates = {}
    empty_store(tmp, exports, "local-warm")
    extract_features(warm, spec, progress=False)   # this process's runners loaded
    rates["this process"], failed = timed_run(tmp, exports, "local", timed, spec)
    for n in [int(w) for w in args.workers.split(",")]:
        os.environ["PAINTER_CACHE"] = str(exports.parent)   # the workers' cache, where the exports are
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as lc, Client(lc) as client:
            empty_store(tmp, exports, f"warm-{n}")
            cluster.TASK_IMAGES = max(1, args.warm // (4 * n))   # small tasks: every worker loads its runners
            extract_features(warm, spec, progress=False, client=client)
            cluster.TASK_IMAGES = args.task
            rates[f"{n} worker{'s' * (n > 1)}"], _ = timed_run(tmp, exports, f"cluster-{n}", timed, spec, client)
    print(f"{spec.key}{'' if not failed else f'; {len(failed)} unreadable'}")
    text = results_tables.cluster_throughput(len(timed), what, args.task, os.cpu_count(), rates)
    print(text)
    if args.write:
        write_results("cluster-throughput", text)


if __name__ == "__main__":   # the workers are processes started anew: they import this file
    main()
