"""Neural-network building blocks with explicit forward and backward passes on the device."""

from . import functional, half  # noqa: F401 (half attaches Sequential.half)
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
    Sequential,
    Tanh,
)
from .models import MODELS, SpecError, from_spec, lenet5
from .parameters import Parameter, ParameterStore

__all__ = [
    "MODELS",
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ParameterStore",
    "ReLU",
    "Sequential",
    "SpecError",
    "Tanh",
    "from_spec",
    "functional",
    "lenet5",
]
