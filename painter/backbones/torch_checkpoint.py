"""Read a PyTorch ``state_dict`` file (``.pth``) into NumPy arrays without importing torch.

Two layouts exist: the zip layout of torch >= 1.6 (``archive/data.pkl`` plus one raw file per
storage) and the legacy layout (a run of pickles followed by the raw storages). Both keep the
tensors' bytes outside the pickle; the pickle only says how to rebuild each tensor.

Unpickling runs code named by the file, so the unpickler accepts only the few names a plain
state dict uses; any other global is refused with ``CheckpointError``.
"""
from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["CheckpointError", "load_state_dict"]

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class CheckpointError(ValueError):
    """A checkpoint that is malformed or asks for code painter will not run."""


class _StorageType:
    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Tensor:
    """Placeholder until storages are read: rebuilt into an ndarray afterwards."""

    def __init__(self, storage_key, offset, size, stride):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *extra):
    return _Tensor(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source, storages):
        super().__init__(file)
        self.source, self.storages = source, storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(f"{self.source}: refuses to load global {module}.{name} "
                              "(only plain tensor state dicts are accepted)")

    def persistent_load(self, pid):
        # zip layout:    ('storage', storage_type, key, location, numel)
        # legacy layout: ('storage', storage_type, key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.source}: unexpected persistent id {pid!r:.80}")
        _, stype, key, _location, numel = pid[:5]
        self.storages.setdefault(str(key), (stype.dtype, int(numel)))
        return str(key)


def _materialize(obj, buffers, source):
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialize(v, buffers, source)) for k, v in obj.items())
    if isinstance(obj, _Tensor):
        flat = buffers[obj.storage_key]
        itemsize = flat.dtype.itemsize
        if obj.size and obj.offset + sum((s - 1) * st for s, st in zip(obj.size, obj.stride)) >= flat.size:
            raise CheckpointError(f"{source}: tensor runs past the end of its storage")
        view = np.lib.stride_tricks.as_strided(flat[obj.offset:], shape=obj.size,
                                               strides=tuple(s * itemsize for s in obj.stride))
        return np.array(view)  # own copy, contiguous
    return obj


def _load_zip(path: Path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise CheckpointError(f"{path}: zip checkpoint without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        storages = {}
        with z.open(pkl) as f:
            obj = _RestrictedUnpickler(f, path, storages).load()
        buffers = {}
        for key, (dtype, numel) in storages.items():
            raw = z.read(f"{prefix}data/{key}")
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f"{path}: storage {key} is truncated")
            buffers[key] = np.frombuffer(raw, dtype=dtype, count=numel)
    return obj, buffers


def _load_legacy(path: Path):
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
            if magic != _LEGACY_MAGIC:
                raise CheckpointError(f"{path}: not a PyTorch checkpoint (bad magic number)")
            pickle.load(f)  # protocol version
            sys_info = pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as e:
            raise CheckpointError(f"{path}: not a PyTorch checkpoint ({e})") from None
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
            raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
        storages = {}
        obj = _RestrictedUnpickler(f, path, storages).load()
        keys = pickle.load(f)
        buffers = {}
        for key in keys:
            dtype, numel = storages[str(key)]
            header = f.read(8)
            if len(header) < 8:
                raise CheckpointError(f"{path}: file ends before storage {key}")
            (stored,) = struct.unpack("<q", header)
            raw = f.read(stored * dtype.itemsize)
            if stored != numel or len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f"{path}: storage {key} is truncated or mis-sized")
            buffers[str(key)] = np.frombuffer(raw, dtype=dtype)
    return obj, buffers


def load_state_dict(path) -> "collections.OrderedDict[str, np.ndarray]":
    """Read a ``.pth`` state dict as ``{name: ndarray}`` (PyTorch layout: conv ``(out, in, kh, kw)``).

    Raises ``CheckpointError`` for a malformed file or a pickle naming any other global.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    obj, buffers = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    return _materialize(obj, buffers, path)
