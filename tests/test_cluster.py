"""Embedding on a Dask LocalCluster of two single-thread worker processes, as CI's two cores allow."""
import os
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from painter.features import FeatureSpec, cluster, extract_features   # noqa: E402
from painter.cache import content_key   # noqa: E402
from painter.errors import InputError   # noqa: E402
from tests.conftest import noise_paintings   # noqa: E402

SPEC = FeatureSpec("efficientnet_lite0", 64)
TASK = 3   # images per task: 7 readable images make 3 tasks, 3 shards


@pytest.fixture(scope="module")
def client(_cache):
    # the workers inherit the test run's PAINTER_CACHE: its exports are theirs
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as lc, distributed.Client(lc) as c:
        yield c


@pytest.fixture
def paintings(tmp_path):
    """Seven small paintings, then a file that is not an image and one that does not exist."""
    return noise_paintings(tmp_path, 8, seed=3, bad=(7,)) + [str(tmp_path / "missing.jpg")]


def _fresh_cache(tmp_path, monkeypatch, name, session_cache):
    """An empty feature store that shares the test run's exports (the workers' runners)."""
    root = tmp_path / name
    root.mkdir()
    (session_cache / "exports").mkdir(parents=True, exist_ok=True)
    (root / "exports").symlink_to(session_cache / "exports")
    monkeypatch.setenv("PAINTER_CACHE", str(root))
    return root


def _check_failed(failed, local_failed, paths):
    """Both bad files named, each with the reason the single-machine path gives."""
    assert failed == local_failed and set(failed) == {paths[7], paths[8]}
    assert failed[paths[8]] == "file not found"


def _shards(root):
    """The store folder's keys of every shard, and its file names."""
    [store_dir] = (root / "features").iterdir()
    keys = [k for f in sorted(store_dir.glob("shard_*.keys.npy")) for k in np.load(f).tolist()]
    return store_dir, keys, sorted(f.name for f in store_dir.iterdir())


@pytest.fixture
def local(paintings, tmp_path, monkeypatch, _cache):
    """The single-machine path's features and failures, in a store of their own."""
    _fresh_cache(tmp_path, monkeypatch, "local", _cache)
    return extract_features(paintings, SPEC, progress=False)


def test_cluster_features_equal_the_local_ones_and_a_rerun_computes_nothing(client, paintings, local, tmp_path,
                                                                           monkeypatch, _cache):
    root = _fresh_cache(tmp_path, monkeypatch, "cluster", _cache)
    monkeypatch.setattr(cluster, "TASK_IMAGES", TASK)
    features, failed = extract_features(paintings, SPEC, progress=False, client=client)
    np.testing.assert_array_equal(features, local[0])   # row for row, NaN rows included
    assert not np.isnan(features[:7]).any()
    _check_failed(failed, local[1], paintings)
    store_dir, keys, names = _shards(root)
    assert len(keys) == len(set(keys)) == 7 and len(names) == 2 * 3   # 3 shards, none partial

    with distributed.get_task_stream(client) as stream:
        again, failed_again = extract_features(paintings[:7], SPEC, progress=False, client=client)
    assert stream.data == []   # no task at all, not even the runtime's probe
    np.testing.assert_array_equal(again, local[0][:7])
    assert failed_again == {} and _shards(root)[2] == names


def test_a_rerun_embeds_only_what_the_store_lacks(client, paintings, local, tmp_path, monkeypatch, _cache):
    root = _fresh_cache(tmp_path, monkeypatch, "cluster", _cache)
    monkeypatch.setattr(cluster, "TASK_IMAGES", TASK)
    extract_features(paintings[:4], SPEC, progress=False, client=client)   # 2 tasks: 3 + 1 paintings
    with distributed.get_task_stream(client) as stream:
        features, failed = extract_features(paintings, SPEC, progress=False, client=client)
    np.testing.assert_array_equal(features, local[0])
    _check_failed(failed, local[1], paintings)
    # paintings 4-6, then the file that is not an image (a task without a shard)
    assert sum(str(t["key"]).startswith("painter-embed-") for t in stream.data) == 2
    _, keys, names = _shards(root)
    assert sorted(keys) == sorted(content_key(p) for p in paintings[:7]) and len(names) == 2 * 3


