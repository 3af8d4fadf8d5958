"""Half-precision (float16) inference: ``model.half()`` on a built :class:`~gpuml.nn.sequential.Sequential`.

The returned :class:`HalfSequential` holds every weight as a float16 tensor on the device and runs the forward
pass on float16 activations with the f16 variants of the kernels (WGSL ``enable f16;``, template value ``T=f16``:
conv/implicit.wgsl, the GEMMs, pooling, unary/broadcast elementwise, layout/pad2d). Products and sums inside the
convolution, GEMM and average-pool kernels are computed in f32; only storage is f16. Inference only: no backward,
no training mode. Needs an adapter with the ``shader-f16`` feature; elsewhere ``half()`` raises and the float32
model keeps working. Covered layers: Conv2d (implicit GEMM, needs OH * OW % 4 == 0), Linear, ReLU, Tanh,
Sigmoid, MaxPool2d, AvgPool2d, Flatten, Dropout (identity at inference).
"""

from __future__ import annotations

from .. import ops
from ..tensor import Tensor, require_f16, tensor
from .activations import Sigmoid
from .layers import AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Tanh
from .sequential import Sequential

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


def _f16(t: Tensor, device) -> Tensor:
    return tensor(np.asarray(t.numpy(), np.float32).astype(np.float16), dtype="float16", device=device)


class HalfSequential:
    """Inference-only float16 copy of a Sequential (see the module docstring). ``model(x)`` takes host data or a
    tensor (converted to float16 on upload) and returns float16 logits (``numpy()`` gives a float16 array)."""

    def __init__(self, model: Sequential):
        if np is None:  # pragma: no cover - Pyodide core
            raise RuntimeError("half() needs numpy to convert the weights")
        device = model.device
        require_f16(device)
        self.device, self.input_shape = device, model.input_shape
        self.steps: list[tuple] = []
        for i, layer in enumerate(model.layers):
            self.steps.append(self._convert(i, layer, device))

    @staticmethod
    def _convert(i: int, layer: Module, device) -> tuple:
        params = getattr(layer, "params", {})
        if isinstance(layer, Conv2d):
            b = _f16(params["bias"].data, device) if layer.bias else None
            return ("conv", _f16(params["weight"].data, device), b, layer._geometry())
        if isinstance(layer, Linear):
            # stored as W.T (in, out): the forward is one GEMM, no transpose per call
            wt = tensor(params["weight"].data.numpy().T.astype(np.float16), dtype="float16", device=device)
            b = _f16(params["bias"].data, device) if layer.bias else None
            return ("linear", wt, b)
        if isinstance(layer, ReLU | Tanh | Sigmoid):
            return ("unary", type(layer).__name__.lower())
        if isinstance(layer, MaxPool2d | AvgPool2d):
            return ("maxpool" if isinstance(layer, MaxPool2d) else "avgpool", layer.kernel, layer.stride, layer.padding)
        if isinstance(layer, Flatten):
            return ("flatten",)
        if isinstance(layer, Dropout):
            return ("identity",)
        raise TypeError(f"half(): layer {i} ({layer.describe()}) has no float16 inference path yet")

    def forward(self, x) -> Tensor:
        if isinstance(x, Tensor):
            if x.dtype_name != "float16":
                x = tensor(x.numpy().astype(np.float16), dtype="float16", device=self.device)
        else:
            x = tensor(np.asarray(x, np.float32).astype(np.float16), dtype="float16", device=self.device)
        for step in self.steps:
            kind = step[0]
            if kind == "conv":
                x = ops.conv2d(x, step[1], step[2], **step[3])
            elif kind == "linear":
                x = ops.matmul(x, step[1])
                if step[2] is not None:
                    x = ops.add(x, step[2])
            elif kind == "unary":
                x = ops.unary(step[1], x)
            elif kind == "maxpool":
                x = ops.max_pool2d(x, *step[1:])
            elif kind == "avgpool":
                x = ops.avg_pool2d(x, *step[1:])
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
        return x

    __call__ = forward

    def predict(self, x):
        """Class indices (argmax of the logits, on the host) as an int64 numpy array."""
        return np.argmax(self.forward(x).numpy(), axis=1)

    def __repr__(self) -> str:
        return f"HalfSequential({len(self.steps)} layers, float16 on {self.device.adapter})"


def half(model: Sequential) -> HalfSequential:
    """An inference-only float16 copy (:class:`HalfSequential`): f16 weights and activations on the device, f16
    kernel variants. Needs the adapter feature ``shader-f16`` (RuntimeError naming it otherwise; this float32 model
    keeps working either way)."""
    return HalfSequential(model)


Sequential.half = half  # model.half(); attached here so that gpuml.nn.layers need not import this module
