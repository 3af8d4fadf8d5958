"""Device tensors: contiguous arrays that live on a backend until read back.

``gpuml.tensor(array)`` uploads; ops return tensors on the same device; ``t.numpy()`` / ``np.asarray(t)`` read
back (``await t.numpy_async()`` in the browser). Without numpy (Pyodide core), ``tensor`` takes lists,
``array.array`` or bytes-like objects and ``t.tolist()`` / ``t.to_array()`` read back.
"""

from __future__ import annotations

import array as _array
import math
import os
import sys
import warnings
from typing import Any

from .backends import Device, get_device
from .backends.gpu import Buffer

try:  # numpy is optional: the browser backend runs on Pyodide core without it
    import numpy as np
except ImportError:  # pragma: no cover - exercised in Pyodide
    np = None

# dtype name -> (array.array type code, itemsize). Device kernels work on 32-bit words, except float16 tensors
# (2-byte elements, only where the adapter has shader-f16: half-precision inference, Sequential.half()). They are
# made only on request (``dtype="float16"``; a float16 numpy array still uploads as float32), numpy() returns
# float16 for them, and they need numpy on the host (array.array has no half type).
DTYPES = {"float32": ("f", 4), "int32": ("i", 4), "uint32": ("I", 4), "float16": ("e", 2)}
# Host dtypes converted on upload, and how: gpuml computes in float32 (the rule: ``tensor``'s docstring).
_CONVERT = {
    "float64": "float32",
    "float16": "float32",
    "int64": "int32",
    "int16": "int32",
    "int8": "int32",
    "uint64": "uint32",
    "uint16": "uint32",
    "uint8": "uint32",
    "bool": "uint32",
}
# conversions that can lose something (precision, or a 64-bit dtype narrowed after a range check): they warn once
_LOSSY = {"float64", "int64", "uint64"}
_WARNED: set[str] = set()  # source dtypes warned about in this process
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class DtypeWarning(UserWarning):
    """Host data of a dtype gpuml does not compute in (float64, int64, uint64) was converted on upload; issued once
    per process per source dtype. Convert explicitly (``x.astype(np.float32)``) or pass ``dtype=`` to silence it."""


def _warn_lossy(source: str, target: str, note: str) -> None:
    """Warn once per process per source dtype, attributed to the first caller outside the gpuml package."""
    if source in _WARNED:
        return
    _WARNED.add(source)
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(
        f"gpuml converted {source} data to {target} ({note}); gpuml computes in 32 bits. Convert explicitly or pass "
        f"dtype= to silence this (it is shown once per process for {source}).",
        DtypeWarning,
        stacklevel=level,
    )


# array.array type code -> device dtype (the numpy-free path)
_ARRAY_TYPECODES = {
    **dict.fromkeys("fd", "float32"),
    **dict.fromkeys("bhilq", "int32"),
    **dict.fromkeys("BHILQ", "uint32"),
}
_NOTES = {
    "float64": "values rounded to float32 precision",
    "int64": "values checked to fit",
    "uint64": "values checked to fit",
}


# numpy dtype -> the device dtype it is stored as (the hot path of Tensor.wrap_numpy, which converts what gpuml's
# own numpy code produced, silently)
_DEVICE_DTYPE = {} if np is None else {np.dtype(k): _CONVERT.get(k, k) for k in (*DTYPES, *_CONVERT)}


def _dtype_name(dtype) -> str:
    if dtype is None:
        return ""
    if isinstance(dtype, str):
        return dtype
    if np is not None:
        return np.dtype(dtype).name
    return getattr(dtype, "__name__", str(dtype))


def _check_dtype(name: str) -> str:
    if name not in DTYPES:
        raise TypeError(f"gpuml tensors hold {', '.join(DTYPES)}; got dtype {name}")
    return name


