"""Neural-network building blocks with explicit forward and backward passes on the device."""

from .parameters import Parameter, ParameterStore

__all__ = ["Parameter", "ParameterStore"]
