"""Training data without numpy, for :class:`gpuml.train.Trainer` in the web page (Pyodide core) and on any backend.

:class:`DeviceData` holds images (N, C, H, W) float32 on the device and the labels as a host list; it is made from
a gpuml tensor or a memoryview with a shape (``memoryview(data).cast("B", (N, H, W))``: uploaded once) and checked
by the rules of :func:`gpuml.datasets.as_images` and :func:`~gpuml.datasets.check_labels`, written here in plain
Python. Batches are gathered on the device by buffer copies (one per run of consecutive rows); the shuffled order
of an epoch comes from Python's ``random`` seeded by (seed, epoch), the same on every backend (it differs from the
numpy path's order, which numpy's generator draws).
"""

from __future__ import annotations

import array
import math
import numbers
import random
import sys
import warnings
from dataclasses import dataclass

from .. import ops
from ..tensor import Tensor, tensor

INT32_MAX = 2**31 - 1
_SCALE = {"B": 255.0, "H": 65535.0}  # memoryview formats scaled to [0, 1] as the numpy rule scales uint8/uint16
_WARN = {"d": "float64", "q": "int64", "Q": "uint64", "l": "int64", "L": "uint64"}
_WARNED: set[str] = set()


def is_device_input(x) -> bool:
    """Data for this module (a tensor, a shaped memoryview or DeviceData) rather than the numpy path."""
    return isinstance(x, Tensor | memoryview | DeviceData)


def _values(y: list, bad: list[int]) -> str:
    shown = sorted({y[i] for i in bad})
    more = ", ..." if len(shown) > 5 else ""
    return f"{', '.join(str(v) for v in shown[:5])}{more} ({len(bad)} label(s), first at index {bad[0]})"


def check_label_list(labels, n: int | None = None, num_classes: int | None = None, what: str = "labels") -> list:
    """``labels`` (a tensor, list, array.array, bytes, any sequence) as a list of int class indices, or ValueError
    naming the bad values, with the rules and words of :func:`gpuml.datasets.check_labels`."""
    if isinstance(labels, Tensor):
        shape = labels.shape
        if len(shape) == 2 and shape[1] == 1:
            shape = shape[:1]
        if len(shape) != 1:
            raise ValueError(f"{what} must be (N,) class indices, got shape {labels.shape} (one-hot? use y.argmax(1))")
        y = labels.to_array().tolist()
    else:
        y = labels.tolist() if hasattr(labels, "tolist") else list(labels)
        if y and all(isinstance(v, list | tuple) for v in y):
            if any(len(v) != 1 for v in y):
                shape = (len(y), len(y[0]))
                raise ValueError(f"{what} must be (N,) class indices, got shape {shape} (one-hot? use y.argmax(1))")
            y = [v[0] for v in y]
    if n is not None and len(y) != n:
        raise ValueError(f"{what}: got {len(y)} for {n} images")
    odd = {type(v).__name__ for v in y if not isinstance(v, numbers.Real)}
    if odd:
        raise ValueError(f"{what} must be integer class indices 0..K-1, got {', '.join(sorted(odd))} values")
    if not all(isinstance(v, numbers.Integral) for v in y):
        bad = [i for i, v in enumerate(y) if not math.isfinite(v) or v != round(v)]
        if bad:
            raise ValueError(f"{what} must be integers, got non-integer values {_values(y, bad)}")
    y = [int(v) for v in y]
    neg = [i for i, v in enumerate(y) if v < 0]
    if neg:
        raise ValueError(f"{what} must be >= 0, got negative values {_values(y, neg)}")
    if num_classes is not None:
        over = [i for i, v in enumerate(y) if v >= num_classes]
        if over:
            raise ValueError(f"{what} must be in [0, {num_classes}) for {num_classes} classes, got {_values(y, over)}")
    if y and max(y) > INT32_MAX:
        raise ValueError(f"{what} up to {max(y)} do not fit int32 class indices")
    return y


