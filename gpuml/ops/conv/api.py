"""The public convolution API: validation once, then the device's implementation (``device.impl.conv2d`` /
``conv2d_backward``: WGSL kernels in gpuml/impl/webgpu/conv, numpy twins in gpuml/impl/cpu/conv.py, pure-Python
twins in gpuml/impl/python/conv.py)."""

from __future__ import annotations

from ...backends import get_device
from ...impl.webgpu.conv.variants import GENERIC_GPU, static_algo
from ..layout import copy_into
from ..validate import operands, require_float
from .geometry import ConvGeometry, conv_geometry

ALGOS = ("direct", "im2col", "winograd2", "winograd4")


def applicable_algos(g: ConvGeometry) -> tuple[str, ...]:
    """The public algorithms that can run ``g`` (Winograd: 3x3, stride 1, dilation 1)."""
    return ALGOS if g.winograd_ok else ("direct", "im2col")


def choose_conv_algo(g: ConvGeometry, device=None) -> str:
    """The public algorithm ``algo="auto"`` runs for ``g`` on ``device`` by the static order (without
    measurements): on WebGPU devices the first applicable variant of the conv2d table (gpuml/impl/webgpu/conv/
    variants.py documents the rule), reported by its algorithm ("direct" for the direct family); ``im2col`` on the
    numpy backend (its fastest twin); ``direct`` on the pure-Python one. Without a device: the rule for a GPU."""
    if device is None:
        return static_algo(GENERIC_GPU, g)
    return device.impl.conv2d_algo(device, g)


def last_conv_algo(device=None) -> str | None:
    """The kernel the most recent :func:`conv2d` on ``device`` (default: the current device) ran — a variant of
    the conv2d table ("implicit_rows", "implicit", "direct", "im2col", "winograd2", "winograd4"); None before the
    first call."""
    return (device or get_device()).op_state.get("conv2d.last")


def conv_autotune(enabled: bool | None = True, clear: bool = False, device=None) -> dict:
    """Turn measured choice of ``algo="auto"`` convolutions on ``device`` (default: the current device) on
    (``True``) or off (``False``) whatever GPUML_TUNE / GPUML_CONV_AUTOTUNE say, or back to following them
    (``None``). ``clear`` forgets the conv choices measured so far on that device in this process. Returns the
    device's conv choices {shape class: kernel}.

    When on, the first ``auto`` call of a shape class on an adapter times every applicable variant and every later
    call reuses the winner (cached per adapter, on disk natively: gpuml.backends.variants)."""
    device = device or get_device()
    device.op_state["conv2d.autotune"] = enabled
    cache = device.tune_cache
    if clear:
        for key in [k for k in cache.choices if k[0] == "conv2d"]:
            del cache.choices[key]
    return {k[1:]: name for k, name in cache.choices.items() if k[0] == "conv2d"}


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, algo: str = "auto", *, relu: bool = False):
    """2-D cross-correlation (PyTorch's ``conv2d``) of NCHW ``x`` with ``w`` (OC, C/groups, KH, KW).

    ``stride``, ``padding`` (zeros) and ``dilation`` take an int or an (h, w) pair; ``groups`` splits the
    channels (``groups == C == OC`` is depthwise); ``b`` (OC,) is added and ``relu=True`` applies max(., 0), both
    fused into the last kernel. ``algo``: ``"direct" | "im2col" | "winograd2" | "winograd4" | "auto"``; the
    Winograd algorithms need a 3x3 kernel, stride 1 and dilation 1 (else ValueError). ``"direct"`` runs the best
    kernel of the direct family for the device (implicit_rows, implicit or direct). float16 tensors run the
    implicit-GEMM kernel (``"auto"`` or ``"implicit"``). :func:`last_conv_algo` reports the kernel that ran.

    NaN and ±Inf inputs stay inside the receptive fields they touch, on every backend: ``"direct"`` and
    ``"im2col"`` give NaN / +Inf / -Inf exactly where a float64 direct convolution does (``relu=True`` keeps NaN,
    as numpy's maximum). The Winograd algorithms mix the neighbours of each m x m output tile (m = 2, 4) in their
    transforms: a NaN/Inf input may also reach the other outputs of a tile whose (m+2) x (m+2) input patch holds it
    (at most m - 1 pixels beyond its receptive field, in its group's channels), and ±Inf may come out as NaN.
    ``"auto"`` may pick Winograd (3x3 kernels with many channels): name ``"direct"`` or ``"im2col"`` where
    non-finite inputs must map exactly.
    """
    tensors = (x, w) if b is None else (x, w, b)
    device, ts = operands(*tensors)
    x, w = ts[0], ts[1]
    b = ts[2] if b is not None else None
    T = require_float("conv2d", *ts, half=True)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    if T == "f16" and (algo not in ("auto", "implicit") or g.P % 4):
        # float16 (half-precision inference) runs the implicit GEMM, the one forward kernel templated on T so far
        raise ValueError(
            f"conv2d: float16 tensors run only the implicit-GEMM kernel, which needs OH * OW % 4 == 0 "
            f"(got {g.OH}x{g.OW}) and algo='auto'; got algo={algo!r} — use float32 tensors"
        )
    if b is not None and b.shape != (g.OC,):
        raise ValueError(f"conv2d: bias must have shape ({g.OC},), got {b.shape}")
    if T == "f32" and algo not in (*ALGOS, "auto"):
        raise ValueError(f"conv2d: algo {algo!r} is not one of {', '.join((*ALGOS, 'auto'))}")
    if algo.startswith("winograd") and not g.winograd_ok:
        raise ValueError(
            f"conv2d: algo={algo!r} needs a 3x3 kernel, stride 1 and dilation 1; got kernel {g.KH}x{g.KW}, "
            f"stride {(g.sh, g.sw)}, dilation {(g.dh, g.dw)} (use 'im2col' or 'direct')"
        )
    return device.impl.conv2d(x, w, b, g, algo, relu)


def conv2d_backward(x, w, grad_out, stride=1, padding=0, dilation=1, groups=1, *, input_grad: bool = True, out=None):
    """Gradients of ``y = conv2d(x, w, b, ...)`` (without ReLU) given ``grad_out`` = dL/dy:
    returns (grad_x, grad_w, grad_b) as tensors on the device, shapes of x, w and (OC,).
    ``input_grad=False`` skips grad_x (returned as None): a network's first layer never needs it.
    ``out=(grad_w, grad_b)``: tensors (views allowed, e.g. a ParameterStore's gradients) that receive the weight
    and bias gradients, written in place by the last kernel where it can, else copied; they are returned."""
    device, (x, w, gy) = operands(x, w, grad_out)
    require_float("conv2d_backward", x, w, gy)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups, "conv2d_backward")
    if gy.shape != g.out_shape:
        raise ValueError(f"conv2d_backward: grad_out must have the output's shape {g.out_shape}, got {gy.shape}")
    gx, gw, gb = device.impl.conv2d_backward(x, w, gy, g, input_grad, out)
    if out is not None:
        for src, dst in zip((gw, gb), out, strict=True):
            if src is not dst:
                copy_into(src, dst)
        gw, gb = out
    return gx, gw, gb


__all__ = [
    "ALGOS",
    "applicable_algos",
    "choose_conv_algo",
    "conv2d",
    "conv2d_backward",
    "conv_autotune",
    "last_conv_algo",
]
