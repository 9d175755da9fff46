"""Where painter keeps converted weights and cached features, and file content digests."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import InputError

__all__ = ["cache_dir", "file_digest"]


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
    """Hex digest of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