class Storage:
    """Owns one device allocation; shared by a tensor and its reshaped views."""

    __slots__ = ("__weakref__", "buffer", "device", "freed", "nbytes")

    def __init__(self, device: Device, buffer: Any, nbytes: int):
        self.device, self.buffer, self.nbytes, self.freed = device, buffer, nbytes, False

    def free(self) -> None:
        if not self.freed:
            self.freed = True
            if isinstance(self.buffer, Buffer):
                self.device.release(self.buffer)
            self.buffer = None

    def __del__(self):
        try:
            self.free()
        except Exception:  # interpreter shutdown
            pass


class Tensor:
    """A contiguous array on a gpuml device (row-major, float32/int32/uint32)."""

    __slots__ = ("_dtype", "_offset", "_storage", "shape")
    __array_priority__ = 100  # so ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, storage: Storage, shape: tuple[int, ...], dtype: str, offset: int = 0):
        self._storage, self.shape, self._dtype = storage, tuple(int(s) for s in shape), dtype
        self._offset = offset  # bytes from the start of the storage (views into a larger allocation)

    # --- construction ---------------------------------------------------------------------------------
    @classmethod
    def empty(cls, shape, dtype: str = "float32", device: Device | None = None) -> Tensor:
        """Uninitialised tensor (pooled device memory)."""
        device = device or get_device()
        shape = _shape(shape)
        _check_dtype(dtype)
        nbytes = math.prod(shape) * DTYPES[dtype][1]
        if not device.numpy_host:
            return cls(Storage(device, device.alloc(nbytes), nbytes), shape, dtype)
        return cls(Storage(device, np.empty(shape, dtype), nbytes), shape, dtype)

    @classmethod
    def wrap_numpy(cls, arr, device: Device) -> Tensor:
        """A cpu-device tensor holding ``arr`` (no copy when already contiguous and of a device dtype)."""
        arr = _contiguous(np.asarray(arr))
        name = _DEVICE_DTYPE.get(arr.dtype)  # dtype.name builds a string each call: 0.3 ms of a numpy train step
        if name is None:
            name = _check_dtype(_CONVERT.get(arr.dtype.name, arr.dtype.name))
        if arr.dtype != name:
            arr = arr.astype(name)
        return cls(Storage(device, arr, arr.nbytes), arr.shape, name)

    # --- properties ---------------------------------------------------------------------------------------
    @property
    def device(self) -> Device:
        return self._storage.device

    @property
    def dtype(self):
        """numpy dtype when numpy is importable, else the dtype name."""
        return np.dtype(self._dtype) if np is not None else self._dtype

    @property
    def dtype_name(self) -> str:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * DTYPES[self._dtype][1]

    @property
    def byte_offset(self) -> int:
        return self._offset

    @property
    def freed(self) -> bool:
        return self._storage.freed

    def gpu_buffer(self):
        """(GPU buffer handle, byte offset, byte size) of this tensor where it lies, for binding it in a render
        pipeline without a copy (the demo renderers); None on devices without GPU buffers (cpu, python)."""
        buf = self._storage.buffer
        handle = getattr(buf, "handle", None) if isinstance(buf, Buffer) else None
        return None if handle is None else (handle, self._offset, self.nbytes)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        state = "freed" if self.freed else self.device.name
        return f"gpuml.Tensor(shape={self.shape}, dtype={self._dtype}, device={state})"

    # --- host transfer -------------------------------------------------------------------------------
    def host(self):
        """The numpy array behind a cpu-device tensor (no copy), in this tensor's shape."""
        self._check_alive()
        if self.device.pure:
            op = sys._getframe(1).f_code.co_name
            raise NotImplementedError(
                f"gpuml: {op}() has no pure-Python twin, so it cannot run on the python backend (no numpy, no "
                "WebGPU); it runs on the browser/native (WebGPU) and cpu (numpy) backends"
            )
        if self.device.is_gpu:
            raise RuntimeError("host() is for cpu-device tensors; use numpy() to read back")
        flat = self._storage.buffer.reshape(-1)
        start = self._offset // DTYPES[self._dtype][1]
        return flat[start : start + self.size].reshape(self.shape)

    def words(self) -> memoryview:
        """A writable view of a python-backend tensor's elements (memoryview of float32/int32/uint32 words)."""
        self._check_alive()
        if not self.device.pure:
            raise RuntimeError("words() is for python-backend tensors; use host() (cpu) or to_array()")
        start = self._offset // DTYPES[self._dtype][1]
        return memoryview(self._storage.buffer).cast(DTYPES[self._dtype][0])[start : start + self.size]

    def values(self) -> list:
        """A python-backend tensor's elements as a flat list (a copy: the pure-Python twins compute on lists)."""
        return self.words().tolist()

    @classmethod
    def from_values(cls, values, shape, device: Device, dtype: str = "float32") -> Tensor:
        """A python-backend tensor holding the flat ``values`` (rounded to ``dtype``)."""
        out = cls.empty(shape, dtype, device)
        if out.size:
            out.words()[:] = _array.array(DTYPES[dtype][0], values)
        return out

    def _check_alive(self) -> None:
        if self._storage.freed:
            raise RuntimeError("this tensor was freed; its device memory may hold other data now")

    def to_bytes(self) -> bytes:
        """Raw little-endian contents (reads back from the device)."""
        self._check_alive()
        if not self.device.numpy_host:
            return self.device.read(self._storage.buffer, self.nbytes, self._offset)
        return self.host().tobytes()

    async def to_bytes_async(self) -> bytes:
        self._check_alive()
        if not self.device.numpy_host:
            return await self.device.read_async(self._storage.buffer, self.nbytes, self._offset)
        return self.host().tobytes()

    def numpy(self):
        """Read back as a new numpy array."""
        if np is None:
            raise RuntimeError("numpy is not available here; use t.tolist() or t.to_array()")
        if self.device.numpy_host:
            return self.host().copy()
        return _writable(np.frombuffer(self.to_bytes(), dtype=self._dtype)).reshape(self.shape)

    async def numpy_async(self):
        if np is None:
            raise RuntimeError("numpy is not available here; use await t.tolist_async()")
        return _writable(np.frombuffer(await self.to_bytes_async(), dtype=self._dtype)).reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def to_array(self) -> _array.array:
        """Read back as a flat ``array.array`` (works without numpy)."""
        out = _array.array(DTYPES[self._dtype][0])
        out.frombytes(self.to_bytes())
        return out

    def tolist(self) -> list | float | int:
        """Read back as nested Python lists (works without numpy)."""
        return _nest(self.to_array().tolist(), self.shape)

    async def tolist_async(self) -> list | float | int:
        out = _array.array(DTYPES[self._dtype][0])
        out.frombytes(await self.to_bytes_async())
        return _nest(out.tolist(), self.shape)

    def item(self) -> float | int:
        if self.size != 1:
            raise ValueError(f"item() needs a tensor of one element, got shape {self.shape}")
        return self.to_array()[0]

    def free(self) -> None:
        """Give the device memory back now (also happens when the last reference goes away).
        Reading a freed tensor, or a view of it, raises."""
        self._storage.free()

    # --- views ---------------------------------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        """A view with a new shape (no copy); one dimension may be -1."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        shape = list(shape)
        if shape.count(-1) > 1:
            raise ValueError("reshape: only one dimension can be -1")
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            if known == 0 or self.size % known:
                raise ValueError(f"cannot reshape tensor of shape {self.shape} into {tuple(shape)}")
            shape[shape.index(-1)] = self.size // known
        if math.prod(shape) != self.size:
            raise ValueError(f"cannot reshape tensor of shape {self.shape} into {tuple(shape)}")
        if self.device.numpy_host:
            self._check_alive()
        return Tensor(self._storage, tuple(shape), self._dtype, self._offset)

    def view(self, offset: int, shape) -> Tensor:
        """A view of ``prod(shape)`` elements starting ``offset`` elements into this tensor (no copy).
        Kernels can bind it when its byte offset is a multiple of min_storage_buffer_offset_alignment."""
        shape = _shape(shape)
        if offset < 0 or offset + math.prod(shape) > self.size:
            raise ValueError(f"view of {math.prod(shape)} elements at {offset} exceeds a tensor of {self.size}")
        return Tensor(self._storage, shape, self._dtype, self._offset + offset * DTYPES[self._dtype][1])

    def assign(self, data) -> Tensor:
        """Overwrite this tensor's elements in place with host data of the same size (returns self)."""
        self._check_alive()
        if np is not None:
            arr = np.ascontiguousarray(data, dtype=self._dtype)
            if arr.size != self.size:
                raise ValueError(f"assign: {arr.size} values for a tensor of shape {self.shape}")
            if self.device.numpy_host:
                self.host()[...] = arr.reshape(self.shape)
                return self
            raw = _words(arr)
        else:
            host = _array.array(DTYPES[self._dtype][0], data if not isinstance(data, list) else _infer_list(data)[1])
            if len(host) != self.size:
                raise ValueError(f"assign: {len(host)} values for a tensor of shape {self.shape}")
            raw = memoryview(host).cast("B")
        if self.size:
            self.device.write(self._storage.buffer, raw, self._offset)
        return self

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    # The arithmetic operators (+, -, *, /, @, unary -) and ``.T`` are ops: gpuml.ops attaches them when it is
    # imported (``import gpuml`` does), because this runtime module must not import the layer above it.


