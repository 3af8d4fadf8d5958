"""The transform base class: parameter generation (pure Python, seeded) separate from a deterministic apply.

``t.generate(n, shape, rng)`` draws per-image parameters with a ``random.Random`` (Mersenne Twister: the same
sequence in CPython and Pyodide, with or without numpy); ``t(x, params=p)`` replays them exactly;
``t(x, seed=s, step=k)`` draws from ``random.Random`` seeded with (s, k) and keeps the draw in ``t.params_``.
Device-side randomness (noise, elastic fields) uses the PCG hash of shaders/common/hash.wgsl keyed by a 32-bit
seed drawn here per image, so the kernels are pure functions of (image, parameters) on every backend.
"""

from __future__ import annotations

import random

from . import engine

Shape = tuple[int, int, int]  # (C, H, W)


def make_rng(seed: int | None, step: int = 0) -> random.Random:
    """The generator for (seed, step): ``random.Random`` seeded with seed * 2**32 + step (None: fresh entropy)."""
    if seed is None:
        return random.Random()
    return random.Random((int(seed) & 0xFFFFFFFF) << 32 | (int(step) & 0xFFFFFFFF))


def _range(value, name: str, center: float = 0.0) -> tuple[float, float]:
    """``v`` -> (center - v, center + v); ``(lo, hi)`` -> itself."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        return (center - float(value), center + float(value))
    lo, hi = (float(v) for v in value)
    if lo > hi:
        raise ValueError(f"{name} range ({lo}, {hi}) is empty")
    return lo, hi


def _size(size) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = (int(s) for s in size)
    return (h, w)


def _interp(mode: str) -> str:
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {mode!r}")
    return mode


class Transform:
    """Base class. Subclasses define ``generate``, ``stages`` and (when the size changes) ``output_shape``."""

    geometric = False
    value_range: tuple[float, float] = (0.0, 1.0)
    clip = True

    def generate(self, n: int, shape: Shape, rng: random.Random) -> list:
        raise NotImplementedError

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def stages(self, params: list, shape: Shape) -> list:
        raise NotImplementedError

    def __call__(self, x, *, params=None, seed: int | None = None, step: int = 0):
        """Augment ``x`` (numpy array, PIL image(s) or gpuml Tensor; see gpuml.augment) and return the same kind."""
        from .io import from_host, to_host, wants_uint8

        batch, meta = from_host(x)
        out = "uint8" if wants_uint8(meta, batch) else "float32"
        return to_host(self.apply_batch(batch, params=params, seed=seed, step=step, out=out), meta)

    def apply_batch(self, x, *, params=None, seed: int | None = None, step: int = 0, out: str = "float32"):
        """Device entry point: (N, C, H, W) or (N, H, W) float32 Tensor (or an io.U8Batch) in, float32 Tensor on the
        same device out; no host round trip (parameters are generated on the host and uploaded as one small
        buffer). ``out="uint8"`` (at most 4 channels) returns an (N, C, Ho, Wo) io.U8Batch instead, one word per
        pixel: ``io.to_uint8`` of the float32 result, written by the last kernel (a quarter of the bytes)."""
        from .io import U8Batch

        if out not in ("float32", "uint8"):
            raise ValueError(f"out must be 'float32' or 'uint8', got {out!r}")
        packed = isinstance(x, U8Batch)
        squeeze = x.ndim == 3
        if squeeze:
            x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if x.ndim != 4:
            raise ValueError(f"augment expects (N, H, W) or (N, C, H, W) images, got shape {x.shape}")
        n, c, h, w = x.shape
        if params is None:
            params = self.generate(n, (c, h, w), make_rng(seed, step))
        self.params_ = params
        stages = self.stages(params, (c, h, w))
        kw = {"clip": self.clip, "value_range": self.value_range, "out_u8": out == "uint8"}
        if packed:
            res = engine.execute(x.words, stages, u8_shape=x.shape, u8_layout=x.layout, **kw)
        else:
            res = engine.execute(x, stages, **kw)
        if out == "uint8":
            return U8Batch(res, (n, *self.output_shape((c, h, w))), "u8px")
        if squeeze:
            res = res.reshape(n, res.shape[2], res.shape[3])
        return res

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"
