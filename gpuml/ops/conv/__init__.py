"""2-D convolution on NCHW batches: forward (several algorithms, chosen per device and shape), backward, the
choice and its report.

``conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, algo="auto", *, relu=False)``
    x: (N, C, H, W), w: (OC, C / groups, KH, KW), b: (OC,) or None -> (N, OC, OH, OW).
``conv2d_backward(x, w, grad_out, stride=1, padding=0, dilation=1, groups=1)``
    -> (grad_x, grad_w, grad_b) for the convolution *without* its fused ReLU (apply the ReLU mask to
    ``grad_out`` first, e.g. ``grad_out * (y > 0)``).
``last_conv_algo()``
    The kernel the most recent ``conv2d`` ran (a variant of the WebGPU conv2d table, e.g. ``"implicit_rows"``).
``choose_conv_algo(g, device)`` / ``conv_autotune(enabled)``
    The static choice of ``algo="auto"``; measured choice on or off.

geometry.py validates the shapes (:class:`ConvGeometry`); api.py is the public functions. The kernels, their
variant table and the rule behind its static order are in gpuml/impl/webgpu/conv/; the numpy twins in
gpuml/impl/cpu/conv.py; the pure-Python twins in gpuml/impl/python/conv.py.
"""

from .api import (
    ALGOS,
    applicable_algos,
    choose_conv_algo,
    conv2d,
    conv2d_backward,
    conv_autotune,
    last_conv_algo,
)
from .geometry import ConvGeometry, conv2d_flops, conv_geometry

__all__ = [
    "ALGOS",
    "ConvGeometry",
    "applicable_algos",
    "choose_conv_algo",
    "conv2d",
    "conv2d_backward",
    "conv2d_flops",
    "conv_autotune",
    "conv_geometry",
    "last_conv_algo",
]
