"""Export a trained model to ONNX, to run it anywhere else (onnxruntime, TensorRT, OpenVINO, ONNX.js, ...).

    import gpuml.export
    gpuml.export.onnx(model, "model.onnx")           # ONNX opset 17 (DEFAULT_OPSET)

or ``gpuml export model.npz model.onnx`` on the command line. The graph is built with the ``onnx`` package
(``pip install "gpuml[export]"``) and checked with ``onnx.checker`` (full check: shape inference must agree with
the model's own shapes). What the file holds:

- one input ``input``: float32 (N, C, H, W), or (N, F) for a model whose input is flat, N dynamic;
  one output ``logits``: float32 (N, ...) as gpuml's ``model.forward``;
- inference semantics whatever mode the model is in: Dropout is left out, BatchNorm2d normalises with its
  running statistics;
- the layers as ONNX operators: Conv2d -> Conv (stride, padding, dilation, groups), Linear -> Gemm (transB=1),
  ReLU -> Relu, Tanh -> Tanh, Sigmoid -> Sigmoid, LeakyReLU -> LeakyRelu, GELU -> Gelu (opset >= 20; below, its
  formula from Erf or Tanh), MaxPool2d -> MaxPool, AvgPool2d -> AveragePool (count_include_pad as the layer),
  BatchNorm2d -> BatchNormalization, Flatten -> Flatten. A layer without a conversion raises NotImplementedError
  naming it.

Opsets 13 up to what the installed onnx knows can be asked for; the default, 17, is read by every onnxruntime
since 1.11. The file's IR version is the lowest that opset allows, so older runtimes load it too.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .nn.sequential import Sequential

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Gemm, Relu, Tanh, Sigmoid, Flatten, Erf in their current forms
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
MISSING_ONNX = 'gpuml.export needs the onnx package: pip install "gpuml[export]" (or pip install onnx)'


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError(MISSING_ONNX) from None
    return onnx, helper, numpy_helper


class _Graph:
    """Nodes and initializers of the graph being built; each layer adds its nodes and returns its output's name."""

    def __init__(self, helper, numpy_helper, state: dict, opset: int):
        self.helper, self.numpy_helper, self.state, self.opset = helper, numpy_helper, state, opset
        self.nodes: list = []
        self.initializers: list = []

    def param(self, i: int, name: str) -> str:
        key = f"{i}.{name}"
        self.initializers.append(self.numpy_helper.from_array(np.asarray(self.state[key], np.float32), key))
        return key

    def const(self, name: str, value: float) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.array(value, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


# --- one converter per layer type, looked up by class name along the MRO (optional layers need no import) -------


def _conv(g: _Graph, i: int, layer, x: str) -> str:
    inputs = [x, g.param(i, "weight")] + ([g.param(i, "bias")] if layer.bias else [])
    ph, pw = layer.padding
    return g.node(
        "Conv",
        inputs,
        f"{i}.conv",
        kernel_shape=list(layer.kernel),
        strides=list(layer.stride),
        pads=[ph, pw, ph, pw],
        dilations=list(layer.dilation),
        group=layer.groups,
    )


def _linear(g: _Graph, i: int, layer, x: str) -> str:
    inputs = [x, g.param(i, "weight")] + ([g.param(i, "bias")] if layer.bias else [])
    return g.node("Gemm", inputs, f"{i}.linear", transB=1)


def _pool(op: str):
    def convert(g: _Graph, i: int, layer, x: str) -> str:
        ph, pw = layer.padding
        attrs = {"kernel_shape": list(layer.kernel), "strides": list(layer.stride), "pads": [ph, pw, ph, pw]}
        if op == "AveragePool":  # gpuml divides by the full window by default, as PyTorch
            attrs["count_include_pad"] = int(getattr(layer, "count_include_pad", True))
        return g.node(op, [x], f"{i}.{op.lower()}", **attrs)

    return convert


def _batchnorm(g: _Graph, i: int, layer, x: str) -> str:
    names = [g.param(i, n) for n in ("weight", "bias", "running_mean", "running_var")]
    return g.node("BatchNormalization", [x, *names], f"{i}.batchnorm", epsilon=layer.eps)


def _unary(op: str):
    def convert(g: _Graph, i: int, layer, x: str) -> str:
        return g.node(op, [x], f"{i}.{op.lower()}")

    return convert


def _leaky_relu(g: _Graph, i: int, layer, x: str) -> str:
    slope = getattr(layer, "negative_slope", getattr(layer, "alpha", None))
    if slope is None:
        raise NotImplementedError(f"layer {i} ({layer.describe()}): cannot read its negative slope")
    return g.node("LeakyRelu", [x], f"{i}.leakyrelu", alpha=float(slope))


def _gelu(g: _Graph, i: int, layer, x: str) -> str:
    approximate = str(getattr(layer, "approximate", "none"))
    if approximate not in ("none", "tanh"):
        raise NotImplementedError(f"layer {i} ({layer.describe()}): GELU approximation {approximate!r}")
    if g.opset >= 20:
        return g.node("Gelu", [x], f"{i}.gelu", approximate=approximate)
    p = f"{i}.gelu"
    half, one = g.const(f"{p}.half", 0.5), g.const(f"{p}.one", 1.0)
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x], f"{p}.x2"), x], f"{p}.x3")
        inner = g.node("Add", [x, g.node("Mul", [cube, g.const(f"{p}.c", 0.044715)], f"{p}.cx3")], f"{p}.sum")
        t = g.node("Tanh", [g.node("Mul", [inner, g.const(f"{p}.k", math.sqrt(2 / math.pi))], f"{p}.arg")], f"{p}.t")
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.node("Erf", [g.node("Mul", [x, g.const(f"{p}.k", 1 / math.sqrt(2))], f"{p}.arg")], f"{p}.t")
    return g.node("Mul", [g.node("Mul", [x, half], f"{p}.hx"), g.node("Add", [t, one], f"{p}.1pt")], p)


