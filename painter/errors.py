"""The errors a user's own files cause. Each message is one line: the file, what is wrong
with it and, where there is one, what to do."""
from __future__ import annotations

from pathlib import Path

__all__ = ["InputError", "read_part"]


class InputError(ValueError):
    """A file or folder given to painter that cannot be used; the message names it."""


def read_part(path: Path, read, error=InputError, folder_kind="folder", hint=""):
    """``read(path)``, or ``error`` naming ``path`` when it is missing or cannot be read.

    ``read`` is whatever library reads the file (Keras, FAISS, numpy, pandas); they raise many
    exception types for a damaged file, all of which mean the same here.
    """
    path = Path(path)
    hint = f"; {hint}" if hint else ""
    if not path.is_file():
        raise error(f"{path}: missing from the {folder_kind}{hint}")
    try:
        return read(path)
    except Exception as e:  # noqa: BLE001 - see the docstring
        reason = str(e).splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise error(f"{path}: damaged or not the expected file ({reason}){hint}") from None