def _words(arr) -> memoryview:
    """Bytes of ``arr`` for a buffer write, zero-padded to whole 4-byte words (float16 tensors of odd size)."""
    raw = memoryview(arr.reshape(-1)).cast("B")  # 1-d: memoryview cannot cast a shape with a zero in it
    return raw if len(raw) % 4 == 0 else memoryview(bytes(raw) + bytes(4 - len(raw) % 4))


def _writable(arr):
    """numpy() hands out arrays the caller owns: copy when the read-back buffer was immutable bytes."""
    return arr if arr.flags.writeable else arr.copy()


def _contiguous(arr):
    """C-contiguous without np.ascontiguousarray's promotion of 0-d arrays to 1-d."""
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def contiguous_strides(shape) -> list[int]:
    """Row-major element strides of ``shape`` (a Tensor's layout)."""
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= s
    return strides[::-1]


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return shape


def _nest(flat: list, shape: tuple[int, ...]):
    if not shape:
        return flat[0]
    if 0 in shape:  # no elements: nest empty lists as numpy's tolist() does, down to the first zero
        zero = shape.index(0)
        return _nest([[] for _ in range(math.prod(shape[:zero]))], shape[:zero]) if zero else []
    for dim in reversed(shape[1:]):
        flat = [flat[i : i + dim] for i in range(0, len(flat), dim)]
    return flat


