"""Activation layers beyond ReLU and Tanh (gpuml.nn.layers): Sigmoid, GELU, LeakyReLU.

Each keeps what its backward needs from the last ``forward``: the output for Sigmoid (dx = dy * y (1 - y)), the input
for GELU and LeakyReLU (their derivatives are functions of x; a leaky ReLU's slope may be zero or negative).
"""

from __future__ import annotations

from . import functional as F
from .layers import Module


class Sigmoid(Module):
    """1 / (1 + exp(-x)), as torch.nn.Sigmoid."""

    def forward(self, x):
        self.y = F.sigmoid(x)
        return self.y

    def backward(self, grad):
        return F.sigmoid_backward(grad, self.y)


class GELU(Module):
    """Gaussian error linear unit, as torch.nn.GELU: ``approximate="none"`` (default) is ``x * Phi(x)`` with the exact
    normal CDF, ``"tanh"`` the tanh approximation (see :func:`gpuml.nn.functional.gelu`)."""

    def __init__(self, approximate: str = "none"):
        if approximate not in F.GELU_APPROXIMATIONS:
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        self.x = x
        return F.gelu(x, self.approximate)

    def backward(self, grad):
        return F.gelu_backward(grad, self.x, self.approximate)

    def describe(self):
        return "GELU()" if self.approximate == "none" else f"GELU(approximate={self.approximate!r})"


class LeakyReLU(Module):
    """``x`` where x > 0, ``negative_slope * x`` elsewhere, as torch.nn.LeakyReLU."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        self.x = x
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, grad):
        return F.leaky_relu_backward(grad, self.x, self.negative_slope)

    def describe(self):
        return f"LeakyReLU({self.negative_slope!r})"
