"""All trainable parameters of a model in one flat device buffer, gradients in a second one of the same layout.

Why flat: an optimizer step is then ONE fused kernel over every parameter (and one reduction for the global
gradient norm), instead of a dispatch per parameter tensor and per arithmetic operation. Each parameter is a
view at an offset aligned to the adapter's ``min_storage_buffer_offset_alignment``, so layers bind it directly.

Layout: parameters that take weight decay / L1 / L2 (conv and linear weights) come first, in ``[0, n_decay)``;
biases and batch-norm parameters follow and are never penalised. Alignment gaps hold zeros in both buffers,
which every update rule leaves at zero.
"""

from __future__ import annotations

import array
import math
import random
from dataclasses import dataclass

from ..backends import Device, get_device
from ..tensor import Tensor

ALIGN_FLOATS = 64  # 256 bytes: WebGPU's default min_storage_buffer_offset_alignment


@dataclass
class Init:
    """An initial parameter value built without numpy (so models can be built inside Pyodide core):
    a shape and row-major float32 values. The same seed gives the same values on every backend."""

    shape: tuple[int, ...]
    values: array.array

    @classmethod
    def uniform(cls, rng: random.Random, bound: float, shape) -> Init:
        n = math.prod(shape)
        return cls(tuple(shape), array.array("f", [rng.uniform(-bound, bound) for _ in range(n)]))

    @classmethod
    def full(cls, shape, value: float) -> Init:
        return cls(tuple(shape), array.array("f", [value]) * math.prod(shape))


@dataclass
class Parameter:
    name: str
    shape: tuple[int, ...]
    decay: bool  # weight decay / L1 / L2 apply
    offset: int = 0  # elements into the flat buffers
    data: Tensor | None = None
    grad: Tensor | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class ParameterStore:
    """Collects parameters (``add``), then lays them out on the device (``build``)."""

    def __init__(self, device: Device | None = None):
        self.device = device or get_device()
        self.params: list[Parameter] = []
        self._init: dict[str, object] = {}
        self.data: Tensor | None = None
        self.grad: Tensor | None = None
        self.n_decay = 0

    def add(self, name: str, value, decay: bool) -> Parameter:
        """Register a parameter with its initial value (an :class:`Init` or a numpy array)."""
        if self.data is not None:
            raise RuntimeError("ParameterStore is already built; add parameters before build()")
        if any(p.name == name for p in self.params):
            raise ValueError(f"duplicate parameter name {name!r}")
        shape = tuple(getattr(value, "shape", ())) or (len(value),)
        p = Parameter(name, shape, decay)
        self.params.append(p)
        self._init[name] = value
        return p

    def build(self) -> ParameterStore:
        from ..ops import zeros

        ordered = [p for p in self.params if p.decay] + [p for p in self.params if not p.decay]
        offset = 0
        for p in ordered:
            p.offset = offset
            offset += -(-p.size // ALIGN_FLOATS) * ALIGN_FLOATS
            if p.decay:
                self.n_decay = offset
        total = max(offset, ALIGN_FLOATS)
        self.data = zeros((total,), "float32", self.device)
        self.grad = zeros((total,), "float32", self.device)
        for p in ordered:
            p.data = self.data.view(p.offset, p.shape)
            p.grad = self.grad.view(p.offset, p.shape)
            value = self._init.pop(p.name)
            p.data.assign(value.values if isinstance(value, Init) else value)
        self.params = ordered
        return self

    @property
    def size(self) -> int:
        """Number of trainable values (without alignment gaps)."""
        return sum(p.size for p in self.params)

    def __iter__(self):
        return iter(self.params)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; have {[p.name for p in self.params]}")

    def zero_grad(self) -> None:
        """Zero the whole gradient buffer on the device."""
        from ..ops import copy_into, zeros

        copy_into(zeros((self.grad.size,), "float32", self.device), self.grad)

    def state_dict(self) -> dict:
        """name -> numpy array (one readback of the flat buffer)."""
        flat = self.data.numpy()
        return {p.name: flat[p.offset : p.offset + p.size].reshape(p.shape).copy() for p in self.params}

    def load_state_dict(self, state: dict) -> None:
        import numpy as np

        flat = np.zeros(self.data.size, np.float32)
        for p in self.params:
            if p.name not in state:
                raise KeyError(f"checkpoint lacks parameter {p.name!r}")
            value = np.asarray(state[p.name], np.float32)
            if value.shape != p.shape:
                raise ValueError(f"parameter {p.name!r}: checkpoint shape {value.shape}, model shape {p.shape}")
            flat[p.offset : p.offset + p.size] = value.reshape(-1)
        self.data.assign(flat)