CONVERTERS = {
    "Conv2d": _conv,
    "Linear": _linear,
    "MaxPool2d": _pool("MaxPool"),
    "AvgPool2d": _pool("AveragePool"),
    "BatchNorm2d": _batchnorm,
    "ReLU": _unary("Relu"),
    "Tanh": _unary("Tanh"),
    "Sigmoid": _unary("Sigmoid"),
    "LeakyReLU": _leaky_relu,
    "GELU": _gelu,
    "Flatten": lambda g, i, layer, x: g.node("Flatten", [x], f"{i}.flatten", axis=1),
    "Dropout": lambda g, i, layer, x: x,  # identity at inference
}


def _converter(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in CONVERTERS:
            return CONVERTERS[cls.__name__]
    return None


def to_model(
    model: Sequential, *, opset: int = DEFAULT_OPSET, input_name: str = INPUT_NAME, output_name: str = OUTPUT_NAME
):
    """The ONNX ``ModelProto`` of a built :class:`~gpuml.nn.Sequential` (see the module docstring), checked."""
    onnx_pkg, helper, numpy_helper = _import_onnx()
    if not isinstance(model, Sequential):
        hint = " (export the float32 model, before half())" if type(model).__name__ == "HalfSequential" else ""
        raise TypeError(f"gpuml.export.onnx takes a gpuml.nn.Sequential, got {type(model).__name__}{hint}")
    if model.store is None or model.input_shape is None:
        raise ValueError("gpuml.export.onnx: the model is not built (call model.build(input_shape) first)")
    newest = onnx_pkg.defs.onnx_opset_version()
    if not MIN_OPSET <= int(opset) <= newest:
        raise ValueError(f"gpuml.export.onnx: opset {opset} is not supported (use {MIN_OPSET}..{newest})")
    opset = int(opset)
    missing = [f"layer {i} ({layer.describe()})" for i, layer in enumerate(model.layers) if _converter(layer) is None]
    if missing:
        raise NotImplementedError(f"gpuml.export.onnx: no ONNX conversion for {', '.join(missing)}")

    g = _Graph(helper, numpy_helper, model.state_dict(), opset)
    x = input_name
    for i, layer in enumerate(model.layers):
        x = _converter(layer)(g, i, layer, x)
    if g.nodes and g.nodes[-1].output[0] == x:
        g.nodes[-1].output[0] = output_name
    else:  # no layers, or only identities: the graph still maps input to output
        g.node("Identity", [x], output_name)

    out_shape = model.shapes[-1] if model.shapes else model.input_shape
    float32 = onnx_pkg.TensorProto.FLOAT
    graph = helper.make_graph(
        g.nodes,
        "gpuml",
        [helper.make_tensor_value_info(input_name, float32, ["N", *model.input_shape])],
        [helper.make_tensor_value_info(output_name, float32, ["N", *out_shape])],
        initializer=g.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="gpuml",
        producer_version=__version__,
        doc_string=model.describe(),
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    spec = getattr(model, "spec", None)
    if spec:
        helper.set_model_props(proto, {"gpuml.spec": str(spec)})
    onnx_pkg.checker.check_model(proto, full_check=True)
    return proto


def onnx(
    model: Sequential,
    path: str | os.PathLike | None,
    *,
    opset: int = DEFAULT_OPSET,
    input_name: str = INPUT_NAME,
    output_name: str = OUTPUT_NAME,
):
    """Write ``model`` (a built :class:`~gpuml.nn.Sequential`) to ``path`` as an ONNX model of opset ``opset``
    (default 17; see the module docstring for the input, output and layer mapping) and return the ``ModelProto``.
    The file is written atomically (a temporary file, then a rename); ``path=None`` only builds and checks.
    Raises ImportError (one line saying what to install) without the onnx package, NotImplementedError naming
    any layer that has no conversion."""
    proto = to_model(model, opset=opset, input_name=input_name, output_name=output_name)
    if path is not None:
        _write_atomic(Path(path), proto.SerializeToString())
    return proto


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
