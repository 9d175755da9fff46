"""Where painter keeps converted weights and cached features, and file content digests."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import InputError

__all__ = ["cache_dir", "file_digest", "content_key", "remembered_key", "remember_key"]


def cache_dir() -> Path:
    """Folder for converted weights and embeddings: ``$PAINTER_CACHE`` or ``~/.cache/painter``."""
    path = Path(os.environ.get("PAINTER_CACHE", Path.home() / ".cache" / "painter"))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{path}: cannot be painter's cache folder ({e.strerror}); set $PAINTER_CACHE to a "
                         "writable folder") from None
    return path


def file_digest(path, algorithm: str = "sha1") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks (always read: integrity checks use it)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_KEYS = {}   # path -> (size, mtime_ns, SHA-1), the oldest dropped past _KEYS_MAX
_KEYS_MAX = 250_000   # twice the real competition's paintings: 40 MB at most


def content_key(path) -> str:
    """SHA-1 of a file's bytes, the key of its cached features; remembered for the process by path,
    size and modification time (training on several sources hashes every painting to find the
    duplicates, then the feature store would hash it again)."""
    st = os.stat(path)
    size, mtime, key = _KEYS.get(os.fspath(path), (None, None, None))
    if (size, mtime) != (st.st_size, st.st_mtime_ns):
        key = file_digest(path)
        _KEYS[os.fspath(path)] = (st.st_size, st.st_mtime_ns, key)
        if len(_KEYS) > _KEYS_MAX:
            del _KEYS[next(iter(_KEYS))]
    return key


def remembered_key(path) -> str | None:
    """``content_key(path)`` if this process remembers it for the file as it is now, else None
    (nothing read but the file's size and modification time)."""
    st = os.stat(path)
    size, mtime, key = _KEYS.get(os.fspath(path), (None, None, None))
    return key if (size, mtime) == (st.st_size, st.st_mtime_ns) else None


def remember_key(path, size: int, mtime_ns: int, key: str):
    """Remember a content key computed elsewhere (a cluster's worker) for the file at that size and time."""
    _KEYS[os.fspath(path)] = (size, mtime_ns, key)
    if len(_KEYS) > _KEYS_MAX:
        del _KEYS[next(iter(_KEYS))]
