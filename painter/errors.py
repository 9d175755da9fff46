"""The errors a user's own files and arguments cause. Each message is one line: the file, what
is wrong with it and, where there is one, what to do. ``painter.cli`` prints them as they are
(exit code 1); any other exception is a bug and keeps its traceback.

The rule every reader of a user's file follows: raise ``InputError`` (or a subclass) whose
message starts with the path, or ``painter.data.images.ImageError`` for an image; a setting that
cannot be used raises ``ParameterError``. Each is a ``ValueError``, but a plain ``ValueError`` is
not a user's mistake.
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["InputError", "MissingInputError", "ParameterError", "BackboneError", "first_line", "describe", "read_part",
           "read_json_part", "folder_kind", "what_folder", "check_folder", "check_out_folder", "check_out_file",
           "no_usable_images"]


class InputError(ValueError):
    """A file or folder given to painter that cannot be used; the message names it."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or folder given to painter that does not exist (also a ``FileNotFoundError``)."""


class ParameterError(ValueError):
    """A setting given to painter that it cannot use: a hyperparameter out of range, an unknown
    method, runtime or option value. The message names the setting."""


class BackboneError(RuntimeError):
    """A backbone that cannot be built as asked (unknown name, weights unavailable)."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (libraries' messages can run to pages), or its type."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def describe(e: BaseException) -> str:
    """One line for the user: ``<path>: <what is wrong>`` for an OS error on a file, else the
    first line of the message (painter's own errors start with the path already)."""
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return first_line(e)


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""


def read_part(path: Path, read, error=InputError, folder_kind="folder", hint=""):
    """``read(path)``, or ``error`` naming ``path`` when it is missing or cannot be read.

    ``read`` is whatever library reads the file (Keras, FAISS, numpy, pandas); they raise many
    exception types for a damaged file, all of which mean the same here.
    """
    path, hint = Path(path), _hint(hint)
    if not path.is_file():
        raise error(f"{path}: missing from the {folder_kind}{hint}")
    try:
        return read(path)
    except Exception as e:  # noqa: BLE001 - see the docstring
        raise error(f"{path}: damaged or not the expected file ({first_line(e)[:200]}){hint}") from None


def read_json_part(path: Path, keys, error=InputError, folder_kind="folder", hint="") -> dict:
    """The JSON object in ``path``, a part of one of painter's folders, that holds ``keys``."""
    config = read_part(path, lambda p: json.loads(p.read_text()), error, folder_kind, hint)
    missing = [k for k in keys if not isinstance(config, dict) or k not in config]
    if missing:
        raise error(f"{path}: not a painter {folder_kind} file (no {', '.join(missing)}){_hint(hint)}")
    return config


# The folders painter reads: the files that mark those painter writes, and what each one is.
_FOLDERS = {
    "same-artist model": (("embedder.keras",), "is made by `painter train DATA --out DIR`"),
    "search index": (("index.faiss",), "is made by `painter index DATA --out DIR`"),
    "classifier": (("classes.json", "classifier.keras"), "is made by `painter classify train DATA --out DIR`"),
    "data": ((), "is `painter clean`'s output, or holds one folder of images per artist"),
    "Kaggle": ((), "holds Kaggle's all_data_info.csv and train/test zips"),
}


def folder_kind(directory: Path):
    """Which of painter's output folders ``directory`` is (``"search index"``...), or None."""
    return next((kind for kind, (marks, _) in _FOLDERS.items() if any((Path(directory) / m).exists() for m in marks)),
                None)


def what_folder(kind: str) -> str:
    """What a ``kind`` folder is, for a message: "a search index folder is made by ..."."""
    return f"a {kind} folder {_FOLDERS[kind][1]}"


def check_folder(directory, kind: str, error=InputError) -> Path:
    """``directory`` as a Path, or ``error`` when it is missing, not a folder, or another kind of
    painter folder than ``kind`` (a key of ``_FOLDERS``)."""
    directory = Path(directory)
    if not directory.exists():
        # a missing path stays a FileNotFoundError for callers that catch that
        raise (MissingInputError if error is InputError else error)(f"{directory}: {kind} folder not found")
    if not directory.is_dir():
        raise error(f"{directory}: not a folder; {what_folder(kind)}")
    found = folder_kind(directory)
    if found not in (None, kind):
        raise error(f"{directory}: a {found} folder, not a {kind} folder; {what_folder(kind)}")
    return directory


def check_out_folder(directory, kind: str) -> Path:
    """``directory`` as a Path, checked before any work: it may be written as a ``kind`` folder
    (a folder of another kind would be overwritten)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a folder; choose a folder for the {kind}")
    found = folder_kind(directory) if directory.is_dir() else None
    if found not in (None, kind):
        raise InputError(f"{directory}: holds a {found}, which the {kind} would overwrite; choose another folder")
    return directory


def check_out_file(path) -> Path:
    """``path`` as a Path, checked before any work: it may be written as a file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the output")
    return path


def no_usable_images(where, failed: dict, what="images") -> InputError:
    """The error for a folder none of whose ``failed`` ``{path: reason}`` images can be used."""
    example = next(iter(failed.items()), None)
    example = f" (e.g. {example[0]}: {example[1]})" if example else ""
    return InputError(f"{where}: none of the {len(failed)} {what} can be used{example}")
