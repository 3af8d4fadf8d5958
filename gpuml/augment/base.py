"""The transform base class: parameter generation (pure Python, seeded) separate from a deterministic apply.

``t.generate(n, shape, rng)`` draws per-image parameters with a ``random.Random`` (Mersenne Twister: the same
sequence in CPython and Pyodide, with or without numpy); ``t(x, params=p)`` replays them exactly;
``t(x, seed=s, step=k)`` draws from ``random.Random`` seeded with (s, k) and keeps the draw in ``t.params_``.
Device-side randomness (noise, elastic fields) uses the PCG hash of shaders/common/hash.wgsl keyed by a 32-bit
seed drawn here per image, so the kernels are pure functions of (image, parameters) on every backend.
"""

from __future__ import annotations

import math
import random

Shape = tuple[int, int, int]  # (C, H, W)


def make_rng(seed: int | None, step: int = 0) -> random.Random:
    """The generator for (seed, step): ``random.Random`` seeded with seed * 2**32 + step (None: fresh entropy)."""
    if seed is None:
        return random.Random()
    return random.Random((int(seed) & 0xFFFFFFFF) << 32 | (int(step) & 0xFFFFFFFF))


def _finite(value, name: str, owner: str) -> float:
    """``value`` as a finite float, else a ValueError naming the transform and the parameter."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return f


def _prob(value, owner: str, name: str = "p") -> float:
    f = _finite(value, name, owner)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"{owner}: {name} is a probability in [0, 1], got {value!r}")
    return f


def _range(value, name: str, center: float = 0.0, owner: str = "augment", low: float | None = None):
    """``v`` -> (center - v, center + v); ``(lo, hi)`` -> itself. Finite, lo <= hi, and lo > ``low`` if given."""
    if isinstance(value, int | float):
        v = _finite(value, name, owner)
        if v < 0:
            raise ValueError(f"{owner}: {name} must be >= 0, got {value}")
        lo, hi = center - v, center + v
    else:
        try:
            lo, hi = (_finite(v, name, owner) for v in value)
        except TypeError:
            raise ValueError(f"{owner}: {name} must be a number or (lo, hi), got {value!r}") from None
        if lo > hi:
            raise ValueError(f"{owner}: {name} range ({lo}, {hi}) is empty")
    if low is not None and lo <= low:
        raise ValueError(f"{owner}: {name} must stay above {low:g}, got {value!r} (range ({lo:g}, {hi:g}))")
    return lo, hi


MAX_SIDE = 16384  # pixels: far beyond any image an adapter can hold, small enough to fail here with the value


def _size(size, owner: str = "augment", name: str = "size") -> tuple[int, int]:
    """An int or (h, w) of whole pixels in [1, MAX_SIDE]."""
    pair = (size, size) if isinstance(size, int | float) else tuple(size)
    if len(pair) != 2:
        raise ValueError(f"{owner}: {name} must be H or (H, W) pixels, got {size!r}")
    for v in pair:
        f = _finite(v, name, owner)
        if f < 1 or f != int(f):
            raise ValueError(f"{owner}: {name} must be whole pixels >= 1, got {size!r}")
        if f > MAX_SIDE:
            raise ValueError(f"{owner}: {name} must be at most {MAX_SIDE} pixels, got {f:g}")
    return int(pair[0]), int(pair[1])


def _interp(mode: str, owner: str = "augment") -> str:
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{owner}: interpolation must be 'nearest' or 'bilinear', got {mode!r}")
    return mode


class Transform:
    """Base class. Subclasses define ``generate``, ``stages`` and (when the size changes) ``output_shape``."""

    geometric = False
    normalizes = False  # gives values outside value_range (Normalize): no uint8 output, no clipping after it
    value_range: tuple[float, float] = (0.0, 1.0)
    clip = True

    def generate(self, n: int, shape: Shape, rng: random.Random) -> list:
        raise NotImplementedError

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def stages(self, params: list, shape: Shape) -> list:
        raise NotImplementedError

    def _items(self) -> list:
        """What runs in order (gpuml.augment.run): the transform itself; a Compose with callables, its items."""
        return [self]

    def select(self, params: list, first: int, last: int) -> list:
        """The parameters of images [first, last) of a batch (a chunk replays its slice of the batch's draw)."""
        return params[first:last]

    def __call__(self, x, *, params=None, seed: int | None = None, step: int = 0):
        """Augment ``x`` (numpy array, PIL image(s) or gpuml Tensor; see gpuml.augment) and return the same kind
        (float32 numpy after Normalize). Float host images must lie in ``value_range``; host batches larger than
        the adapter's largest storage binding run in chunks (gpuml.augment.run), with the same result."""
        from ..backends import device_for
        from .io import finish, host_batch, to_numpy, upload, wants_uint8
        from .run import check_host_range, images_per_chunk, run_chunk

        batch, meta = host_batch(x)
        if meta["kind"] == "tensor":
            return self.apply_batch(batch, params=params, seed=seed, step=step)
        check_host_range(self, batch)
        meta["float_out"] = self.normalizes
        n, c, h, w = batch.shape
        device = device_for("augment")
        out_u8 = wants_uint8(meta, c) and not self.normalizes
        layout = None if batch.dtype.kind == "f" else ("u8px" if 2 <= c <= 4 else "u8")
        chunk = images_per_chunk(self, device, (c, h, w), layout, out_u8)
        plist = [None] * len(self._items()) if params is None else self._param_list(params)
        rng = make_rng(seed, step) if params is None else None
        parts = []
        for first in range(0, max(n, 1), chunk):
            part = upload(batch[first : first + chunk], device)
            parts.append(to_numpy(run_chunk(self, part, plist, rng, n, first, out_u8)))
            self.params_ = self._param_value(plist)
        return finish(parts, meta)

    def _param_list(self, params) -> list:
        return [params]

    def _param_value(self, plist: list):
        return plist[0]

    def apply_batch(self, x, *, params=None, seed: int | None = None, step: int = 0, out: str = "float32",
                    check_range: bool = False):  # fmt: skip
        """Device entry point: (N, C, H, W) or (N, H, W) float32 Tensor (or an io.U8Batch) in, float32 Tensor on the
        same device out; no host round trip (parameters are generated on the host and uploaded as one small
        buffer). ``out="uint8"`` (at most 4 channels) returns an (N, C, Ho, Wo) io.U8Batch instead, one word per
        pixel: ``io.to_uint8`` of the float32 result, written by the last kernel (a quarter of the bytes).
        Device values are trusted to lie in ``value_range``; ``check_range=True`` checks (one small readback)."""
        from .io import U8Batch
        from .run import check_tensor_range, images_per_chunk, run_chunk

        if out not in ("float32", "uint8"):
            raise ValueError(f"out must be 'float32' or 'uint8', got {out!r}")
        packed = isinstance(x, U8Batch)
        squeeze = x.ndim == 3
        if squeeze:
            x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if x.ndim != 4:
            raise ValueError(f"augment expects (N, H, W) or (N, C, H, W) images, got shape {x.shape}")
        n, c, h, w = x.shape
        if check_range and not packed:
            check_tensor_range(self, x)
        chunk = images_per_chunk(self, x.device, (c, h, w), x.layout if packed else None, out == "uint8")
        if n > chunk:
            raise ValueError(
                f"{type(self).__name__}: a device batch of {n} {(c, h, w)} images needs buffers over this adapter's "
                f"max_storage_buffer_binding_size ({x.device.max_binding_bytes:,} bytes; at most {chunk} images): "
                "pass smaller batches, or a host array to the transform itself (it runs in chunks)"
            )
        plist = [None] * len(self._items()) if params is None else self._param_list(params)
        try:
            res = run_chunk(self, x, plist, make_rng(seed, step) if params is None else None, n, 0, out == "uint8")
        finally:
            self.params_ = self._param_value(plist)
        if squeeze and out == "float32":
            res = res.reshape(n, res.shape[2], res.shape[3])
        return res

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"