def device_images(x, device, what: str = "images") -> Tensor:
    """``x`` (a tensor, or a memoryview with shape (N, H, W) / (N, C, H, W)) as float32 (N, C, H, W) on ``device``:
    uint8 / 255, uint16 / 65535, other formats keep their values (float64 and 64-bit integers warn once); NaN or
    infinite values are a ValueError."""
    if isinstance(x, memoryview):
        if x.ndim not in (3, 4):
            raise ValueError(f"{what} must be (N, H, W) or (N, C, H, W), got shape {x.shape}")
        fmt = x.format.lstrip("@=<")
        if fmt not in "bBhHiIlLqQfd?" or len(fmt) != 1:
            raise ValueError(f"{what} must be numeric, got memoryview format {x.format!r}")
        if fmt in _WARN and fmt not in _WARNED:
            _WARNED.add(fmt)
            from ..tensor import DtypeWarning

            warnings.warn(f"gpuml converted {_WARN[fmt]} images to float32 (gpuml trains in 32 bits)", DtypeWarning,
                          stacklevel=3)  # fmt: skip
        flat = array.array(fmt if fmt != "?" else "B", x.tobytes())
        t = tensor(flat if fmt == "f" else array.array("f", flat), device=device).reshape(x.shape)
        if fmt in _SCALE:
            t = ops.div(t, _SCALE[fmt])
    elif isinstance(x, Tensor):
        if x.dtype_name != "float32":
            raise ValueError(f"{what} must be a float32 tensor, got {x.dtype_name}")
        if x.ndim not in (3, 4):
            raise ValueError(f"{what} must be (N, H, W) or (N, C, H, W), got shape {x.shape}")
        t = x if x.device is device else tensor(x.to_array(), device=device).reshape(x.shape)
    else:
        raise TypeError(f"{what}: a gpuml tensor or a memoryview with a shape, got {type(x).__name__}")
    if t.ndim == 3:
        t = t.reshape(t.shape[0], 1, *t.shape[1:])
    # 0 * v is 0 for every finite v and NaN otherwise: one 4-byte readback checks them all
    if t.size and not math.isfinite(ops.sum(ops.scale(t, 0.0)).item()):
        count = sum(1 for v in t.to_array() if not math.isfinite(v))
        raise ValueError(f"{what} contain {count} NaN or infinite value(s)")
    return t


def permutation(n: int, seed: int, epoch: int) -> list[int]:
    order = list(range(n))
    random.Random(f"gpuml-batches {seed} {epoch}").shuffle(order)
    return order


def gather(src: Tensor, idx: list[int]) -> Tensor:
    """Rows ``idx`` of ``src`` (N, ...) as a new tensor: one buffer copy per run of consecutive rows."""
    row = src.size // src.shape[0] if src.shape[0] else 0
    out = Tensor.empty((len(idx), *src.shape[1:]), src.dtype_name, src.device)
    i = 0
    while i < len(idx):
        j = i + 1
        while j < len(idx) and idx[j] == idx[j - 1] + 1:
            j += 1
        ops.copy_into(src.view(idx[i] * row, ((j - i) * row,)), out.view(i * row, ((j - i) * row,)))
        i = j
    return out


