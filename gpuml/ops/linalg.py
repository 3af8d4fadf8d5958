"""matmul: numpy.matmul semantics (2-D, batched, 1-D operands) on three GEMM kernels chosen per adapter.

Kernels (shaders/linalg/):

- ``subgroup``: A shared across lanes with subgroupBroadcast, 32x32 outputs per workgroup of 8; no barriers.
  Fastest on CPU adapters (lavapipe, SwiftShader), where a storage load costs ~50 FMAs and barriers are
  coroutine switches.
- ``register``: no subgroups, no workgroup memory; 16x8 outputs per invocation. The portable fallback.
- ``tiled``: 64x64 workgroup tiles staged in workgroup memory, 4x4 per thread: the shape that wins on
  discrete GPUs, where workgroup memory is fast and barriers are cheap.

All three read whole vec4 rows, so K and N are padded to multiples of 4 on the device when needed
(shaders/layout/pad2d.wgsl) and the padded output columns are cropped.
"""

from __future__ import annotations

import math
import os

from ..impl.python import ops as pure
from ..tensor import Tensor
from ._common import WG, operands, require_float

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

# name -> (shader, rows per workgroup, columns per workgroup)
GEMM_KERNELS = {
    "subgroup": ("linalg/matmul_subgroup.wgsl", 32, 32),
    "register": ("linalg/matmul_register.wgsl", 16, 64),
    "tiled": ("linalg/matmul_tiled.wgsl", 64, 64),
}


# the kernels with the trans_b / bias / relu options of gemm()
FUSED_GEMMS = ("subgroup", "tiled")


def gemm_kernel_for(device) -> str:
    """The GEMM variant for ``device``: ``GPUML_GEMM`` overrides; CPU adapters with subgroups take
    ``subgroup``, real GPUs ``tiled``, anything else ``register``."""
    forced = os.environ.get("GPUML_GEMM")
    if forced:
        if forced not in GEMM_KERNELS:
            raise ValueError(f"GPUML_GEMM={forced!r}: choose one of {', '.join(GEMM_KERNELS)}")
        return forced
    kind = str(device.adapter_info.get("adapter_type", ""))
    if kind in ("DiscreteGPU", "IntegratedGPU", "GPU"):  # "GPU": a browser adapter that is not a CPU
        return "tiled"
    if "subgroup" in device.features:
        return "subgroup"
    return "register"


