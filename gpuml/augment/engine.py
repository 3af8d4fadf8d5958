"""Execution of augmentation stages: :func:`execute` checks a batch, plans its passes (gpuml.augment.stages), packs
their per-image parameters into one buffer and hands them to the device's implementation
(``device.impl.augment_passes``: the WGSL kernels of shaders/augment/ on WebGPU devices, their numpy twin on
``cpu``, the pure-Python twin on ``python``; gpuml/impl/*/augment.py). Kernels are deterministic functions of (image,
parameters), so every backend gives the same result for the same parameters.

This module imports without numpy (Pyodide core).
"""

from __future__ import annotations

from ..impl.augment_params import CONTRAST, MATRIX, NORMALIZE
from ..tensor import Tensor
from .stages import Pass, Pixel, Stage, pack, plan

__all__ = ["Pass", "check_order", "execute", "plan"]


def check_order(stages: list[Stage], clip: bool, normalized: bool = False, out_u8: bool = False) -> bool:
    """Whether the images are normalised after ``stages`` (``normalized``: before them). A pixel op that clips to
    value_range may not follow Normalize (its output is not in that range), nor may uint8 output."""
    for st in stages:
        if isinstance(st, Pixel) and st.code == NORMALIZE:
            normalized = True
        elif isinstance(st, Pixel) and normalized and clip:
            raise ValueError(
                "a colour or pixel transform after Normalize would clip normalised values to value_range; "
                "put Normalize after it, or pass Compose(..., clip=False)"
            )
    if normalized and out_u8:
        raise ValueError("Normalize gives values outside value_range: uint8 output cannot hold them (out='float32')")
    return normalized


def execute(
    x: Tensor,
    stages: list[Stage],
    *,
    clip: bool = True,
    value_range=(0.0, 1.0),
    u8_shape=None,
    u8_layout="u8",
    out_u8: bool = False,
) -> Tensor:
    """Run ``stages`` over the (N, C, H, W) float32 batch ``x`` — or, with ``u8_shape``, over uint8 images packed
    into the uint32 words of ``x`` as ``u8_layout`` says ("u8": 4 bytes per word; "u8px": one pixel per word, see
    gpuml/impl/webgpu/augment.py SOURCES; read as byte / 255) — and return a new float32 (N, C, Ho, Wo) tensor on
    x's device; with ``out_u8`` (C <= 4), the uint8 result (``io.to_uint8`` of the float32 one) as N * Ho * Wo
    "u8px" words."""
    if u8_shape is not None:
        n, c, h, w = u8_shape
        need = n * h * w if u8_layout == "u8px" else -(-n * c * h * w // 4)
        if u8_layout not in ("u8", "u8px") or (u8_layout == "u8px" and c > 4):
            raise ValueError(f"unknown uint8 layout {u8_layout!r} for {c} channels")
        if x.dtype_name != "uint32" or x.size < need:
            raise ValueError(f"packed uint8 images {u8_shape} ({u8_layout}) need {need} uint32 words, got {x}")
    elif x.ndim != 4 or x.dtype_name != "float32":
        raise ValueError(f"augment kernels take (N, C, H, W) float32 tensors, got {x.shape} {x.dtype_name}")
    else:
        n, c, h, w = x.shape
    if out_u8 and c > 4:
        raise ValueError(f"uint8 output holds at most 4 channels, got {c}")
    check_order(stages, clip, out_u8=out_u8)
    passes = plan(stages, n, (h, w))
    for ps in passes:
        if any(op.code in (MATRIX, CONTRAST) for op in ps.ops) and c not in (1, 3, 4):
            raise ValueError(f"colour transforms need 1, 3 or 4 channels, got {c}")
    lo, hi = float(value_range[0]), float(value_range[1])
    raw, bases = pack(passes, n)
    layout = u8_layout if u8_shape is not None else None
    return x.device.impl.augment_passes(x, passes, raw, bases, clip, lo, hi, (n, c, h, w), layout, out_u8)
