"""``Sequential``: layers in order, with one parameter store, shape inference, and the conveniences PyTorch users
expect (``summary()``, ``named_parameters()``, ``zero_grad()``)."""

from __future__ import annotations

import random

from ..tensor import as_tensor
from . import data_parallel
from .layers import Conv2d, Module, run_backward, run_forward
from .parameters import ParameterStore


class Sequential(Module):
    """Layers in order. ``build(input_shape)`` infers shapes, initialises parameters (seeded) into one
    :class:`ParameterStore` and returns self."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)
        self.store: ParameterStore | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.shapes: list[tuple[int, ...]] = []

    def build(self, input_shape, device=None, seed: int = 0) -> Sequential:
        rng = random.Random(seed)  # pure Python: the same initial weights natively, in Pyodide and on numpy
        store = ParameterStore(device)
        shape = tuple(input_shape)
        self.input_shape, self.shapes = shape, []
        owned: list[list[tuple[str, str]]] = []
        for i, layer in enumerate(self.layers):
            try:
                out = layer.output_shape(shape)
            except ValueError as exc:
                raise ValueError(f"layer {i} ({layer.describe()}): {exc}") from None
            names = []
            for name, value, decay in layer.init_params(shape, rng):
                store.add(f"{i}.{name}", value, decay)
                names.append((name, f"{i}.{name}"))
            owned.append(names)
            self.shapes.append(out)
            shape = out
        store.build()
        if self.layers and isinstance(self.layers[0], Conv2d):
            self.layers[0].input_grad = False
        for layer, names in zip(self.layers, owned, strict=True):
            layer.attach({local: store[full] for local, full in names})
        self.store = store
        return self

    def parameters(self) -> ParameterStore:
        """Every trainable parameter, in one flat store (iterate it for the :class:`Parameter` objects; hand it to an
        optimizer)."""
        if self.store is None:
            raise RuntimeError("call build(input_shape) first")
        return self.store

    def named_parameters(self):
        """(name, Parameter) pairs in layer order, with PyTorch's dotted names (``"0.weight"``, ``"3.bias"``: the
        layer's index in this Sequential), the keys of ``state_dict()``. ``p.data`` and ``p.grad`` are tensors."""
        store = self.parameters()
        for i, layer in enumerate(self.layers):
            for name in getattr(layer, "params", {}):
                yield f"{i}.{name}", store[f"{i}.{name}"]

    def num_parameters(self) -> int:
        """The number of parameter values (all trainable; alignment gaps of the flat buffer not counted)."""
        return self.parameters().size

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero. Not needed between steps: ``backward`` overwrites the gradients
        (see :meth:`backward`); for code written for PyTorch, or to clear them before inspecting."""
        self.parameters().zero_grad()

    def summary(self):
        """A table of the layers, their output shapes (batch axis ``N``) and parameter counts, with the totals
        (a :class:`gpuml.nn.summary.Summary`; ``print(model.summary())``)."""
        from .summary import summarize

        return summarize(self)

    @property
    def device(self):
        return self.parameters().device

    def output_shape(self, in_shape):
        for layer in self.layers:
            in_shape = layer.output_shape(in_shape)
        return in_shape

    def train(self, mode: bool = True) -> Sequential:
        for layer in self.layers:
            layer.training = mode
        self.training = mode
        return self

    def eval(self) -> Sequential:
        return self.train(False)

    def forward(self, x):
        """Layer by layer (:func:`gpuml.nn.layers.run_forward`: a Conv2d or Linear followed by a ReLU runs as one
        fused op). gpuml.explain walks the layers one at a time. On the numpy backend with two or more threads, a
        batch of 32 or more runs as two halves at once (:mod:`gpuml.nn.data_parallel`), the same bits whichever
        way they run."""
        x = as_tensor(x, self.device)
        split = data_parallel.split_for(self, x)
        self._split = split
        if split is not None:
            return split.forward(x)
        return run_forward(self.layers, x)

    __call__ = forward

    def backward(self, grad):
        """Layer by layer, last first (:func:`gpuml.nn.layers.run_backward`), for the batch of the last
        ``forward`` (as two halves where that one ran as two). Returns the gradient with respect to the input.

        Gradients are OVERWRITTEN, not accumulated: each call writes every parameter's gradient for this ``grad``
        alone (into ``parameters().grad``), so no ``zero_grad()`` is needed between steps. To accumulate over
        micro-batches, scale each micro-batch's loss gradient and add the gradients yourself, or use a larger batch.
        (BatchNorm2d in eval mode passes gradients through without writing its parameters' gradients.)"""
        grad = as_tensor(grad, self.device)  # numpy in, as forward (split or not)
        split = self.__dict__.get("_split")
        if split is not None:
            return split.backward(grad)
        return run_backward(self.layers, grad)

    def state_dict(self) -> dict:
        state = self.parameters().state_dict()
        for i, layer in enumerate(self.layers):
            for name, t in layer.buffers().items():
                state[f"{i}.{name}"] = t.numpy()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.parameters().load_state_dict(state)
        for i, layer in enumerate(self.layers):
            for name, t in layer.buffers().items():
                key = f"{i}.{name}"
                if key not in state:
                    raise KeyError(f"checkpoint lacks buffer {key!r}")
                t.assign(state[key])

    # half(): an inference-only float16 copy, defined in gpuml.nn.half (which imports this module, not the
    # other way round) and attached when gpuml.nn is imported.

    def describe(self) -> str:
        lines = []
        shape = self.input_shape
        for layer, out in zip(self.layers, self.shapes or [None] * len(self.layers), strict=True):
            lines.append(f"  {layer.describe():<52} -> {out}")
            shape = out
        n = self.store.size if self.store else 0
        return f"Sequential(input {self.input_shape}, {n:,} parameters)\n" + "\n".join(lines) + f"\n  output {shape}"