class DeviceData:
    """Images (N, C, H, W) float32 on the device and labels (a host list of ints, checked); see the module."""

    def __init__(self, images: Tensor, labels: list, name: str = ""):
        self.images, self.labels, self.name = images, labels, name

    @classmethod
    def make(cls, x, y, device, what: str = "data") -> DeviceData:
        """From a DeviceData, an ``(images, labels)`` pair or ``x, y`` (see :func:`device_images`)."""
        if isinstance(x, DeviceData):
            return x
        if y is None and isinstance(x, tuple | list) and len(x) == 2:
            x, y = x
        if y is None:
            raise TypeError(f"{what}: labels are missing (pass images and labels)")
        images = device_images(x, device, f"{what}: images")
        return cls(images, check_label_list(y, images.shape[0], what=f"{what}: labels"), what)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def device(self):
        return self.images.device

    def take(self, idx: list[int], name: str) -> DeviceData:
        return DeviceData(gather(self.images, idx), [self.labels[i] for i in idx], name)

    def split(self, fraction: float, seed: int = 0) -> tuple[DeviceData, DeviceData]:
        """``(rest, held_out)`` as :meth:`gpuml.datasets.Dataset.split` (a seeded draw from ``random``)."""
        if not 0 < fraction < 1:
            raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
        n = len(self)
        n_out = min(max(1, round(fraction * n)), n - 1)
        if n_out < 1:
            raise ValueError(f"cannot split {n} example(s)")
        held = sorted(random.Random(f"gpuml-split {seed}").sample(range(n), n_out))
        kept = set(held)
        rest = [i for i in range(n) if i not in kept]
        return self.take(rest, self.name), self.take(held, f"{self.name}/held-out")

    def batches(self, batch_size: int, *, shuffle: bool = True, seed: int = 0, epoch: int = 0):
        """(images, labels) device tensors per batch, in a seeded order per (seed, epoch) when shuffled."""
        n = len(self)
        order = permutation(n, seed, epoch) if shuffle else None
        row = self.images.size // n if n else 0
        align = int(self.device.limits.get("min_storage_buffer_offset_alignment", 256)) if not shuffle else 0
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if order is None and (start * row * 4) % align == 0:  # a view kernels can bind: no copy
                xb = self.images.view(start * row, (stop - start, *self.images.shape[1:]))
            else:
                xb = gather(self.images, order[start:stop] if order else list(range(start, stop)))
            idx = order[start:stop] if order else range(start, stop)
            yield xb, tensor(array.array("i", [self.labels[i] for i in idx]), device=self.device)


def channel_stats(data: DeviceData) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std of the images (on the device, float32 sums); std 1 for a constant
    channel, as :func:`gpuml.datasets.channel_stats`."""
    x = data.images
    c = x.shape[1]
    per = ops.transpose(x, (1, 0, 2, 3)).reshape(c, -1)
    mean = ops.mean(per, axis=1, keepdims=True)
    var = ops.mean(ops.square(ops.sub(per, mean)), axis=1)
    means, stds = mean.to_array().tolist(), [math.sqrt(v) for v in var.to_array().tolist()]
    return tuple(means), tuple(s if s >= 1e-12 else 1.0 for s in stds)


def softmax_rows(logits: Tensor) -> Tensor:
    """Row-wise softmax of (N, K) logits on the device."""
    e = ops.exp(ops.sub(logits, ops.max(logits, axis=1, keepdims=True)))
    return ops.div(e, ops.sum(e, axis=1, keepdims=True))


@dataclass
class FitStep:
    """What :meth:`Trainer.fit_steps` yields: after every optimisation step (``record`` None; ``loss`` and
    ``correct`` the batch's summed loss and number correct as device scalars, read them when needed) and once
    after each epoch (``record``: that epoch's history entry, after its evaluations; ``loss`` None)."""

    epoch: int  # 1-based
    step: int  # 1-based step within the epoch
    steps: int  # steps per epoch
    size: int = 0
    loss: Tensor | None = None
    correct: Tensor | None = None
    record: dict | None = None


def is_dataset(x) -> bool:
    datasets = sys.modules.get("gpuml.datasets")  # not imported: x cannot be one
    return datasets is not None and isinstance(x, datasets.Dataset)


def numpy_data(x, y, what):
    try:
        from ..datasets import to_dataset
    except ImportError:
        raise ValueError(
            f"{what}: without numpy give images as a gpuml tensor or a memoryview with a shape "
            "(memoryview(data).cast('B', (N, H, W))), labels as a sequence of ints"
        ) from None
    return to_dataset(x, y, what)