def _pad2d(x: Tensor, batch: int, rows: int, cols: int, rows_out: int, cols_out: int) -> Tensor:
    """x viewed as (batch, rows, cols), copied into (batch, rows_out, cols_out): zero padding or cropping."""
    device = x.device
    out = Tensor.empty((batch, rows_out, cols_out), x.dtype_name, device)
    n = batch * rows_out * cols_out
    kernel = device.kernel("layout/pad2d.wgsl", WG=WG, WORD="f16" if x.dtype_name == "float16" else "u32")
    params = {"n": n, "rows_in": rows, "cols_in": cols, "rows_out": rows_out, "cols_out": cols_out}
    kernel(device.grid_1d(-(-n // WG)), params, x_in=x, out=out)
    return out


def _batch_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if a == b:
        return a
    if math.prod(a) == 1 or math.prod(b) == 1:  # one operand is shared by every batch element
        from .elementwise import broadcast_shape

        return broadcast_shape(a, b, "matmul")
    raise ValueError(
        f"matmul: batch dimensions {a} and {b} must be equal, or one operand must be 2-D "
        "(general batch broadcasting is not supported)"
    )


def matmul(a, b, *, kernel: str | None = None) -> Tensor:
    """``a @ b`` as numpy.matmul: (..., M, K) @ (..., K, N) -> (..., M, N); a 1-D operand is a vector.

    ``kernel`` forces a GEMM variant (``"subgroup" | "register" | "tiled"``); by default it is chosen
    per adapter (:func:`gemm_kernel_for`).
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
    if device.pure:
        return pure.matmul(a.reshape(a_shape), b.reshape(b_shape), batch_shape, m, k, n, final_shape)
    if not device.is_gpu:
        return Tensor.wrap_numpy(np.matmul(a.host(), b.host()), device)
    batch = math.prod(batch_shape)
    if math.prod(out_shape) == 0 or k == 0:
        from .elementwise import zeros

        return zeros(final_shape, "float32", device)
    name = kernel or gemm_kernel_for(device)
    batch_a, batch_b = math.prod(a_shape[:-2]), math.prod(b_shape[:-2])
    k4, n4 = -(-k // 4) * 4, -(-n // 4) * 4
    if k4 != k:
        a = _pad2d(a, batch_a, m, k, m, k4)
    if k4 != k or n4 != n:
        b = _pad2d(b, batch_b, k, n, k4, n4)
    c = Tensor.empty((batch, m, n4), a.dtype_name, device)
    stride_a = m * k4 if batch_a > 1 else 0
    stride_b = k4 * n4 if batch_b > 1 else 0
    gemm(a, b, c, m, n4, k4, batch=batch, stride_a=stride_a, stride_b=stride_b, stride_c=m * n4, kernel=name)
    if n4 != n:
        c = _pad2d(c, batch, m, n4, m, n)
    return c.reshape(final_shape)


# linear(): rows of x up to which the fused kernel (shaders/linalg/linear.wgsl) replaces transpose + GEMM + bias
LINEAR_ROWS_MAX = 8


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
    m, k = x.shape
    n = w.shape[0]
    if b is not None and b.shape != (n,):
        raise ValueError(f"linear: bias must have shape ({n},), got {b.shape}")
    if device.pure:
        return pure.linear(x, w, b, relu)
    if not device.is_gpu:
        y = np.matmul(x.host(), w.host().T)
        if b is not None:
            y = y + b.host()
        if relu:
            y = np.maximum(y, 0)
        return Tensor.wrap_numpy(y.astype(np.float32, copy=False), device)
    fused = k % 4 == 0 and 0 < m <= LINEAR_ROWS_MAX and n > 0
    aligned = all(t.byte_offset % int(device.limits.get("min_storage_buffer_offset_alignment", 256)) == 0 for t in ts)
    name = gemm_kernel_for(device)
    if aligned and k % 4 == 0 and m > LINEAR_ROWS_MAX and n > 0 and name in FUSED_GEMMS:
        # one GEMM that reads w as stored (B transposed) and adds the bias / ReLU before its store: no transpose
        # or bias dispatches (3 of each per LeNet-5 forward)
        n4 = -(-n // 4) * 4
        if b is None and relu:
            from .elementwise import zeros

            b = zeros((n,), "float32", device)
        c = Tensor.empty((m, n4), "float32", device)
        gemm(x, w, c, m, n4, k, trans_b=n, bias=b, relu=relu, kernel=name)
        return c if n4 == n else _pad2d(c, 1, m, n4, m, n).reshape(m, n)
    if not (fused and aligned):
        from .elementwise import add, binary, unary
        from .layout import transpose

        y = matmul(x, transpose(w))
        if b is not None:
            return binary("add_relu", y, b) if relu else add(y, b)  # one pass for the bias and the ReLU
        return unary("relu", y) if relu else y
    out = Tensor.empty((m, n), "float32", device)
    rb = 1 if m == 1 else 4
    count = n * -(-m // rb)
    params = {"n": count, "M": m, "N": n, "K4": k // 4, "has_bias": int(b is not None), "relu": int(bool(relu))}
    bias = b if b is not None else w  # any f32 buffer; not read without has_bias
    device.kernel("linalg/linear.wgsl", WG=64, RB=rb)(
        device.grid_1d(-(-count // 64)), params, x_in=x, w=w, bias=bias, out=out
    )
    return out


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
    device = c.device
    name = kernel or gemm_kernel_for(device)
    if name not in GEMM_KERNELS:
        raise ValueError(f"gemm kernel {name!r}: choose one of {', '.join(GEMM_KERNELS)}")
    if name == "subgroup" and "subgroup" not in device.features:
        raise ValueError(f"matmul kernel 'subgroup' needs the subgroup feature, which {device.adapter} lacks")
    if (trans_b or bias is not None or relu) and name not in FUSED_GEMMS:
        raise ValueError(
            f"gemm: trans_b, bias and relu are options of the {' and '.join(FUSED_GEMMS)} kernels, not {name!r}"
        )
    if relu and bias is None:
        raise ValueError("gemm: relu is applied with a bias (pass bias=)")
    stride_a = m * k if stride_a is None else stride_a
    stride_b = (trans_b or k) * (k if trans_b else n) if stride_b is None else stride_b
    stride_c = m * n if stride_c is None else stride_c
    if n % 4 or k % 4 or stride_a % 4 or stride_b % 4 or stride_c % 4:
        raise ValueError(
            f"gemm: n={n}, k={k} and the strides ({stride_a}, {stride_b}, {stride_c}) must be multiples of 4 "
            "(pad the operands; see HOST_PAD4 in shaders/linalg)"
        )
    b_rows, b_cols = (trans_b, k) if trans_b else (k, n)
    operands_ = ((a, m, k, stride_a, "a"), (b, b_rows, b_cols, stride_b, "b"), (c, m, n, stride_c, "c"))
    for t, rows, cols, stride, label in operands_:
        need = (batch - 1) * stride + rows * cols
        if t.size < need:
            raise ValueError(f"gemm: operand {label} holds {t.size} elements, needs {need} ({batch} x {rows}x{cols})")
    limit = int(device.limits.get("max_compute_workgroups_per_dimension", 65535))
    if batch > limit:
        raise ValueError(f"gemm: batch of {batch} exceeds the adapter's {limit} workgroups per dimension")
    if m == 0 or n == 0 or batch == 0:
        return c
    path, tile_m, tile_n = GEMM_KERNELS[name]
    params = {"M": m, "N": n, "K": k, "batch": batch, "stride_a": stride_a, "stride_b": stride_b, "stride_c": stride_c}
    T = require_float("gemm", a, b, c, half=True)
    variant = {"T": T}
    bindings = {"a": a, "b": b, "c": c}
    if name in FUSED_GEMMS:
        variant.update(TRANS_B="true" if trans_b else "false", EPI=0 if bias is None else 2 if relu else 1)
        params["nb"] = trans_b
        bindings["bias"] = a if bias is None else bias  # any read-only buffer when unused
    if name == "subgroup":
        # 16 x 64 tiles when a 32-row tile would be mostly padding (e.g. 16 output channels of a convolution)
        short = m < 64 and 0 < m % 32 <= 16
        tile_m, tile_n = (16, 64) if short else (32, 32)
        variant.update(ROWS=tile_m, COLS=tile_n // 32)
    device.kernel(path, **variant)((-(-n // tile_n), -(-m // tile_m), batch), params, **bindings)
    return c
