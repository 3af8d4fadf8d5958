"""2-D convolution on WebGPU: the forward variant table (variants.py), the forward kernels' host code (forward.py)
and the backward paths (backward.py). Shaders in shaders/conv/."""

from .backward import conv2d_backward
from .forward import conv2d, conv2d_algo
from .variants import CONV2D

__all__ = ["CONV2D", "conv2d", "conv2d_algo", "conv2d_backward"]
