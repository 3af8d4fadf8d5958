"""2-D max and average pooling on WebGPU (shaders/pool/): the ``pool`` variant table and the host code.

Every kernel runs one invocation per output (forward) or per input pixel (backward: a gather over the windows that
contain it, no atomics, deterministic), except where the windows tile the input exactly (stride = kernel, no
padding, sizes divisible, e.g. LeNet's 2x2 pools):

- ``max_2x2_vec4`` / ``max_backward_2x2_vec4``: 2x2 windows over rows of a multiple of 4 floats, two windows per
  invocation from aligned vec4s;
- ``max_tiled`` / ``max_backward_tiled``: any tiling window, its size as template constants; no bounds checks
  forward, and backward one invocation per window writes its pixels instead of gathering;
- ``max_window`` / ``max_backward_gather`` / ``avg`` / ``avg_backward``: any window, stride and padding.

The table's order is the static default (most specialised first); with tuning on (GPUML_TUNE,
gpuml.backends.variants) the first pooling of each shape class times the applicable variants. ``g`` is the
geometry dict that gpuml.ops.pool validates (N, C, H, W, OH, OW, KH, KW, sh, sw, ph, pw).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...backends.variants import Variant, VariantTable
from ...tensor import Tensor, contiguous_strides
from ._common import WG

MAX, MAX_BACKWARD, AVG, AVG_BACKWARD = "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"


@dataclass(frozen=True)
class PoolCase:
    """What a pooling variant's ``applies`` looks at: the op and its window geometry."""

    op: str  # max_pool2d | max_pool2d_backward | avg_pool2d | avg_pool2d_backward
    planes: int  # N * C
    h: int
    w: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    @classmethod
    def of(cls, op: str, g: dict) -> PoolCase:
        keys = ("H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw")
        return cls(op, g["N"] * g["C"], *(g[k] for k in keys))

    @property
    def tiles(self) -> bool:
        """The windows tile the input exactly: every pixel lies in one window."""
        same = (self.sh, self.sw, self.ph, self.pw) == (self.kh, self.kw, 0, 0)
        return same and self.h == self.oh * self.kh and self.w == self.ow * self.kw

    @property
    def pairs(self) -> bool:
        """2x2 tiling windows over rows of a multiple of 4 floats: two windows per aligned vec4."""
        return self.tiles and (self.kh, self.kw) == (2, 2) and self.w % 4 == 0


def _bucket(v: int) -> int:
    return 1 << max(0, (v - 1).bit_length())  # next power of two: one tuning per octave


def _on(op: str, shape: str = ""):
    return lambda caps, g: g.op == op and (not shape or getattr(g, shape))


POOL = VariantTable(
    "pool",
    [
        Variant("max_2x2_vec4", "pool/max_pool_2x2_vec4.wgsl", {"WG": WG}, _on(MAX, "pairs"),
                "2x2 tiling windows, rows % 4 == 0: two windows per invocation from vec4s"),
        Variant("max_tiled", "pool/max_pool_tiled.wgsl", {"WG": WG}, _on(MAX, "tiles"),
                "tiling windows (KH, KW template constants): no bounds checks"),
        Variant("max_window", "pool/max_pool.wgsl", {"WG": WG}, _on(MAX), "any window, stride, padding"),
        Variant("max_backward_2x2_vec4", "pool/max_pool_2x2_vec4_backward.wgsl", {"WG": WG},
                _on(MAX_BACKWARD, "pairs"), "one invocation per pair of 2x2 windows writes their pixels"),
        Variant("max_backward_tiled", "pool/max_pool_backward_tiled.wgsl", {"WG": WG}, _on(MAX_BACKWARD, "tiles"),
                "one invocation per window writes its pixels (KH, KW template constants)"),
        Variant("max_backward_gather", "pool/max_pool_backward.wgsl", {"WG": WG}, _on(MAX_BACKWARD),
                "one invocation per input pixel gathers over its windows"),
        Variant("avg", "pool/avg_pool.wgsl", {"WG": WG}, _on(AVG), "one invocation per output"),
        Variant("avg_backward", "pool/avg_pool_backward.wgsl", {"WG": WG}, _on(AVG_BACKWARD),
                "one invocation per input pixel gathers over its windows"),
    ],
    shape_class=lambda g: (g.op, g.kh, g.kw, g.tiles, g.pairs, _bucket(g.planes * g.oh * g.ow)),
)  # fmt: skip
_TWO_WINDOWS = ("max_2x2_vec4", "max_backward_2x2_vec4")  # one invocation per two windows
_WINDOW_CONSTANTS = ("max_tiled", "max_backward_tiled")  # KH, KW as template constants


