"""Exports deferred to a detached background process.

Exporting the default feature models takes 20-25 s, answering once with Keras a few seconds:
inside ``deferred_exports()`` (painter's one-shot commands) a missing export is not made but left
to a detached process, so that the next call, or this process's next embedding once the export
is finished, finds it.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from ..cache import cache_dir
from .export import one_line

try:
    import fcntl
except ImportError:   # Windows: no lock to hand over, so exports are made in-process, as by long jobs
    fcntl = None

__all__ = ["deferred_exports", "deferring", "defer", "export_in_background", "wait_for_exports", "LOCK", "LOG"]

LOCK, LOG = ".background.lock", "background.log"   # in <cache>/exports
# The exporter process's module: the feature side knows how to build each job's model (a name,
# not an import, so that this package stays a leaf).
EXPORTER = "painter.features.serving"

_deferred: list | None = None   # inside deferred_exports(): the exports skipped, as jobs for EXPORTER


def deferring() -> bool:
    """Whether a missing export is to be left to the background process (inside ``deferred_exports()``)."""
    return _deferred is not None


def defer(job: dict):
    """Queue ``job`` (``{"spec": ... | "keras_file": ..., "runtime": ...}``) for the background process."""
    _deferred.append(job)


@contextlib.contextmanager
def deferred_exports():
    """Inside the block a missing export is not made: the Keras model answers (it is built to
    export anyway), and on leaving the block the skipped exports are started in a detached
    process (``export_in_background``). For one-shot commands, which a 20 s export would make
    wait; long jobs export in-process, where the export pays off at once. Its features go to the
    Keras feature store, as every Keras model's (``painter.features.serving.serving_runtime``)."""
    global _deferred
    if _deferred is not None or fcntl is None:   # already deferring, or Windows
        yield
        return
    _deferred = []
    try:
        yield
    finally:
        jobs, _deferred = _deferred, None
    if jobs:   # only after a command that answered: a failed one leaves the cache as it was
        try:
            export_in_background(jobs)
        except OSError as e:   # the answer is given; the next call exports in-process instead
            warnings.warn(f"could not start the background export ({one_line(e)}); the next run will export",
                          RuntimeWarning, stacklevel=3)


def export_in_background(jobs) -> bool:
    """Start ``python -m EXPORTER JOBS`` detached, its output in
    ``<cache>/exports/background.log``, unless another one is running; returns whether it started.

    One exporter at a time: it holds ``<cache>/exports/.background.lock``, taken here and handed
    to it, so that ``wait_for_exports()`` sees it from the moment this returns; the lock goes
    with the process, however it ends.
    """
    folder = cache_dir() / "exports"
    folder.mkdir(exist_ok=True)
    lock = _try_lock(folder / LOCK)
    if lock is None:
        return False
    root = str(Path(__file__).resolve().parents[2])   # this painter, whatever the child's sys.path
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    try:
        with open(folder / LOG, "w") as log:
            subprocess.Popen([sys.executable, "-m", EXPORTER, json.dumps(jobs)], env=env,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, pass_fds=(lock,),
                             start_new_session=True)
    finally:
        os.close(lock)
    return True


def wait_for_exports(timeout: float = 600.0) -> bool:
    """Wait until no background export runs; False if one still runs after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while (lock := _try_lock(cache_dir() / "exports" / LOCK)) is None:
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    os.close(lock)
    return True


def _try_lock(path: Path):
    """A descriptor of ``path`` holding its exclusive lock, or None when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd

