"""The shape of a 2-D convolution: :class:`ConvGeometry` (validated once by :func:`conv_geometry`, then handed to
every backend's implementation) and :func:`conv2d_flops`."""

from __future__ import annotations

from dataclasses import astuple, dataclass


@dataclass(frozen=True)
class ConvGeometry:
    N: int
    C: int
    H: int
    W: int
    OC: int
    G: int
    KH: int
    KW: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int

    @property
    def Cg(self) -> int:
        return self.C // self.G

    @property
    def OCg(self) -> int:
        return self.OC // self.G

    @property
    def OH(self) -> int:
        return (self.H + 2 * self.ph - self.dh * (self.KH - 1) - 1) // self.sh + 1

    @property
    def OW(self) -> int:
        return (self.W + 2 * self.pw - self.dw * (self.KW - 1) - 1) // self.sw + 1

    @property
    def P(self) -> int:
        return self.OH * self.OW

    @property
    def K(self) -> int:
        return self.Cg * self.KH * self.KW

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.OC, self.OH, self.OW)

    @property
    def flops(self) -> int:
        """Multiply-adds x 2 of the direct convolution (the figure GFLOP/s are quoted against)."""
        return 2 * self.N * self.OC * self.P * self.K

    @property
    def winograd_ok(self) -> bool:
        return (self.KH, self.KW, self.sh, self.sw, self.dh, self.dw) == (3, 3, 1, 1, 1, 1)

    def key(self) -> tuple:
        return astuple(self)

    def geometry_params(self) -> dict:
        return {"sh": self.sh, "sw": self.sw, "ph": self.ph, "pw": self.pw, "dh": self.dh, "dw": self.dw}

    def pick(self, *names: str) -> dict:
        """Uniform fields named like this geometry's attributes (C, H, W, OC, KH, ...), for a kernel's Params."""
        return {name: getattr(self, name) for name in names}


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"conv2d: {name} must be an int or a pair of ints, got {value!r}") from None
    if a < minimum or b < minimum:
        raise ValueError(f"conv2d: {name} must be >= {minimum}, got {(a, b)}")
    return a, b


def conv_geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, op: str = "conv2d") -> ConvGeometry:
    """Validate a convolution's shapes and hyper-parameters; errors name the problem."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: x must be NCHW (4-D), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{op}: w must be (OC, C/groups, KH, KW), got shape {tuple(w_shape)}")
    n, c, h, w_ = x_shape
    oc, cg, kh, kw = w_shape
    groups = int(groups)
    if groups < 1 or c % groups or oc % groups:
        raise ValueError(f"{op}: groups={groups} must divide C={c} and OC={oc}")
    if cg != c // groups:
        raise ValueError(f"{op}: w has {cg} input channels per group, x has C/groups = {c}/{groups} = {c // groups}")
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    if min(kh, kw) < 1:
        raise ValueError(f"{op}: kernel size must be >= 1, got {kh}x{kw}")
    geom = ConvGeometry(n, c, h, w_, oc, groups, kh, kw, sh, sw, ph, pw, dh, dw)
    if geom.OH < 1 or geom.OW < 1:
        raise ValueError(
            f"{op}: the (dilated) {kh}x{kw} kernel does not fit the padded {h}x{w_} input "
            f"(padding {(ph, pw)}, dilation {(dh, dw)})"
        )
    return geom


def conv2d_flops(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1) -> int:
    """2 x multiply-adds of the direct convolution (for GFLOP/s figures)."""
    return conv_geometry(x_shape, w_shape, stride, padding, dilation, groups).flops
