"""Layers with explicit forward and backward passes on the device.

A layer keeps what its backward pass needs from the last ``forward`` (inputs or outputs, as tensors on the
device) and writes its parameter gradients straight into the model's flat gradient buffer
(:class:`~gpuml.nn.parameters.ParameterStore`). ``Sequential.build`` infers shapes layer by layer, so a
mismatch is reported with the layer that caused it before anything runs.
"""

from __future__ import annotations

import inspect
import math

from .. import ops
from ..ops import copy_into
from ..tensor import Tensor
from . import functional as F
from .parameters import Init, Parameter


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


class Module:
    """Base class. Subclasses override ``output_shape``, ``forward``, ``backward`` and, with parameters,
    ``init_params``."""

    training = True

    def init_params(self, in_shape: tuple[int, ...], rng) -> list[tuple[str, object, bool]]:
        """(name, initial value, takes weight decay) for each parameter."""
        return []

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return in_shape

    def attach(self, params: dict[str, Parameter]) -> None:
        self.params = params

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def backward(self, grad: Tensor) -> Tensor:
        raise NotImplementedError

    def buffers(self) -> dict[str, Tensor]:
        """Non-trainable state saved in checkpoints (e.g. batch-norm running statistics)."""
        return {}

    def describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return self.describe()

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (``gpuml.save`` stores them as JSON). By default the
        attribute of each ``__init__`` parameter's name; a layer that stores an argument otherwise overrides this."""
        out = {}
        for name, p in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if not hasattr(self, name):
                raise TypeError(f"{type(self).__name__} keeps no attribute {name!r}: it must override config()")
            out[name] = getattr(self, name)
        return out

    @classmethod
    def from_config(cls, config: dict) -> Module:
        return cls(**config)


class Linear(Module):
    """y = x @ W.T + b with W of shape (out_features, in_features), as torch.nn.Linear."""

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True):
        self.in_features, self.out_features, self.bias = in_features, int(out_features), bias

    def output_shape(self, in_shape):
        if len(in_shape) != 1:
            raise ValueError(f"Linear expects flat features, got shape {in_shape} (add a Flatten before it)")
        if self.in_features is not None and in_shape[0] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}) got {in_shape[0]} input features")
        self.in_features = in_shape[0]
        return (self.out_features,)

    def init_params(self, in_shape, rng):
        bound = 1.0 / math.sqrt(self.in_features)
        specs = [("weight", Init.uniform(rng, bound, (self.out_features, self.in_features)), True)]
        if self.bias:
            specs.append(("bias", Init.uniform(rng, bound, (self.out_features,)), False))
        return specs

    def forward(self, x, relu: bool = False):
        """``relu=True`` applies max(., 0) in the same kernel (Sequential fuses a following ReLU layer)."""
        self.x = x
        b = self.params["bias"].data if self.bias else None
        return ops.linear(x, self.params["weight"].data, b, relu=relu)

    def backward(self, grad):
        w = self.params["weight"]
        F.linear_weight_grad(grad, self.x, w.grad)  # into the store (on WebGPU without a copy)
        if self.bias:
            copy_into(ops.sum(grad, axis=0), self.params["bias"].grad)
        return ops.matmul(grad, w.data)

    def describe(self):
        return f"Linear({self.in_features}, {self.out_features})"


class ReLU(Module):
    guided = False  # guided backpropagation (gpuml.explain): pass only positive gradients at positive inputs

    def forward(self, x):
        self.y = ops.relu(x)
        return self.y

    def backward(self, grad):
        return ops.binary("guided_relu_grad" if self.guided else "relu_grad", grad, self.y)


class Tanh(Module):
    def forward(self, x):
        self.y = ops.tanh(x)
        return self.y

    def backward(self, grad):
        return ops.binary("tanh_grad", grad, self.y)


class Flatten(Module):
    def output_shape(self, in_shape):
        return (math.prod(in_shape),)

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))  # not -1: a batch of 0 leaves it ambiguous

    def backward(self, grad):
        return grad.reshape(self.shape)


class Dropout(Module):
    """Inverted dropout; the mask is regenerated from (seed, step) in backward instead of stored."""

    def __init__(self, rate: float = 0.5, seed: int = 0):
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate, self.seed, self.calls = float(rate), int(seed), 0

    def forward(self, x):
        if not self.training or self.rate == 0:
            self.active = False
            return x
        self.active = True
        self.calls += 1
        self.step_seed = (self.seed * 1_000_003 + self.calls) & 0xFFFFFFFF
        return F.dropout(x, self.rate, self.step_seed)

    def backward(self, grad):
        return F.dropout(grad, self.rate, self.step_seed) if self.active else grad

    def describe(self):
        return f"Dropout({self.rate})"


