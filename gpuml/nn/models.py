"""Ready-made models and a small text spec for your own CNN.

Spec grammar: layers separated by ``|``; each layer is a keyword and arguments:

    conv OUT K [s<stride>] [pad<p>] [g<groups>] [ACTIVATION] [bn]
    fc OUT [ACTIVATION]         maxpool K [s<stride>]     avgpool K [s<stride>]
    flatten    ACTIVATION    bn    dropout RATE

    ACTIVATION: relu | tanh | sigmoid | gelu | gelu_tanh | leakyrelu [SLOPE]
    (gelu is the exact form, gelu_tanh the tanh approximation; leakyrelu's slope defaults to 0.01)

A trailing activation or ``bn`` on a conv/fc line adds that layer after it (``bn`` before the activation),
e.g. ``fc 64 gelu``, ``conv 16 3 pad1 bn leakyrelu 0.1``.
A ``flatten`` is inserted before the first ``fc`` when missing.
"""

from __future__ import annotations

from .activations import GELU, LeakyReLU, Sigmoid
from .layers import AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Tanh
from .sequential import Sequential

LENET5_MODERN = (
    "conv 6 5 pad2 relu | maxpool 2 | conv 16 5 relu | maxpool 2 | flatten | fc 120 relu | fc 84 relu | fc 10"
)
LENET5_MODERN_BN = (
    "conv 6 5 pad2 bn relu | maxpool 2 | conv 16 5 bn relu | maxpool 2 | flatten | fc 120 relu | fc 84 relu | fc 10"
)
# LeCun et al. 1998: tanh, average pooling (subsampling), 28x28 input padded by 2 to the paper's 32x32.
LENET5_CLASSIC = (
    "conv 6 5 pad2 tanh | avgpool 2 | conv 16 5 tanh | avgpool 2 | flatten | fc 120 tanh | fc 84 tanh | fc 10"
)

# For scikit-learn's 8x8 digits, where LeNet-5's 5x5 convolutions do not fit: two padded 3x3 convolutions.
DIGITS_CNN = "conv 16 3 pad1 relu | maxpool 2 | conv 32 3 pad1 relu | maxpool 2 | flatten | fc 10"

MODELS = {
    "lenet5": LENET5_MODERN,
    "lenet5-bn": LENET5_MODERN_BN,
    "lenet5-classic": LENET5_CLASSIC,
    "digits-cnn": DIGITS_CNN,
}


class SpecError(ValueError):
    """A model spec could not be parsed or does not fit the input shape."""


def _int(token: str, what: str, layer: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise SpecError(f"in layer '{layer}': bad token '{token}' (expected {what}, an integer)") from None
    if value <= 0:
        raise SpecError(f"in layer '{layer}': {what} must be positive, got {value}")
    return value


ACTIVATIONS = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "gelu_tanh": lambda: GELU("tanh"),
    "leakyrelu": LeakyReLU,
}