def _infer_list(data) -> tuple[tuple[int, ...], list]:
    """Shape and flat values of nested Python lists (the numpy-free path)."""
    shape, level = [], data
    while isinstance(level, list | tuple):
        shape.append(len(level))
        level = level[0] if level else None
    flat = data
    for _ in range(len(shape) - 1):
        flat = [v for row in flat for v in row]
    if len(flat) != math.prod(shape):
        raise ValueError("ragged nested lists cannot become a tensor")
    return tuple(shape), list(flat)


def tensor(data, dtype=None, device: Device | str | None = None) -> Tensor:
    """Upload ``data`` (numpy array, nested lists, scalar, ``array.array`` or Tensor) to ``device``.

    Device tensors hold float32, int32 or uint32 (float16 only on request, on adapters with shader-f16). Host data
    of another dtype is converted by one rule, the same for every op, model and estimator given host data:

    - float16 → float32; int8, int16 → int32; uint8, uint16 → uint32; bool → uint32 (0/1): exact, silent.
    - float64 → float32 rounds to float32 precision; int64 → int32 and uint64 → uint32 raise ``ValueError`` when
      a value is outside the 32-bit range, and convert exactly otherwise. Each of these warns with a
      :class:`DtypeWarning` once per process per source dtype (never silent, never a warning per call).
    - Python floats, ints and lists of them carry no dtype: float32 / int32, silently (as torch.tensor's default
      dtype); ints out of the int32 range raise.
    - ``dtype=`` asks for the conversion: silent (integer ranges are still checked).
    - complex, string and object data raise ``TypeError``.
    """
    device = get_device(device) if isinstance(device, str) or device is None else device
    if _dtype_name(dtype) == "float16":
        require_f16(device)
    if isinstance(data, Tensor):
        if data.device is device and (dtype is None or _dtype_name(dtype) == data._dtype):
            return data
        data = data.numpy() if np is not None else data.tolist()
    want = _dtype_name(dtype)
    if np is not None:
        # numpy arrays and scalars, array-likes with a dtype and array.array carry a dtype of their own
        typed = hasattr(data, "dtype") or isinstance(data, _array.array)
        arr = np.asarray(data)
        if arr.dtype == object or arr.dtype.kind in "USVcm":
            raise TypeError(f"cannot make a tensor from dtype {arr.dtype}")
        source = arr.dtype.name
        name = _check_dtype(want or _CONVERT.get(source, source))
        if arr.dtype.kind in "iu" and name in ("int32", "uint32") and arr.size and arr.dtype.itemsize >= 4:
            info = np.iinfo(name)
            lo, hi = arr.min(), arr.max()
            if lo < info.min or hi > info.max:
                raise ValueError(f"values in [{lo}, {hi}] do not fit {name}")
        if typed and not want and source in _LOSSY:
            _warn_lossy(source, name, _NOTES[source])
        arr = _contiguous(arr.astype(name, copy=False))
        if device.numpy_host:
            return Tensor(Storage(device, arr.copy() if arr is data else arr, arr.nbytes), arr.shape, name)
        out = Tensor.empty(arr.shape, name, device)
        if arr.nbytes:
            device.write(out._storage.buffer, _words(arr))
        return out
    # numpy-free path (Pyodide core)
    if isinstance(data, _array.array):
        shape, flat = (len(data),), data
        source = {"d": "float64", "l": "int64", "q": "int64", "L": "uint64", "Q": "uint64"}.get(data.typecode, "")
        if data.itemsize < 8:
            source = ""
        name = want or _ARRAY_TYPECODES.get(data.typecode, "")
    elif isinstance(data, list | tuple):
        shape, flat, source = *_infer_list(data), ""
        name = want or ("float32" if any(isinstance(v, float) for v in flat) or not flat else "int32")
    elif isinstance(data, int | float):
        shape, flat, source = (), [data], ""
        name = want or ("float32" if isinstance(data, float) else "int32")
    else:
        raise TypeError(f"cannot make a tensor from {type(data).__name__} without numpy")
    _check_dtype(name)
    if name in ("int32", "uint32") and flat:
        lo, hi = (-(2**31), 2**31 - 1) if name == "int32" else (0, 2**32 - 1)
        if min(flat) < lo or max(flat) > hi:
            raise ValueError(f"values in [{min(flat)}, {max(flat)}] do not fit {name}")
    if source and not want:
        _warn_lossy(source, name, _NOTES[source])
    host = _array.array(DTYPES[name][0], flat)
    out = Tensor.empty(shape, name, device)
    if len(host):
        device.write(out._storage.buffer, memoryview(host).cast("B"))
    return out


def require_f16(device: Device) -> None:
    """Raise a RuntimeError naming the missing feature unless ``device`` can hold and compute float16 tensors."""
    if not device.is_gpu or "shader-f16" not in device.features:
        raise RuntimeError(
            f"float16 tensors need a WebGPU adapter with the 'shader-f16' feature; {device.adapter} "
            f"({device.name}) lacks it — use the float32 model there"
        )


def as_tensor(x, device: Device | None = None) -> Tensor:
    """``x`` as a Tensor on ``device`` (uploading host data); tensors on another device raise."""
    if isinstance(x, Tensor):
        if device is not None and x.device is not device:
            raise ValueError(f"tensor is on {x.device.name}, expected {device.name}; use gpuml.tensor(t, device=...)")
        x._check_alive()
        return x
    return tensor(x, device=device)