class Conv2d(Module):
    """2-D convolution over NCHW (torch.nn.Conv2d parameter layout), on gpuml.ops.conv2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        self.in_channels, self.out_channels = in_channels, int(out_channels)
        self.kernel = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups, self.bias = int(groups), bias
        self.algo = "auto"
        self.input_grad = True  # Sequential.build turns this off for a first layer (nothing needs its input grad)

    def output_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"Conv2d expects (C, H, W) inputs, got shape {in_shape}")
        c, h, w = in_shape
        if self.in_channels is not None and c != self.in_channels:
            raise ValueError(f"Conv2d expects {self.in_channels} input channels, got {c} (input shape {in_shape})")
        self.in_channels = c
        if c % self.groups or self.out_channels % self.groups:
            raise ValueError(f"Conv2d: channels {c} -> {self.out_channels} not divisible by groups={self.groups}")
        out = []
        for size, k, s, p, d in zip((h, w), self.kernel, self.stride, self.padding, self.dilation, strict=True):
            o = (size + 2 * p - d * (k - 1) - 1) // s + 1
            if o < 1:
                raise ValueError(f"Conv2d kernel {self.kernel} (padding {self.padding}) does not fit input {h}x{w}")
            out.append(o)
        return (self.out_channels, *out)

    def init_params(self, in_shape, rng):
        fan_in = self.in_channels // self.groups * self.kernel[0] * self.kernel[1]
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel)
        specs = [("weight", Init.uniform(rng, bound, shape), True)]
        if self.bias:
            specs.append(("bias", Init.uniform(rng, bound, (self.out_channels,)), False))
        return specs

    def _geometry(self):
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation, "groups": self.groups}

    def forward(self, x, relu: bool = False):
        """``relu=True`` applies max(., 0) in the convolution's last kernel (Sequential fuses a following ReLU)."""
        self.x = x
        b = self.params["bias"].data if self.bias else None
        return ops.conv2d(x, self.params["weight"].data, b, algo=self.algo, relu=relu, **self._geometry())

    def backward(self, grad):
        w = self.params["weight"]
        if self.bias:  # the gradients land in the parameter store's buffer (no copies)
            out = (w.grad, self.params["bias"].grad)
            gx, _, _ = ops.conv2d_backward(
                self.x, w.data, grad, **self._geometry(), input_grad=self.input_grad, out=out
            )
            return gx
        gx, gw, _ = ops.conv2d_backward(self.x, w.data, grad, **self._geometry(), input_grad=self.input_grad)
        copy_into(gw, w.grad)
        return gx

    def config(self):
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "groups": self.groups,
            "bias": self.bias,
        }

    def describe(self):
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel={self.kernel}, stride={self.stride}, "
            f"padding={self.padding})"
        )


class _Pool2d(Module):
    kind = ""

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel = _pair(kernel_size)
        self.stride = _pair(stride) if stride is not None else self.kernel
        self.padding = _pair(padding)

    def output_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"{type(self).__name__} expects (C, H, W) inputs, got shape {in_shape}")
        c, h, w = in_shape
        out = [
            (s + 2 * p - k) // st + 1
            for s, k, st, p in zip((h, w), self.kernel, self.stride, self.padding, strict=True)
        ]
        if min(out) < 1:
            raise ValueError(f"{type(self).__name__} window {self.kernel} does not fit input {h}x{w}")
        return (c, *out)

    def config(self):
        return {"kernel_size": self.kernel, "stride": self.stride, "padding": self.padding}

    def describe(self):
        return f"{type(self).__name__}({self.kernel[0]}, stride={self.stride[0]})"


class MaxPool2d(_Pool2d):
    def forward(self, x):
        self.x_shape = x.shape
        y, self.indices = ops.max_pool2d(x, self.kernel, self.stride, self.padding, return_indices=True)
        self.y = y
        return y

    def backward(self, grad, relu: bool = False):
        """``relu=True``: the input came out of a ReLU whose backward runs here too (Sequential.backward fuses it)."""
        relu_out = self.y if relu else None
        return ops.max_pool2d_backward(
            grad, self.indices, self.x_shape, self.kernel, self.stride, self.padding, relu_out=relu_out
        )


class AvgPool2d(_Pool2d):
    def forward(self, x):
        self.x_shape = x.shape
        return ops.avg_pool2d(x, self.kernel, self.stride, self.padding)

    def backward(self, grad):
        return ops.avg_pool2d_backward(grad, self.x_shape, self.kernel, self.stride, self.padding)


