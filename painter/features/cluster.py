"""Embedding over a Dask cluster: the workers embed batches of paintings and write their shards
into the feature store; the caller's process only reads them.

Given a ``dask.distributed.Client`` (or ``$PAINTER_DASK_SCHEDULER``, a scheduler's address, which
``painter --cluster ADDRESS`` sets), ``extract_features`` sends the images its store lacks to the
workers in tasks of ``TASK_IMAGES``. Each task writes one shard named by the content of its
images, after checking that no finished shard has that name: when a worker dies, Dask runs its
tasks again elsewhere, and a task whose shard was written before the death writes nothing twice.
A shard is written under a temporary name and renamed (``store.write_shard``): a worker killed
mid-write leaves no partial shard. A rerun embeds only what the store lacks.

The store must be the same for every worker: a folder at the same path on a shared file system,
or an object store's URL in ``$PAINTER_FEATURE_STORE`` (``features.store``); the workers need
painter and the same ``PAINTER_RUNTIME``. Dask is imported only here, on demand:
without the ``cluster`` extra painter runs on one machine as before.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading

import numpy as np
from tqdm.auto import tqdm

from ..cache import content_keys, key_record, remember_key, remembered_key
from ..data.images import ImageError, load_array
from ..errors import InputError, first_line
from .inference import predict_features
from .store import FeatureStore, shard_keys, write_shard

__all__ = ["SCHEDULER_ENV", "TASK_IMAGES", "HASH_TASK_FILES", "cluster_client", "embed_on_cluster",
           "hash_on_cluster"]

SCHEDULER_ENV = "PAINTER_DASK_SCHEDULER"
# images per task, and so per shard: 512 keep a task near 10 s on a core (Lite0 + Lite1 style
# features), long beside Dask's overhead per task, and a million paintings in 2,000 shards
TASK_IMAGES = 512
# files per hashing task at most: reading 4,096 paintings (250 MB of the real competition's) is seconds
HASH_TASK_FILES = 4096
CONNECT_TIMEOUT = "30s"   # a scheduler starting on a busy cluster's head node answers within this
log = logging.getLogger(__name__)
_clients = {}   # address -> Client, one connection per scheduler and process
_forward_lock = threading.Lock()   # a worker's runner serves one batch at a time (not thread-safe)


def cluster_client(client=None):
    """``client``, else a Client connected to ``$PAINTER_DASK_SCHEDULER`` (once per process), else
    None: embed on this machine."""
    if client is not None:
        return client
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address:
        return None
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError(f"{SCHEDULER_ENV}={address}: dask.distributed is not installed; "
                         "pip install 'painter[cluster]', or unset it to embed on this machine") from None
    if address not in _clients:
        try:
            _clients[address] = Client(address, timeout=CONNECT_TIMEOUT)
        except OSError as e:
            raise InputError(f"{address}: no Dask scheduler answers there ({first_line(e)})") from None
        log.info("Dask dashboard: %s", _clients[address].dashboard_link)
    return _clients[address]


def embed_on_cluster(client, spec, paths, digests, failed, batch_size=32, progress=True) -> FeatureStore:
    """Embed on ``client``'s workers the images of ``paths`` that the store of ``spec`` lacks.

    Parameters
    ----------
    client : dask.distributed.Client
    spec : FeatureSpec of one backbone (with views: the paintings that have tiles)
    paths : list of str, length N
    digests : dict ``{path: content hash}`` of the readable paths (``cache.content_keys``)
    failed : dict ``{path: reason}``, completed in place with the images no worker could read

    Returns
    -------
    FeatureStore
        The store of ``spec``'s features under the runtime the workers run (the caller's
        ``PAINTER_RUNTIME``), read after they finished: a vector for every readable path.
    """
    from ..runtime.runners import chosen_runtime
    from .serving import feature_store, serving_runtime
    from .store import missing_rows

    store = feature_store(spec, serving_runtime(spec))   # the store foreseen here
    if not missing_rows(paths, digests, store):
        return store   # no worker asked
    # the runtime the workers have, in one of them: it exports the model once, when missing
    runtime = client.submit(_worker_runtime, spec, chosen_runtime(), pure=False).result()
    store = feature_store(spec, runtime)
    todo = missing_rows(paths, digests, store)
    if not todo:
        return store
    tasks = [todo[i:i + TASK_IMAGES] for i in range(0, len(todo), TASK_IMAGES)]
    log.info("embedding %d images in %d tasks; Dask dashboard: %s", len(todo), len(tasks), client.dashboard_link)
    futures = []
    for chunk in tasks:
        keys = [digests[p] for p in chunk]
        stem = shard_stem(spec, runtime, keys)
        futures.append(client.submit(_embed_task, spec, runtime, chunk, keys, store.url, stem, batch_size,
                                     key=f"painter-embed-{stem}"))
    from dask.distributed import as_completed
    sizes = {f.key: len(chunk) for f, chunk in zip(futures, tasks)}
    with tqdm(total=len(todo), desc=f"embed {spec.backbone} on the cluster", unit="img",
              disable=not progress) as bar:
        try:
            for future in as_completed(futures):
                failed.update(future.result())   # a task's error is raised here
                bar.update(sizes[future.key])
        finally:
            client.cancel(futures)   # on an error, the tasks not yet run; finished shards stay
    return FeatureStore(store.name, store.root)


def hash_on_cluster(client, paths, progress=True):
    """``cache.content_keys`` of ``paths`` with the files read by ``client``'s workers (the
    driver would read every byte of a million paintings itself); keys this process remembers for
    unchanged files are not asked again, and those computed are remembered."""
    from dask.distributed import as_completed
    digests, failed, todo = {}, {}, []
    for p in dict.fromkeys(paths):
        try:
            key = remembered_key(p)
        except OSError:
            key = None   # missing or unreadable: the worker says why
        if key is None:
            todo.append(p)
        else:
            digests[p] = key
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    per_task = max(1, min(HASH_TASK_FILES, -(-len(todo) // workers)))   # every worker has a share
    tasks = [todo[i:i + per_task] for i in range(0, len(todo), per_task)]
    futures = client.map(_hash_task, tasks, pure=False)
    with tqdm(total=len(todo), desc="hash on the cluster", unit="img", disable=not progress or len(todo) < 2000) as bar:
        for future in as_completed(futures):
            records, bad = future.result()
            for p, record in records.items():
                remember_key(p, *record)
                digests[p] = record[2]
            failed.update(bad)
            bar.update(len(records) + len(bad))
    return digests, failed


def _hash_task(paths):
    """On a worker: ``({path: (size, mtime_ns, content key)}, {path: reason})``."""
    digests, failed = content_keys(paths, True, False)
    return {p: key_record(p) for p in digests}, failed   # the records content_keys just made


def shard_stem(spec, runtime, keys) -> str:
    """The name of the shard of the images ``keys`` (content hashes): the same for the same task."""
    text = "\n".join([spec.key, runtime, *keys])
    return "shard_c" + hashlib.sha1(text.encode()).hexdigest()[:24]


def _worker_runtime(spec, runtime) -> str:
    """On a worker: the runtime its runner of ``spec`` has (its export made once, if missing)."""
    return getattr(_worker_model(spec, runtime), "runtime", "keras")


_worker_runners = {}   # (spec, key, runtime) -> this worker's runner


def _worker_model(spec, runtime):
    from ..runtime.backends import ExportedModel
    from .serving import feature_runner

    key = (spec, spec.key, runtime)
    if key not in _worker_runners:
        with _forward_lock:
            if key not in _worker_runners:
                ExportedModel.threads = _worker_threads()
                _worker_runners[key] = feature_runner(spec, runtime)
    return _worker_runners[key]


def _worker_threads() -> int:
    """The threads this Dask worker was given (all cores outside a worker)."""
    try:
        from dask.distributed import get_worker
        return get_worker().state.nthreads
    except (ImportError, ValueError):
        return os.cpu_count() or 1


def _embed_task(spec, runtime, paths, keys, store_dir, stem, batch_size) -> dict:
    """On a worker: embed ``paths`` (content hashes ``keys``) and write their shard ``stem`` into
    ``store_dir``, unless a finished one is there (the task ran before, on a worker that died
    before answering). Returns ``{path: reason}`` of the images that cannot be read."""
    written = shard_keys(store_dir, stem)
    if written is not None:   # only the unreadable images are left: their reasons, without the model
        written = set(written.tolist())
        return {p: _unreadable(p, spec.image_size) for p, k in zip(paths, keys) if k not in written}
    model = _worker_model(spec, runtime)
    if getattr(model, "runtime", "keras") != runtime:
        raise RuntimeError(f"{_worker_name()}: runs {spec.key} with {getattr(model, 'runtime', 'keras')}, "
                           f"not {runtime} as the other workers (is its runtime installed?)")
    failed, parts = {}, []
    with _forward_lock:
        for chunk, out, bad in predict_features(model, paths, spec, batch_size):
            failed.update(bad)
            parts.append(np.asarray(out, np.float32))
    good = np.array([p not in failed for p in paths])
    if good.any():
        write_shard(store_dir, stem, np.array(keys)[good], np.concatenate(parts)[good])
    return failed


def _unreadable(path, size) -> str:
    try:
        load_array(path, size)
    except ImageError as e:
        return e.reason
    return "not embedded"   # readable now: the file changed since it was hashed


def _worker_name() -> str:
    try:
        from dask.distributed import get_worker
        return f"worker {get_worker().address}"
    except (ImportError, ValueError):
        return "this process"