def _slope(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def _activation(args: list[str], i: int) -> tuple[Module, int] | None:
    """The activation named by ``args[i]`` (leakyrelu takes an optional slope after it) and the next index."""
    low = args[i].lower()
    if low not in ACTIVATIONS:
        return None
    if low == "leakyrelu" and i + 1 < len(args) and _slope(args[i + 1]) is not None:
        return LeakyReLU(_slope(args[i + 1])), i + 2
    return ACTIVATIONS[low](), i + 1


def _layers_of(part: str) -> list[Module]:
    tokens = part.split()
    if not tokens:
        raise SpecError("empty layer (two '|' in a row?)")
    kind, args = tokens[0].lower(), tokens[1:]
    layers: list[Module] = []
    extra: list[Module] = []
    if kind == "conv":
        if len(args) < 2:
            raise SpecError(f"in layer '{part}': conv needs OUT_CHANNELS and KERNEL")
        out, k = _int(args[0], "output channels", part), _int(args[1], "kernel size", part)
        stride, pad, groups = 1, 0, 1
        i = 2
        while i < len(args):
            t, low = args[i], args[i].lower()
            act = _activation(args, i)
            i = act[1] if act else i + 1
            if act:
                extra.append(act[0])
            elif low.startswith("pad"):
                pad = int(low[3:]) if low[3:].isdigit() else _int(low[3:], "padding", part)
            elif low.startswith("s") and low[1:].isdigit():
                stride = _int(low[1:], "stride", part)
            elif low.startswith("g") and low[1:].isdigit():
                groups = _int(low[1:], "groups", part)
            elif low == "bn":
                extra.append(BatchNorm2d())
            else:
                raise SpecError(
                    f"in layer '{part}': bad token '{t}' (expected pad<N>, s<N>, g<N>, bn or an activation: "
                    f"{', '.join(ACTIVATIONS)})"
                )
        layers.append(Conv2d(None, out, k, stride=stride, padding=pad, groups=groups))
    elif kind == "fc":
        if not args:
            raise SpecError(f"in layer '{part}': fc needs OUT_FEATURES")
        layers.append(Linear(None, _int(args[0], "output features", part)))
        i = 1
        while i < len(args):
            act = _activation(args, i)
            if act is None:
                raise SpecError(
                    f"in layer '{part}': bad token '{args[i]}' (expected an activation: {', '.join(ACTIVATIONS)})"
                )
            extra.append(act[0])
            i = act[1]
    elif kind in ("maxpool", "avgpool"):
        if not args:
            raise SpecError(f"in layer '{part}': {kind} needs a window size")
        k = _int(args[0], "window size", part)
        stride = k
        for t in args[1:]:
            if t.lower().startswith("s") and t[1:].isdigit():
                stride = _int(t[1:], "stride", part)
            else:
                raise SpecError(f"in layer '{part}': bad token '{t}' (expected s<N>)")
        layers.append((MaxPool2d if kind == "maxpool" else AvgPool2d)(k, stride))
    elif kind in ("flatten", "bn") and not args:
        layers.append(Flatten() if kind == "flatten" else BatchNorm2d())
    elif kind in ACTIVATIONS and ((act := _activation(tokens, 0)) is not None) and act[1] == len(tokens):
        layers.append(act[0])
    elif kind == "dropout":
        rate = float(args[0]) if args else 0.5
        layers.append(Dropout(rate))
    else:
        raise SpecError(
            f"bad token '{tokens[0]}' in layer '{part}' (expected conv, fc, maxpool, avgpool, flatten, bn, dropout "
            f"or an activation: {', '.join(ACTIVATIONS)})"
        )
    # bn goes right after the conv, before the activation
    extra.sort(key=lambda m: not isinstance(m, BatchNorm2d))
    return layers + extra


def parse_spec(spec: str) -> list[Module]:
    """The layers of a spec (or a name in MODELS), not yet built."""
    spec = MODELS.get(spec, spec)
    layers: list[Module] = []
    for part in spec.split("|"):
        new = _layers_of(part.strip())
        if isinstance(new[0], Linear) and not any(isinstance(m, Flatten) for m in layers):
            layers.append(Flatten())
        layers.extend(new)
    return layers


def from_spec(spec: str, input_shape=(1, 28, 28), device=None, seed: int = 0) -> Sequential:
    """Build a model from a text spec (see the module docstring); shape errors name the layer."""
    spec = MODELS.get(spec, spec)
    model = Sequential(*parse_spec(spec))
    model.spec = spec
    try:
        return model.build(input_shape, device, seed)
    except ValueError as exc:
        raise SpecError(f"model spec does not fit input {tuple(input_shape)}: {exc}") from None


def lenet5(kind: str = "modern", batch_norm: bool = False, device=None, seed: int = 0) -> Sequential:
    """LeNet-5 for 28x28 MNIST: ``kind="modern"`` (ReLU, max pooling, optional batch norm) or ``"classic"``
    (tanh, average pooling, as LeCun et al. 1998 with the 28x28 input padded to 32x32)."""
    if kind == "classic":
        spec = LENET5_CLASSIC
    elif kind == "modern":
        spec = LENET5_MODERN_BN if batch_norm else LENET5_MODERN
    else:
        raise ValueError(f"LeNet-5 kind must be 'modern' or 'classic', got {kind!r}")
    return from_spec(spec, (1, 28, 28), device, seed)


def _spec_part(layer: Module) -> str | None:
    kind = type(layer)
    if kind in (ReLU, Tanh, Flatten, Sigmoid):
        return kind.__name__.lower()
    if kind is GELU:
        return "gelu" if layer.approximate == "none" else "gelu_tanh"
    if kind is LeakyReLU:
        return f"leakyrelu {layer.negative_slope!r}"
    if kind is Linear and layer.bias:
        return f"fc {layer.out_features}"
    if kind is Conv2d and layer.bias and layer.dilation == (1, 1):
        (k, k2), (s, s2), (p, p2) = layer.kernel, layer.stride, layer.padding
        if k == k2 and s == s2 and p == p2:
            g = layer.groups
            return f"conv {layer.out_channels} {k}" + f" s{s}" * (s != 1) + f" pad{p}" * (p != 0) + f" g{g}" * (g != 1)
    if kind in (MaxPool2d, AvgPool2d) and layer.padding == (0, 0):
        (k, k2), (s, s2) = layer.kernel, layer.stride
        if k == k2 and s == s2:
            return f"{kind.__name__[:3].lower()}pool {k}" + f" s{s}" * (s != k)
    if kind is BatchNorm2d and (layer.eps, layer.momentum) == (1e-5, 0.1):
        return "bn"
    if kind is Dropout and layer.seed == 0:
        return f"dropout {layer.rate!r}"
    return None


def _same_layers(spec_layers: list[Module], layers: list[Module]) -> bool:
    """Same classes and constructor arguments (a spec leaves input sizes open: None there matches anything)."""
    if [type(m) for m in spec_layers] != [type(m) for m in layers]:
        return False
    for a, b in zip(spec_layers, layers, strict=True):
        cb = b.config()
        if any(v is not None and cb.get(k) != v for k, v in a.config().items()):
            return False
    return True


def spec_of(model: Sequential) -> str | None:
    """A spec that rebuilds ``model``'s exact layer list (its own ``spec`` while that still matches), or None when
    a layer or an argument has no spec form (the model is then described by its layer list alone)."""
    parts = [_spec_part(m) for m in model.layers]
    candidates = [getattr(model, "spec", None), None if None in parts else " | ".join(parts)]
    for spec in filter(None, candidates):
        try:
            if _same_layers(parse_spec(spec), model.layers):
                return spec
        except SpecError:
            continue
    return None