class BatchNorm2d(Module):
    """Batch normalisation over (N, H, W) per channel; running statistics for eval (momentum as torch)."""

    def __init__(self, num_features: int | None = None, eps: float = 1e-5, momentum: float = 0.1):
        self.num_features, self.eps, self.momentum = num_features, float(eps), float(momentum)

    def output_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(f"BatchNorm2d expects (C, H, W) inputs, got shape {in_shape}")
        if self.num_features is not None and in_shape[0] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) got {in_shape[0]} channels")
        self.num_features = in_shape[0]
        return in_shape

    def init_params(self, in_shape, rng):
        c = self.num_features
        return [("weight", Init.full((c,), 1.0), False), ("bias", Init.full((c,), 0.0), False)]

    def attach(self, params):
        super().attach(params)
        device = params["weight"].data.device
        self.running_mean = ops.zeros((self.num_features,), "float32", device)
        self.running_var = ops.ones((self.num_features,), "float32", device)

    def buffers(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    @staticmethod
    def _channel_sums(t: Tensor) -> Tensor:
        n, c = t.shape[:2]
        return ops.sum(ops.sum(t.reshape(n, c, -1), axis=2), axis=0)

    def forward(self, x):
        gamma, beta = self.params["weight"].data, self.params["bias"].data
        if not self.training:
            rstd = ops.unary("rsqrt_eps", self.running_var, self.eps)
            scale = ops.mul(gamma, rstd)
            return F.channel_affine(x, scale, ops.sub(beta, ops.mul(self.running_mean, scale)))
        m = x.size // x.shape[1]
        mean = ops.scale(self._channel_sums(x), 1.0 / m)
        var = ops.sub(ops.scale(self._channel_sums(ops.square(x)), 1.0 / m), ops.square(mean))
        var = ops.unary("relu", var)  # E[x^2] - E[x]^2 can dip below 0 by rounding
        rstd = ops.unary("rsqrt_eps", var, self.eps)
        scale = ops.mul(gamma, rstd)
        self.x, self.mean, self.rstd, self.scale = x, mean, rstd, scale
        unbiased = ops.scale(var, m / max(m - 1, 1))
        mom = self.momentum
        self.running_mean = ops.axpy(mom, mean, ops.scale(self.running_mean, 1 - mom))
        self.running_var = ops.axpy(mom, unbiased, ops.scale(self.running_var, 1 - mom))
        return F.channel_affine(x, scale, ops.sub(beta, ops.mul(mean, scale)))

    def backward(self, grad):
        if not self.training:  # eval mode is a fixed per-channel affine map (used by gpuml.explain)
            rstd = ops.unary("rsqrt_eps", self.running_var, self.eps)
            scale = ops.mul(self.params["weight"].data, rstd)
            return F.channel_affine(grad, scale, ops.zeros((self.num_features,), "float32", grad.device))
        xhat = F.channel_affine(self.x, self.rstd, ops.neg(ops.mul(self.mean, self.rstd)))
        dbeta = self._channel_sums(grad)
        dgamma = self._channel_sums(ops.mul(grad, xhat))
        copy_into(dgamma, self.params["weight"].grad)
        copy_into(dbeta, self.params["bias"].grad)
        return F.batchnorm_input_grad(self.x, grad, self.mean, self.rstd, self.scale, dgamma, dbeta)

    def describe(self):
        return f"BatchNorm2d({self.num_features})"


def run_forward(layers, x):
    """``layers`` in order on ``x``; a Conv2d or Linear followed by a ReLU runs as one fused op (the ReLU layer keeps
    the fused output for its backward, which is all it needs)."""
    i = 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if type(nxt) is ReLU and type(layer) in (Conv2d, Linear):
            x = layer.forward(x, relu=True)
            nxt.y = x
            i += 2
        else:
            x = layer.forward(x)
            i += 1
    return x


def run_backward(layers, grad):
    """``layers`` last first, each on the state its last forward kept; a ReLU (not guided) before a MaxPool2d runs
    inside the pool's backward. Returns the gradient with respect to the input."""
    i = len(layers) - 1
    while i >= 0:
        layer = layers[i]
        prev = layers[i - 1] if i > 0 else None
        if type(layer) is MaxPool2d and type(prev) is ReLU and not prev.guided:
            grad = layer.backward(grad, relu=True)
            i -= 2
        else:
            grad = layer.backward(grad)
            i -= 1
    return grad
