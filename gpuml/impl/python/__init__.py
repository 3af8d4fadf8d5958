"""Pure-Python twins of the ops for the ``python`` backend (no numpy, no WebGPU; see gpuml/backends/python.py)."""

from .augment import augment_passes
from .conv import conv2d, conv2d_algo, conv2d_backward
from .elementwise import binary, copy, copy_into, fill, reduce, transpose, unary
from .explain import occlude
from .kmeans import kmeans_engine, silhouette
from .linalg import linear, matmul
from .nn import (
    batchnorm_input_grad,
    bce_with_logits,
    channel_affine,
    dropout,
    gelu,
    gelu_backward,
    leaky_relu_backward,
    linear_weight_grad,
    mse_loss,
    softmax_cross_entropy,
)
from .optim import optimizer_step
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward

__all__ = [
    "augment_passes",
    "avg_pool2d",
    "avg_pool2d_backward",
    "batch_halves",
    "batchnorm_input_grad",
    "bce_with_logits",
    "binary",
    "channel_affine",
    "conv2d",
    "conv2d_algo",
    "conv2d_backward",
    "copy",
    "copy_into",
    "dropout",
    "fill",
    "gelu",
    "gelu_backward",
    "kmeans_engine",
    "leaky_relu_backward",
    "linear",
    "linear_weight_grad",
    "matmul",
    "max_pool2d",
    "max_pool2d_backward",
    "mse_loss",
    "occlude",
    "optimizer_step",
    "reduce",
    "silhouette",
    "softmax_cross_entropy",
    "transpose",
    "unary",
]


def batch_halves() -> bool:
    """Never: two halves at once in a helper process is the numpy backend's (gpuml.nn.data_parallel)."""
    return False
