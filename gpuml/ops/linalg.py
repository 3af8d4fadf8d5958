"""matmul, linear and gemm: numpy.matmul / torch.nn.Linear semantics, validated here and computed by each backend
(GEMM kernels and their variant table: gpuml/impl/webgpu/linalg.py)."""

from __future__ import annotations

import math

from ..impl.webgpu.linalg import FUSED_GEMMS, GEMM, GEMM_KERNELS, LINEAR_ROWS_MAX, gemm_kernel_for
from ..tensor import Tensor
from .elementwise import broadcast_shape
from .validate import operands, require_float

__all__ = ["FUSED_GEMMS", "GEMM", "GEMM_KERNELS", "LINEAR_ROWS_MAX", "gemm", "gemm_kernel_for", "linear", "matmul"]


def _batch_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a == b:
        return a
    if math.prod(a) == 1 or math.prod(b) == 1:  # one operand is shared by every batch element
        return broadcast_shape(a, b, "matmul")
    raise ValueError(
        f"matmul: batch dimensions {a} and {b} must be equal, or one operand must be 2-D "
        "(general batch broadcasting is not supported)"
    )


def matmul(a, b, *, kernel: str | None = None) -> Tensor:
    """``a @ b`` as numpy.matmul: (..., M, K) @ (..., K, N) -> (..., M, N); a 1-D operand is a vector.

    ``kernel`` forces a GEMM variant (``"subgroup" | "register" | "tiled"``); by default it is chosen
    per adapter and shape (the ``gemm`` variant table, gpuml/impl/webgpu/linalg.py).
    """
    device, (a, b) = operands(a, b)
    require_float("matmul", a, b, half=True)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes {a.shape} and {b.shape}")
    a_shape = (1, *a.shape) if a.ndim == 1 else a.shape
    b_shape = (*b.shape, 1) if b.ndim == 1 else b.shape
    m, k = a_shape[-2:]
    k2, n = b_shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align (inner dimensions {k} != {k2})")
    batch_shape = _batch_shape(a_shape[:-2], b_shape[:-2])
    out_shape = (*batch_shape, m, n)
    # numpy drops the dimension a 1-D operand added
    final_shape = out_shape[:-2] + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    if kernel is not None:
        GEMM[kernel]  # a clear error for an unknown name
    return device.impl.matmul(a.reshape(a_shape), b.reshape(b_shape), batch_shape, m, k, n, final_shape, kernel)


def linear(x, w, b=None, *, relu: bool = False) -> Tensor:
    """A fully connected layer: ``x @ w.T + b`` (then max(., 0) when ``relu``) for x (M, K), w (N, K) as
    torch.nn.Linear stores it, b (N,) or None -> (M, N).

    Small batches (``M <= LINEAR_ROWS_MAX``, f32, ``K % 4 == 0``) run one fused kernel (shaders/linalg/linear.wgsl)
    that reads w in place. Larger ones (``K % 4 == 0``) run one GEMM (the subgroup kernel on CPU adapters, the tiled
    one on GPUs) that reads w as stored and applies the bias and ReLU before its store (LeNet-5's three layers: 9
    dispatches -> 3, plus one crop where N % 4 != 0); otherwise (the register kernel) a GEMM against the transposed
    weights, then the bias and the ReLU."""
    tensors = (x, w) if b is None else (x, w, b)
    device, ts = operands(*tensors)
    x, w = ts[0], ts[1]
    b = ts[2] if b is not None else None
    require_float("linear", *ts)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"linear: x (M, K) and w (N, K) must share K, got shapes {x.shape} and {w.shape}")
    n = w.shape[0]
    if b is not None and b.shape != (n,):
        raise ValueError(f"linear: bias must have shape ({n},), got {b.shape}")
    return device.impl.linear(x, w, b, relu)


def gemm(
    a: Tensor,
    b: Tensor,
    c: Tensor,
    m: int,
    n: int,
    k: int,
    *,
    batch: int = 1,
    stride_a: int | None = None,
    stride_b: int | None = None,
    stride_c: int | None = None,
    kernel: str | None = None,
    trans_b: int = 0,
    bias: Tensor | None = None,
    relu: bool = False,
) -> Tensor:
    """Record ``c[z] = a[z] @ b[z]`` for ``z < batch`` on operands already laid out for the GEMM kernels.

    The low-level entry point of :func:`matmul` and the convolution engine (gpuml.ops.conv): no padding, no
    copies, one dispatch. Layout (row-major, f32): ``a[z]`` is ``m x k`` at element offset ``z * stride_a``,
    ``b[z]`` is ``k x n`` at ``z * stride_b``, ``c[z]`` is ``m x n`` at ``z * stride_c``. A stride of 0
    broadcasts that operand over the batch; the defaults are the dense strides ``m*k``, ``k*n``, ``m*n``.
    ``k`` and ``n`` (and every stride) must be multiples of 4 (HOST_PAD4 in shaders/linalg/*.wgsl): pad the
    contracted dimension with zeros in *both* operands (0 * garbage can be NaN). ``m`` is arbitrary.
    Subgroup kernel only: ``trans_b=nb`` > 0 reads ``b[z]`` as B transposed, ``nb x k`` row-major (rows past ``nb``
    up to ``n`` are padding: their ``c`` columns are junk); ``bias`` (``n`` floats, or more) is added to every row
    of ``c`` and ``relu`` then applies max(., 0), both on the accumulators before the store.
    Returns ``c``.
    """
    for t in (a, b, c) if bias is None else (a, b, c, bias):
        if not isinstance(t, Tensor) or t.device is not c.device:
            raise ValueError("gemm: a, b, c (and bias) must be tensors on one device")
    require_float("gemm", a, b, c, half=True)
    return c.device.impl.gemm(
        a, b, c, m, n, k, batch=batch, stride_a=stride_a, stride_b=stride_b, stride_c=stride_c, kernel=kernel,
        trans_b=trans_b, bias=bias, relu=relu,
    )  # fmt: skip