class _DieAfterFirstShard(distributed.WorkerPlugin):
    """Kills its worker process the moment the first embedding task has written its shard, before
    the scheduler hears of it: the task is run again elsewhere and must not write it twice."""

    def __init__(self, marker):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "memory" and str(key).startswith("painter-embed-") and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(key))   # once: the worker restarted gets this plugin too
            os._exit(1)


def test_a_killed_worker_loses_nothing_and_writes_nothing_twice(client, paintings, local, tmp_path, monkeypatch,
                                                                 _cache):
    root = _fresh_cache(tmp_path, monkeypatch, "cluster", _cache)
    monkeypatch.setattr(cluster, "TASK_IMAGES", TASK)
    marker = tmp_path / "killed"
    client.register_plugin(_DieAfterFirstShard(str(marker)), name="die")
    try:
        features, failed = extract_features(paintings, SPEC, progress=False, client=client)
    finally:
        client.unregister_worker_plugin("die")
    assert marker.exists()   # a worker did die mid-run
    np.testing.assert_array_equal(features, local[0])
    _check_failed(failed, local[1], paintings)
    store_dir, keys, names = _shards(root)
    assert sorted(keys) == sorted(content_key(p) for p in paintings[:7])   # each painting once
    assert len(names) == 2 * 3 and not [n for n in names if "part" in n]
    # the dead worker's shard, found by the task run again, was not written again after its death
    shard = store_dir / (marker.read_text().removeprefix("painter-embed-") + ".keys.npy")
    assert shard.stat().st_mtime_ns <= marker.stat().st_mtime_ns
    client.wait_for_workers(2)


def test_the_scheduler_is_read_from_the_environment(client, paintings, local, tmp_path, monkeypatch, _cache):
    _fresh_cache(tmp_path, monkeypatch, "env", _cache)
    monkeypatch.setattr(cluster, "TASK_IMAGES", TASK)
    monkeypatch.setenv(cluster.SCHEDULER_ENV, client.scheduler.address)
    try:
        with distributed.get_task_stream(client) as stream:
            features, _ = extract_features(paintings, SPEC, progress=False)
    finally:
        cluster._clients.pop(client.scheduler.address).close()
    np.testing.assert_array_equal(features, local[0])
    assert sum(str(t["key"]).startswith("painter-embed-") for t in stream.data) == 3


def test_an_unanswered_address_is_one_line_naming_it(paintings, monkeypatch):
    monkeypatch.setenv(cluster.SCHEDULER_ENV, "tcp://127.0.0.1:9")
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match=r"^tcp://127.0.0.1:9: no Dask scheduler answers there"):
        extract_features(paintings, SPEC, progress=False)


def test_painter_index_on_the_cluster(client, clean_dir, tmp_path, monkeypatch, capsys, _cache):
    from painter.cli import main
    from painter.search import SimilarityIndex
    _fresh_cache(tmp_path, monkeypatch, "cli", _cache)
    monkeypatch.delenv(cluster.SCHEDULER_ENV, raising=False)
    address = client.scheduler.address
    argv = ["--cluster", address, "index", str(clean_dir), "--out", str(tmp_path / "idx"), "--index-type", "ivfsq",
            "--backbone", "efficientnet_lite0", "--image-size", "64"]
    try:
        with distributed.get_task_stream(client) as stream:
            assert main(argv) == 0
    finally:
        cluster._clients.pop(address).close()
        os.environ.pop(cluster.SCHEDULER_ENV)   # --cluster set it for the command's process
    assert f"Dask dashboard: {client.dashboard_link}" in capsys.readouterr().err
    # 80 paintings: the 78 of the training sample in 1 task, the 2 left in another
    assert sum(str(t["key"]).startswith("painter-embed-") for t in stream.data) == 2
    index = SimilarityIndex.load(tmp_path / "idx")
    assert index.index.ntotal == len(index.metadata) == 80


