"""Native libraries' start-up lines kept out of painter's stderr.

TensorFlow's C++ side logs a few lines while loading ("oneDNN custom operations are on") that
TF_CPP_MIN_LOG_LEVEL no longer holds back (TensorFlow 2.21), and LiteRT announces its XNNPACK
delegate; stderr is for painter's own progress and error lines. Both write to file descriptor 2
directly, so Python's ``sys.stderr`` cannot catch them: the descriptor is pointed at /dev/null
for the moment they load. A failure still raises its Python exception, shown once stderr is back.
"""
from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["native_stderr_silenced", "import_tensorflow_quietly"]


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 goes to /dev/null inside the block (Python's own stderr is flushed first)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly():
    """Import TensorFlow (and Keras) once, without its C++ start-up lines on stderr."""
    if "tensorflow" in sys.modules:
        return
    with native_stderr_silenced():
        import keras  # noqa: F401  (imports TensorFlow, its backend)
