"""Neural-network building blocks with explicit forward and backward passes on the device."""

from . import functional, half  # noqa: F401 (half attaches Sequential.half)
from .activations import GELU, LeakyReLU, Sigmoid
from .layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Tanh,
)
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .models import MODELS, SpecError, from_spec, lenet5
from .parameters import Parameter, ParameterStore
from .sequential import Sequential
from .summary import Summary

__all__ = [
    "GELU",
    "MODELS",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ParameterStore",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SpecError",
    "Summary",
    "Tanh",
    "from_spec",
    "functional",
    "lenet5",
]