def test_an_unanswered_cluster_address_is_one_line(monkeypatch, capsys):
    from painter.cli import main
    monkeypatch.delenv(cluster.SCHEDULER_ENV, raising=False)
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    try:
        assert main(["--cluster", "tcp://127.0.0.1:9", "score", "a.csv", "b.csv"]) == 1
    finally:
        os.environ.pop(cluster.SCHEDULER_ENV)
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("painter score: error: tcp://127.0.0.1:9: no Dask scheduler answers there "
                    "(Timed out trying to connect to tcp://127.0.0.1:9 after 1 s)")


def test_views_on_the_cluster_equal_the_local_ones(client, tmp_path, monkeypatch, _cache):
    from PIL import Image
    rng = np.random.default_rng(5)
    paths = []
    for k, side in enumerate((200, 160, 64)):   # two paintings with tiles, a thumbnail without
        paths.append(str(tmp_path / f"p{k}.png"))
        Image.fromarray(rng.integers(0, 256, (side, side + 20, 3), dtype=np.uint8)).save(paths[-1])
    paths.append(str(tmp_path / "missing.jpg"))
    spec = FeatureSpec("efficientnet_lite0", 64, views=(1,))
    _fresh_cache(tmp_path, monkeypatch, "local_views", _cache)
    local, local_failed = extract_features(paths, spec, progress=False)
    _fresh_cache(tmp_path, monkeypatch, "cluster_views", _cache)
    features, failed = extract_features(paths, spec, progress=False, client=client)
    np.testing.assert_allclose(features, local, rtol=1e-6, atol=1e-6)
    assert failed == local_failed == {paths[3]: "file not found"} and not np.isnan(features[:3]).any()
    stores = sorted(d.name for d in (tmp_path / "cluster_views" / "features").iterdir())
    assert len(stores) == 2   # the views' store (two paintings) and the whole paintings' (the thumbnail)
    shards = [f.name for d in (tmp_path / "cluster_views" / "features").iterdir() for f in d.glob("*.keys.npy")]
    assert len(shards) == 2 and all(name.startswith("shard_c") for name in shards)   # both written by workers


def test_workers_write_into_a_store_at_a_url(client, paintings, local, tmp_path, monkeypatch, _cache):
    """$PAINTER_FEATURE_STORE as an fsspec URL: the workers write their shards there, the driver reads them."""
    _fresh_cache(tmp_path, monkeypatch, "cluster_url", _cache)
    monkeypatch.setenv("PAINTER_FEATURE_STORE", f"file://{tmp_path}/shared-store")
    monkeypatch.setattr(cluster, "TASK_IMAGES", TASK)
    features, failed = extract_features(paintings, SPEC, progress=False, client=client)
    np.testing.assert_array_equal(features, local[0])
    _check_failed(failed, local[1], paintings)
    [store_dir] = (tmp_path / "shared-store").iterdir()
    shards = sorted(f.name for f in store_dir.glob("shard_*.keys.npy"))
    assert len(shards) == 3 and all(name.startswith("shard_c") for name in shards)   # one per task, by the workers
    assert not (tmp_path / "cluster_url" / "features").exists()   # nothing in the local cache


def test_the_workers_read_the_files_to_hash_them(client, paintings, local, tmp_path, monkeypatch, _cache):
    """The driver reads no painting's bytes: its own hashing is switched off here, the workers' is not."""
    import painter.cache
    _fresh_cache(tmp_path, monkeypatch, "cluster_hash", _cache)
    monkeypatch.setattr(painter.cache, "_KEYS", {})   # nothing remembered from the local run

    def no_reading(path, algorithm="sha1"):
        raise AssertionError(f"the driver read {path}")
    monkeypatch.setattr(painter.cache, "file_digest", no_reading)
    features, failed = extract_features(paintings, SPEC, progress=False, client=client)
    np.testing.assert_array_equal(features, local[0])
    _check_failed(failed, local[1], paintings)
    import hashlib
    # the workers' keys are remembered here: asking again reads nothing and gives the file's SHA-1
    assert painter.cache.content_key(paintings[0]) == hashlib.sha1(Path(paintings[0]).read_bytes()).hexdigest()
