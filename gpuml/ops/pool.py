"""2-D max and average pooling on NCHW float32 batches, forward and backward (shaders/pool/).

``max_pool2d(x, kernel, stride=None, padding=0, *, return_indices=False)``: ``stride`` defaults to ``kernel``;
padding is -inf (never wins). With ``return_indices=True`` also returns int32 indices (flat ``ih * W + iw`` of
the winner in its plane, PyTorch's convention) for ``max_pool2d_backward(grad_out, indices, input_shape, kernel,
stride, padding)``.
``avg_pool2d(x, kernel, stride=None, padding=0, *, count_include_pad=True)`` and ``avg_pool2d_backward(grad_out,
input_shape, kernel, stride, padding, *, count_include_pad=True)``: PyTorch's divisor rules.

Validated here, computed by each backend: the WGSL kernels and their variant table (``pool``: 2x2 vec4, tiled
and general-window kernels, chosen per shape) in gpuml/impl/webgpu/pool.py, numpy twins in gpuml/impl/cpu/pool.py,
pure-Python twins in gpuml/impl/python/pool.py.
"""

from __future__ import annotations

from ..tensor import as_tensor
from .validate import operands, require_float


def _pair(value, name: str, minimum: int, op: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None
    if a < minimum or b < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {(a, b)}")
    return a, b


def _geometry(shape, kernel, stride, padding, op: str) -> dict:
    if len(shape) != 4:
        raise ValueError(f"{op}: input must be NCHW (4-D), got shape {tuple(shape)}")
    kh, kw = _pair(kernel, "kernel", 1, op)
    sh, sw = _pair(kernel if stride is None else stride, "stride", 1, op)
    ph, pw = _pair(padding, "padding", 0, op)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel {(kh, kw)}")
    n, c, h, w = (int(s) for s in shape)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: a {kh}x{kw} window does not fit the padded {h}x{w} input")
    return {
        "N": n,
        "C": c,
        "H": h,
        "W": w,
        "OH": oh,
        "OW": ow,
        "KH": kh,
        "KW": kw,
        "sh": sh,
        "sw": sw,
        "ph": ph,
        "pw": pw,
    }


def max_pool2d(x, kernel, stride=None, padding=0, *, return_indices: bool = False):
    """Max over KH x KW windows of NCHW ``x``; with ``return_indices`` also the int32 winner indices."""
    device, (x,) = operands(x)
    require_float("max_pool2d", x, half=True)
    g = _geometry(x.shape, kernel, stride, padding, "max_pool2d")
    out, idx = device.impl.max_pool2d(x, g)
    return (out, idx) if return_indices else out


def max_pool2d_backward(grad_out, indices, input_shape, kernel, stride=None, padding=0, *, relu_out=None):
    """dL/dx of :func:`max_pool2d` from ``grad_out`` and the ``indices`` it returned.

    ``relu_out``: the pool's output when its input came out of a ReLU; the ReLU's backward is fused in (grad_out
    passes only where relu_out > 0: a window's winner is positive iff the window's max is)."""
    device, (gy, idx) = operands(grad_out, indices)
    if relu_out is not None:
        relu_out = as_tensor(relu_out, device)
        if relu_out.shape != gy.shape:
            raise ValueError(f"max_pool2d_backward: relu_out must have shape {gy.shape}, got {relu_out.shape}")
    require_float("max_pool2d_backward", gy)
    g = _geometry(tuple(input_shape), kernel, stride, padding, "max_pool2d_backward")
    out_shape = (g["N"], g["C"], g["OH"], g["OW"])
    if gy.shape != out_shape or idx.shape != out_shape:
        raise ValueError(
            f"max_pool2d_backward: grad_out and indices must have shape {out_shape}, got {gy.shape}, {idx.shape}"
        )
    if idx.dtype_name != "int32":
        raise TypeError(f"max_pool2d_backward: indices must be int32, got {idx.dtype_name}")
    if relu_out is not None:
        require_float("max_pool2d_backward", relu_out)
    return device.impl.max_pool2d_backward(gy, idx, g, relu_out)


def avg_pool2d(x, kernel, stride=None, padding=0, *, count_include_pad: bool = True):
    """Mean over KH x KW windows of NCHW ``x`` (zero padding; divisor as PyTorch's ``avg_pool2d``)."""
    device, (x,) = operands(x)
    require_float("avg_pool2d", x, half=True)
    g = _geometry(x.shape, kernel, stride, padding, "avg_pool2d")
    return device.impl.avg_pool2d(x, g, bool(count_include_pad))


def avg_pool2d_backward(grad_out, input_shape, kernel, stride=None, padding=0, *, count_include_pad: bool = True):
    """dL/dx of :func:`avg_pool2d` from ``grad_out``."""
    device, (gy,) = operands(grad_out)
    require_float("avg_pool2d_backward", gy)
    g = _geometry(tuple(input_shape), kernel, stride, padding, "avg_pool2d_backward")
    out_shape = (g["N"], g["C"], g["OH"], g["OW"])
    if gy.shape != out_shape:
        raise ValueError(f"avg_pool2d_backward: grad_out must have shape {out_shape}, got {gy.shape}")
    return device.impl.avg_pool2d_backward(gy, g, bool(count_include_pad))