def _params(g: dict, n: int, count_include_pad: bool = False) -> dict:
    """The uniform of pool/pool_common.wgsl (count_include_pad only read by the average kernels)."""
    keys = ("H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw")
    return {"n": n, **{k: g[k] for k in keys}, "count_include_pad": int(bool(count_include_pad))}


def _launch(device, variant: Variant, g: dict, n: int, bindings: dict, count_include_pad=False, **template) -> None:
    """Record ``variant`` over ``n`` outputs (or input pixels); the two-window kernels take half as many."""
    if variant.name in _TWO_WINDOWS:
        n //= 2
    if variant.name in _WINDOW_CONSTANTS:
        template.update(KH=g["KH"], KW=g["KW"])
    kernel = device.kernel(variant.shader, **variant.template, **template)
    kernel(device.grid_1d(-(-n // WG)), _params(g, n, count_include_pad), **bindings)


TRIAL_DISPATCHES = 8  # a pooling kernel takes microseconds: time several per sync so the sync does not dominate


def _choose(device, op: str, g: dict, run, kernel: str | None) -> None:
    """Run the variant ``kernel`` names, else the one POOL.choose picks (timing them first when tuning)."""
    case = PoolCase.of(op, g)
    if kernel is None:
        variant = POOL.choose(device, case, lambda v: [run(v) for _ in range(TRIAL_DISPATCHES)])
    else:
        variant = POOL[kernel]
        if not variant.applies(device.caps, case):
            raise ValueError(f"pool: kernel {kernel!r} does not apply to {op} with {case}")
    device.op_state.setdefault("pool.last", {})[op] = variant.name
    run(variant)


def last_pool_kernel(device, op: str = MAX) -> str | None:
    """The pooling variant that last ran ``op`` on ``device`` (None before the first)."""
    return device.op_state.get("pool.last", {}).get(op)


def max_pool2d(x: Tensor, g: dict, *, kernel: str | None = None) -> tuple[Tensor, Tensor]:
    device = x.device
    out_shape = (g["N"], g["C"], g["OH"], g["OW"])
    out = Tensor.empty(out_shape, x.dtype_name, device)
    idx = Tensor.empty(out_shape, "int32", device)
    if out.size:
        T = "f16" if x.dtype_name == "float16" else "f32"

        def run(variant: Variant) -> None:
            _launch(device, variant, g, out.size, {"x_in": x, "out": out, "idx": idx}, T=T)

        _choose(device, MAX, g, run, kernel)
    return out, idx


def max_pool2d_backward(
    gy: Tensor, idx: Tensor, g: dict, relu_out: Tensor | None, *, kernel: str | None = None
) -> Tensor:
    """``relu_out``: fuse the backward of a ReLU before the pool (the tiled kernels gate in place; the gather
    kernel takes the gated gradient)."""
    device = gy.device
    gx = Tensor.empty((g["N"], g["C"], g["H"], g["W"]), "float32", device)
    if gx.size:
        gate = "true" if relu_out is not None else "false"
        gated = None

        def run(variant: Variant) -> None:
            nonlocal gated
            if variant.name == "max_backward_gather":
                if relu_out is not None and gated is None:
                    strides = contiguous_strides(gy.shape)
                    gated = device.impl.binary("relu_grad", gy, relu_out, 0.0, gy.shape, strides, strides)
                bindings = {"gy": gy if relu_out is None else gated, "idx": idx, "gx": gx}
                _launch(device, variant, g, gx.size, bindings)
            else:
                bindings = {"gy": gy, "idx": idx, "gx": gx, "y": gy if relu_out is None else relu_out}
                _launch(device, variant, g, gy.size, bindings, GATE=gate)

        _choose(device, MAX_BACKWARD, g, run, kernel)
    return gx


def avg_pool2d(x: Tensor, g: dict, count_include_pad: bool, *, kernel: str | None = None) -> Tensor:
    device = x.device
    out = Tensor.empty((g["N"], g["C"], g["OH"], g["OW"]), x.dtype_name, device)
    if out.size:
        T = "f16" if x.dtype_name == "float16" else "f32"

        def run(variant: Variant) -> None:
            _launch(device, variant, g, out.size, {"x_in": x, "out": out}, count_include_pad, T=T)

        _choose(device, AVG, g, run, kernel)
    return out


def avg_pool2d_backward(gy: Tensor, g: dict, count_include_pad: bool, *, kernel: str | None = None) -> Tensor:
    device = gy.device
    gx = Tensor.empty((g["N"], g["C"], g["H"], g["W"]), "float32", device)
    if gx.size:

        def run(variant: Variant) -> None:
            _launch(device, variant, g, gx.size, {"gy": gy, "gx": gx}, count_include_pad)

        _choose(device, AVG_BACKWARD, g, run, kernel)
    return gx
