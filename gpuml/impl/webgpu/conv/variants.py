"""The conv2d forward kernels as one variant table (family ``conv2d``), and the static order that ``auto`` follows
without measurements.

Variants (WGSL in shaders/conv/; ``applies`` says where each can run):

- ``implicit_rows`` (implicit_rows.wgsl): an implicit GEMM whose window slides along input rows, weights shared by
  subgroupBroadcast; one group, stride and dilation 1 across, KW <= 5, subgroups of >= 4 lanes, f32.
- ``implicit`` (implicit.wgsl): an implicit GEMM, 16 channels x 4 pixels per invocation, inputs gathered inside the
  loop (no column matrix); needs OH * OW % 4 == 0. The one forward kernel templated on f32 / f16.
- ``direct`` (direct.wgsl with OC_BLOCK = 4 / 8 / 16, direct8x16.wgsl): register-blocked, 4 / 8 / 16 output
  channels (8 and 16 on CPU adapters only) x 8 or 16 pixels of a row per invocation, weights packed as vec4s.
- ``im2col`` (im2col.wgsl -> linalg gemm -> bias_act.wgsl): a column matrix and one batched GEMM over the groups.
- ``winograd2`` / ``winograd4``: F(2x2,3x3) / F(4x4,3x3) for 3x3, stride 1, dilation 1 (input transform, batched
  GEMM over the transform positions, output transform).

NaN/Inf inputs: every kernel but Winograd multiplies only the taps of each output's receptive field (padding lanes,
junk pixels and zero-padded weight taps never meet an input outside it: 0 * NaN = NaN), so non-finite outputs are
exactly the float64 reference's; the fused ReLU keeps NaN. Winograd's transforms mix a tile's neighbours: a NaN/Inf
input may reach every output of an m x m tile whose (m+2) x (m+2) input patch holds it, and ±Inf may become NaN
(documented on gpuml.ops.conv2d; tests/test_conv.py, test_nonfinite_*).

``conv2d(algo="direct")`` runs the direct family (implicit_rows, implicit, direct) in static order; the report
(``last_conv_algo``) names the kernel. The static order encodes the rule measured on lavapipe (the crossovers of
``gpuml bench conv``; the numbers are in benchmarks/RESULTS.md, "conv auto rule"):

1. CPU adapters, 3x3 / stride 1 / dilation 1 with ``Cg, OCg >= 16``: Winograd, ``winograd4`` where the output is at
   least 8 x 8, else ``winograd2`` (the transforms beat im2col and the row kernels there);
2. few channels per group (``Cg * OCg < 64``: LeNet conv1, depthwise; on CPU adapters ``Cg * OCg <= 256``, which
   takes LeNet conv2): the direct family, where a GEMM tile would mostly idle and the column buffer costs more than
   the arithmetic. On CPU adapters ``implicit_rows`` where it applies, then ``implicit`` where its 16-row tile is at
   least a third used (``OCg > 4``), else ``direct``; on GPUs ``direct``;
3. GPUs: 3x3 / stride 1 / dilation 1 with ``Cg, OCg >= 64`` and ``Cg * N * OH * OW >= 400k`` (enough work per
   transform position): Winograd, ``winograd4`` when ``Cg >= 128`` and ``N*OH*OW >= 16384`` or ``OH*OW >= 3136``,
   else ``winograd2`` (the usual GPU crossovers, not measured here: tuning measures them on the first GPU);
4. otherwise ``im2col`` (strided and dilated convolutions with many channels).

With tuning on (``GPUML_TUNE=1``; ``GPUML_CONV_AUTOTUNE`` or ``conv_autotune()`` decide for convolutions alone),
the first ``auto`` convolution of a shape class on an adapter times every variant that applies and remembers the
fastest (gpuml.backends.variants).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ....backends.variants import DeviceCaps, Variant, VariantTable, measure
from ....config import flag, setting


@dataclass(frozen=True)
class ConvCase:
    """What the table decides on: the geometry (gpuml.ops.conv.ConvGeometry), the element type and the device's
    workgroups-per-dimension limit (implicit_rows launches one workgroup per 8 x 4 output pixels)."""

    g: Any
    f16: bool = False
    grid_limit: int = 65535


def rows_fit(caps: DeviceCaps, case: ConvCase) -> bool:
    """implicit_rows.wgsl: f32, one group, stride and dilation 1 across, KW <= 5, subgroups of >= 4 lanes."""
    g = case.g
    groups = -(-g.N * g.OH * -(-g.OW // 4) // 8)
    shape_ok = g.G == 1 and g.sw == 1 and g.dw == 1 and g.KW <= 5
    return not case.f16 and shape_ok and caps.subgroup_size >= 4 and groups <= case.grid_limit


def _f32(caps: DeviceCaps, case: ConvCase) -> bool:
    return not case.f16


CONV2D_VARIANTS = [
    Variant("implicit_rows", "conv/implicit_rows.wgsl", {"ROWS": "8|16", "KW": "1..5", "LANES": "4|8"}, rows_fit,
            "row-sliding implicit GEMM, weights by subgroupBroadcast; CPU adapters"),
    Variant("implicit", "conv/implicit.wgsl", {"T": "f32|f16"}, lambda caps, c: c.g.P % 4 == 0,
            "implicit GEMM, 16 channels x 4 pixels; the f16 kernel"),
    Variant("direct", "conv/direct.wgsl", {"OC_BLOCK": "4|8|16", "PX": "8|16 (direct8x16.wgsl)"}, _f32,
            "register-blocked direct convolution; few channels per group"),
    Variant("im2col", "conv/im2col.wgsl", {"GEMM": "linalg gemm"}, _f32, "column matrix + batched GEMM"),
    Variant("winograd4", "conv/winograd_input.wgsl", {"M": 4}, lambda caps, c: not c.f16 and c.g.winograd_ok,
            "F(4x4,3x3)"),
    Variant("winograd2", "conv/winograd_input.wgsl", {"M": 2}, lambda caps, c: not c.f16 and c.g.winograd_ok,
            "F(2x2,3x3)"),
]  # fmt: skip

# The public algorithm (conv2d's ``algo``) each kernel belongs to; for f16 tensors "implicit" is public itself.
ALGO_OF = {"implicit_rows": "direct", "implicit": "direct", "direct": "direct", "im2col": "im2col",
           "winograd2": "winograd2", "winograd4": "winograd4"}  # fmt: skip
FAMILY = {"direct": ("implicit_rows", "implicit", "direct"), "implicit": ("implicit",), "im2col": ("im2col",),
          "winograd2": ("winograd2",), "winograd4": ("winograd4",)}  # fmt: skip
_FALLBACK = ("im2col", "winograd4", "winograd2")


# --- the static order: the measured rule as named predicates ----------------------------------------------------


def winograd_software(caps: DeviceCaps, g) -> bool:
    return caps.software and g.winograd_ok and g.Cg >= 16 and g.OCg >= 16


def few_channels(caps: DeviceCaps, g) -> bool:
    return g.Cg * g.OCg < 64 or (caps.software and g.Cg * g.OCg <= 256)


def winograd_gpu(caps: DeviceCaps, g) -> bool:
    return g.winograd_ok and g.Cg >= 64 and g.OCg >= 64 and g.Cg * g.N * g.P >= 400_000


def direct_family_order(caps: DeviceCaps, g) -> list[str]:
    if not caps.software:
        return ["direct", "implicit_rows", "implicit"]
    return ["implicit_rows", "implicit", "direct"] if g.OCg > 4 else ["implicit_rows", "direct", "implicit"]


def static_order(caps: DeviceCaps, case: ConvCase) -> list[str]:
    """Every variant name, the one the rule prefers for ``case`` first (the variants that cannot run are skipped
    later, by ``applies``)."""
    g = case.g
    if winograd_software(caps, g):
        first = ["winograd4" if g.OH >= 8 and g.OW >= 8 else "winograd2"]
    elif few_channels(caps, g):
        first = direct_family_order(caps, g)
    elif winograd_gpu(caps, g):
        first = ["winograd4" if g.Cg >= 128 and (g.N * g.P >= 16384 or g.P >= 3136) else "winograd2"]
    else:
        first = ["im2col"]
    # the rest keep the direct family's own order: conv2d(algo="direct") takes its first that applies
    return first + [name for name in (*_FALLBACK, *direct_family_order(caps, g)) if name not in first]


def _bucket(v: int) -> int:
    return 1 << max(0, (v - 1).bit_length())  # next power of two: one tuning per octave of work


def shape_class(case: ConvCase) -> tuple:
    g = case.g
    return (g.G > 1, g.Cg, g.OCg, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, _bucket(g.N * g.P))


def tuning(device) -> bool:
    """Whether ``auto`` convolutions on ``device`` are tuned by measurement: conv_autotune(True / False) on the
    device, else GPUML_CONV_AUTOTUNE=1 / 0, else GPUML_TUNE decides."""
    override = device.op_state.get("conv2d.autotune")
    if override is not None:
        return bool(override)
    mode = setting("GPUML_CONV_AUTOTUNE")
    return mode == "1" or (mode != "0" and flag("GPUML_TUNE"))


class ConvTable(VariantTable):
    """A variant table whose static order depends on the geometry as well as the device (:func:`static_order`)."""

    def applicable(self, caps: DeviceCaps, geometry: ConvCase) -> list[Variant]:
        names = static_order(caps, geometry)
        return [self.by_name[n] for n in names if self.by_name[n].applies(caps, geometry)]

    def choose(self, device, geometry: ConvCase, run=None) -> Variant:
        """As VariantTable.choose, with conv's own switch (:func:`tuning`) in place of GPUML_TUNE."""
        tune = run is not None and tuning(device)
        if not tune or flag("GPUML_TUNE"):
            return super().choose(device, geometry, run if tune else None)
        # tuned by conv's switch alone (GPUML_TUNE=0): the same measurement for convolutions only, on first use (asked
        # for explicitly, so GPUML_TUNE_AFTER does not apply)
        options = self.applicable(device.caps, geometry)
        if len(options) <= 1 or not device.can_block():
            return super().choose(device, geometry, None)
        key = (self.family, *self.shape_class(geometry))
        name = device.tune_cache.get(key)
        if name in self.by_name and self.by_name[name] in options:
            return self.by_name[name]
        best = measure(device, options, run)
        device.tune_cache.put(key, best.name)
        return best

    def static_in(self, caps: DeviceCaps, case: ConvCase, names) -> Variant:
        """The first variant of ``names`` (a public algorithm's family) in static order that applies."""
        for v in self.applicable(caps, case):
            if v.name in names:
                return v
        raise ValueError(f"{self.family}: none of {', '.join(names)} applies to {case.g}")


CONV2D = ConvTable("conv2d", CONV2D_VARIANTS, shape_class=shape_class)

# A GPU with no subgroups: the static choice when no device is named (gpuml.ops.choose_conv_algo(g)).
GENERIC_GPU = DeviceCaps(backend="webgpu", software=False, subgroup_size=0, f16=False, timestamps=False)


def static_algo(caps: DeviceCaps, g, grid_limit: int = 65535) -> str:
    """The public algorithm ``auto`` runs by the static order."""
    return ALGO_OF[CONV2D.applicable(caps, ConvCase(g, False, grid_limit))[0].name]
