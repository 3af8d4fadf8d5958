"""GEMM and the ops built on it (matmul, linear) on WebGPU: three kernels in one variant table.

- ``subgroup`` (shaders/linalg/matmul_subgroup.wgsl): A shared across lanes with subgroupBroadcast, 32x32 (or
  16x64) outputs per workgroup of 8; no barriers. Suits CPU adapters (lavapipe, SwiftShader), where a storage load
  costs ~50 FMAs and barriers are coroutine switches.
- ``register`` (matmul_register.wgsl): no subgroups, no workgroup memory; 16x8 outputs per invocation. Portable.
- ``tiled`` (matmul_tiled.wgsl): 64x64 workgroup tiles staged in workgroup memory, 4x4 per thread: the shape that
  suits discrete GPUs, where workgroup memory is fast and barriers are cheap.

The static order puts ``subgroup`` first on software adapters with subgroups and ``tiled`` first on GPUs; with
tuning on (GPUML_TUNE, gpuml.backends.variants) the first matmul of each shape class times the applicable ones.
All three read whole vec4 rows, so K and N are padded to multiples of 4 on the device when needed
(shaders/layout/pad2d.wgsl) and the padded output columns are cropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...backends.variants import Variant, VariantTable
from ...tensor import Tensor
from ._common import WG


@dataclass(frozen=True)
class GemmShape:
    m: int
    n: int
    k: int
    batch: int
    fused: bool  # trans_b / bias / relu options in use


def _bucket(v: int) -> int:
    return 1 << max(0, (v - 1).bit_length())  # next power of two: one tuning per octave


GEMM = VariantTable(
    "gemm",
    [
        Variant("subgroup", "linalg/matmul_subgroup.wgsl", {"ROWS": "32|16", "COLS": "1|2"},
                lambda caps, g: caps.subgroup_size > 0, "A shared by subgroupBroadcast; CPU adapters"),
        Variant("tiled", "linalg/matmul_tiled.wgsl", {"TILE": "64x64"},
                note="workgroup-memory tiles; GPUs"),
        Variant("register", "linalg/matmul_register.wgsl", {"TILE": "16x64"},
                lambda caps, g: g is None or not g.fused, "no subgroups, no shared memory; portable"),
    ],
    shape_class=lambda g: (_bucket(g.m), _bucket(g.n), _bucket(g.k), g.batch > 1, g.fused),
    force_setting="GPUML_GEMM",
    order=lambda caps: ["subgroup", "register", "tiled"] if caps.software else ["tiled", "subgroup", "register"],
)  # fmt: skip
GEMM_KERNELS = tuple(v.name for v in GEMM.variants)
_TILES = {"subgroup": (32, 32), "register": (16, 64), "tiled": (64, 64)}  # rows, columns per workgroup
FUSED_GEMMS = ("subgroup", "tiled")  # the kernels with the trans_b / bias / relu options


def gemm_kernel_for(device) -> str:
    """The GEMM variant the static order gives ``device`` (``GPUML_GEMM`` overrides)."""
    forced = GEMM.forced()
    return forced.name if forced else GEMM.applicable(device.caps, None)[0].name


def pad2d(x: Tensor, batch: int, rows: int, cols: int, rows_out: int, cols_out: int) -> Tensor:
    """x viewed as (batch, rows, cols), copied into (batch, rows_out, cols_out): zero padding or cropping."""
    device = x.device
    out = Tensor.empty((batch, rows_out, cols_out), x.dtype_name, device)
    n = batch * rows_out * cols_out
    kernel = device.kernel("layout/pad2d.wgsl", WG=WG, WORD="f16" if x.dtype_name == "float16" else "u32")
    params = {"n": n, "rows_in": rows, "cols_in": cols, "rows_out": rows_out, "cols_out": cols_out}
    kernel(device.grid_1d(-(-n // WG)), params, x_in=x, out=out)
    return out


def matmul(a: Tensor, b: Tensor, batch_shape, m: int, k: int, n: int, final_shape, kernel: str | None = None):
    device = a.device
    batch = math.prod(batch_shape)
    if batch * m * n == 0 or k == 0:
        return device.impl.fill(Tensor.empty(final_shape, "float32", device), 0)
    batch_a, batch_b = math.prod(a.shape[:-2]), math.prod(b.shape[:-2])
    k4, n4 = -(-k // 4) * 4, -(-n // 4) * 4
    if k4 != k:
        a = pad2d(a, batch_a, m, k, m, k4)
    if k4 != k or n4 != n:
        b = pad2d(b, batch_b, k, n, k4, n4)
    c = Tensor.empty((batch, m, n4), a.dtype_name, device)
    stride_a = m * k4 if batch_a > 1 else 0
    stride_b = k4 * n4 if batch_b > 1 else 0
    gemm(a, b, c, m, n4, k4, batch=batch, stride_a=stride_a, stride_b=stride_b, stride_c=m * n4, kernel=kernel)
    if n4 != n:
        c = pad2d(c, batch, m, n4, m, n)
    return c.reshape(final_shape)


# linear(): rows of x up to which the fused kernel (shaders/linalg/linear.wgsl) replaces transpose + GEMM + bias
LINEAR_ROWS_MAX = 8


def linear(x: Tensor, w: Tensor, b: Tensor | None, relu: bool) -> Tensor:
    """Small batches (``M <= LINEAR_ROWS_MAX``, ``K % 4 == 0``) run one kernel (shaders/linalg/linear.wgsl) that
    reads w in place. Larger ones (``K % 4 == 0``) run one GEMM that reads w as stored and applies the bias and ReLU
    before its store (LeNet-5's three layers: 9 dispatches -> 3, plus one crop where N % 4 != 0); otherwise (the
    register kernel) a GEMM against the transposed weights, then the bias and the ReLU."""
    device = x.device
    m, k = x.shape
    n = w.shape[0]
    ts = (x, w) if b is None else (x, w, b)
    fused = k % 4 == 0 and 0 < m <= LINEAR_ROWS_MAX and n > 0
    aligned = all(t.byte_offset % int(device.limits.get("min_storage_buffer_offset_alignment", 256)) == 0 for t in ts)
    if aligned and k % 4 == 0 and m > LINEAR_ROWS_MAX and n > 0:
        n4 = -(-n // 4) * 4
        shape = GemmShape(m, n4, k, 1, True)
        name = GEMM.forced().name if GEMM.forced() else None
        if name is None or name in FUSED_GEMMS:
            # one GEMM that reads w as stored (B transposed) and adds the bias / ReLU before its store: no
            # transpose or bias dispatches (3 of each per LeNet-5 forward)
            if b is None and relu:
                b = device.impl.fill(Tensor.empty((n,), "float32", device), 0)
            c = Tensor.empty((m, n4), "float32", device)
            gemm(x, w, c, m, n4, k, trans_b=n, bias=b, relu=relu, kernel=name, shape=shape)
            return c if n4 == n else pad2d(c, 1, m, n4, m, n).reshape(m, n)
    if not (fused and aligned):
        wt = device.impl.transpose(w, (1, 0), (k, n), [k, 1])
        y = matmul(x.reshape(1, m, k), wt.reshape(1, k, n), (1,), m, k, n, (m, n))
        if b is not None:
            strides = [n, 1], [0, 1]
            return device.impl.binary("add_relu" if relu else "add", y, b, 0.0, (m, n), *strides)
        return device.impl.unary("relu", y, 0.0, 0.0) if relu else y
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
    shape: GemmShape | None = None,
) -> Tensor:
    """Record ``c[z] = a[z] @ b[z]`` on operands already laid out for the GEMM kernels (gpuml.ops.gemm documents
    the layout). ``kernel`` forces a variant; otherwise GEMM.choose picks one (timing them the first time a shape
    class meets the adapter, when tuning is on)."""
    device = c.device
    stride_a = m * k if stride_a is None else stride_a
    stride_b = (trans_b or k) * (k if trans_b else n) if stride_b is None else stride_b
    stride_c = m * n if stride_c is None else stride_c
    fused = bool(trans_b or bias is not None or relu)
    if kernel is None:
        shape = shape or GemmShape(m, n, k, batch, fused)

        def run(variant: Variant) -> None:
            _record(device, variant.name, a, b, c, m, n, k, batch, stride_a, stride_b, stride_c, trans_b, bias, relu)

        kernel = GEMM.choose(device, shape, run).name
    GEMM[kernel]  # a clear error for an unknown name
    if kernel == "subgroup" and "subgroup" not in device.features:
        raise ValueError(f"matmul kernel 'subgroup' needs the subgroup feature, which {device.adapter} lacks")
    if fused and kernel not in FUSED_GEMMS:
        raise ValueError(
            f"gemm: trans_b, bias and relu are options of the {' and '.join(FUSED_GEMMS)} kernels, not {kernel!r}"
        )
    if relu and bias is None:
        raise ValueError("gemm: relu is applied with a bias (pass bias=)")
    if n % 4 or k % 4 or stride_a % 4 or stride_b % 4 or stride_c % 4:
        raise ValueError(
            f"gemm: n={n}, k={k} and the strides ({stride_a}, {stride_b}, {stride_c}) must be multiples of 4 "
            "(pad the operands; see HOST_PAD4 in shaders/linalg)"
        )
    b_rows, b_cols = (trans_b, k) if trans_b else (k, n)
    operands = ((a, m, k, stride_a, "a"), (b, b_rows, b_cols, stride_b, "b"), (c, m, n, stride_c, "c"))
    for t, rows, cols, stride, label in operands:
        need = (batch - 1) * stride + rows * cols
        if t.size < need:
            raise ValueError(f"gemm: operand {label} holds {t.size} elements, needs {need} ({batch} x {rows}x{cols})")
    limit = int(device.limits.get("max_compute_workgroups_per_dimension", 65535))
    if batch > limit:
        raise ValueError(f"gemm: batch of {batch} exceeds the adapter's {limit} workgroups per dimension")
    if m == 0 or n == 0 or batch == 0:
        return c
    _record(device, kernel, a, b, c, m, n, k, batch, stride_a, stride_b, stride_c, trans_b, bias, relu)
    return c


def _record(device, name, a, b, c, m, n, k, batch, stride_a, stride_b, stride_c, trans_b, bias, relu) -> None:
    tile_m, tile_n = _TILES[name]
    params = {"M": m, "N": n, "K": k, "batch": batch, "stride_a": stride_a, "stride_b": stride_b, "stride_c": stride_c}
    variant = {"T": "f16" if a.dtype_name == "float16" else "f32"}
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
    path = GEMM[name].shader
    device.kernel(path, **variant)((-(-n // tile_n), -(-m // tile_m), batch), params, **bindings)
