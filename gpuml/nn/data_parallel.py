"""Two halves of a batch at once on the numpy backend: a helper process runs the second half's forward and backward
while this process runs the first's.

Why a process: the numpy backend's step is ~1,000 short numpy calls; two threads running such chains queue for
the GIL, so half-steps on two threads ran no faster than one after the other, while on two processes they ran
1.9x as fast on the 2-core VM (benchmarks/RESULTS.md, "numpy backend: data parallelism inside the LeNet-5 step").

When: :meth:`Sequential.forward` on the numpy backend (``cpu`` device) with two or more threads set
(:func:`gpuml.impl.cpu.threads.batch_halves`), a float32 batch of :data:`SPLIT_MIN` or more samples and
:data:`SPLIT_MACS` or more multiply-adds, and only layers that treat each sample alone (no BatchNorm2d, no active
Dropout). The split depends on nothing else (not on load or timing), so results are reproducible; each half runs
the one-thread code with OpenBLAS at one thread, in this process or in the helper, so both ways give the same bits.
The helper runs a half only when it is up (its start, ~0.5 s, runs in the background; the halves run here one after
the other meanwhile) and a CPU is idle (:func:`threads.cpu_to_spare`): with both cores busy a hand-over only adds
its cost, and the halves here cost ~10-15% over the whole batch (more calls).

``backward`` writes the first half's parameter gradients into the store and adds the second half's (the helper's,
or those of a local replica's layers with their own gradient buffer), so gradients still overwrite, not accumulate.

The helper process: :mod:`gpuml.nn.data_parallel_process` (this side), :mod:`gpuml.nn.data_parallel_helper`
(its loop). It holds a copy of each model (rebuilt from the layers' ``config()``), dropped when the model goes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import math
import weakref

from ..tensor import Tensor
from . import data_parallel_process as process
from .layers import Conv2d, Linear, Module, run_backward, run_forward

SPLIT_MIN = 32  # samples: each half needs enough rows for its GEMMs
SPLIT_MACS = 8_000_000  # multiply-adds of the batch's forward: below, the halves' fixed costs outweigh the 2nd core

# Layers whose forward and backward treat each sample alone (their outputs and parameter gradients are sums over
# samples); exact types only (a subclass may not).
SEPARABLE = frozenset(
    {"Conv2d", "Linear", "ReLU", "Tanh", "Flatten", "MaxPool2d", "AvgPool2d", "Sigmoid", "GELU", "LeakyReLU"}
)
EXTRAS = ("algo", "input_grad", "training", "guided")  # layer attributes set after construction
_TYPES: dict = {}
_NAMES: dict = {}  # layer class -> its constructor's parameter names (Module.config's, without inspect per call)


def layer_types() -> dict:
    from . import activations, layers

    return {name: getattr(layers, name, None) or getattr(activations, name) for name in SEPARABLE | {"Dropout"}}


def separable(layers) -> bool:
    types = _TYPES or _TYPES.update(layer_types()) or _TYPES
    for layer in layers:
        kind = type(layer).__name__
        if types.get(kind) is not type(layer):
            return False
        if kind == "Dropout" and layer.training and layer.rate > 0:  # a mask drawn for the whole batch
            return False
        if "forward" in layer.__dict__ or "backward" in layer.__dict__:  # patched on the instance
            return False
    return True


def settings(layer) -> tuple:
    """What the helper's copy and the replica must share with ``layer``: its constructor arguments and
    :data:`EXTRAS` (compared every forward: a change rebuilds both)."""
    cls = type(layer)
    if cls.config is Module.config:
        names = _NAMES.get(cls)
        if names is None:
            names = _NAMES[cls] = tuple(Module.config(layer))
        config = tuple(getattr(layer, n) for n in names)
    else:
        config = tuple(layer.config().items())
    return config, tuple(getattr(layer, k, None) for k in EXTRAS)


def describe() -> str:
    """The numpy backend's threads and whether batches run as halves, for ``gpuml info``."""
    import os

    from ..impl.cpu import threads

    n = threads.threads()
    if threads.batch_halves():
        where = "here (its helper process failed)" if process.failed() else "in a helper process"
        return (
            f"{n} threads; a batch of {SPLIT_MIN}+ samples and {SPLIT_MACS / 1e6:g}M+ multiply-adds through a model "
            f"runs as two halves at once, the second {where} (GPUML_CPU_HALVES=0: off)"
        )
    why = "one thread" if n < 2 else "GPUML_CPU_HALVES=0" if os.name == "posix" else "no helper processes here"
    return f"{n} thread{'s' * (n != 1)}; whole batches ({why})"


def split_for(model, x) -> Halves | None:
    """The model's :class:`Halves` when this forward runs as two halves, else None."""
    if not x.shape or x.shape[0] < SPLIT_MIN or x.dtype_name != "float32":
        return None
    if not x.device.impl.batch_halves() or not separable(model.layers):
        return None
    halves = model.__dict__.get("_halves")
    if halves is None or not halves.fits(model):
        halves = model.__dict__["_halves"] = Halves(model)
    walk = halves.walk(x.shape[1:])
    if walk is None or walk[1] * x.shape[0] < SPLIT_MACS:  # refused (the whole batch raises the error) or small
        return None
    return halves


_TOKENS = itertools.count(1)


@dataclasses.dataclass
class _Pending:
    """What the last forward left for its backward."""

    where: str  # "helper", "here", or "redo" (a copied model: its second half's forward runs again here)
    first: int  # samples in the first half
    x1: Tensor  # the second half's input


class Halves:
    """A model's two-halves runner: its layers as they were when made (a change makes a new one), their replica
    for running the second half here, and its token in the helper."""

    def __init__(self, model):
        self.model, self.store = model, model.store
        self.layers = tuple(model.layers)  # held: a new layer cannot take a freed one's id
        self.settings = tuple(settings(layer) for layer in self.layers)
        self.token = next(_TOKENS)
        self.replica = None
        self.pending: _Pending | None = None
        self.walks: dict = {}
        weakref.finalize(self, process.drop_later, self.token)

    def fits(self, model) -> bool:
        layers = model.layers
        return (
            model.store is self.store
            and len(layers) == len(self.layers)
            and all(a is b for a, b in zip(layers, self.layers, strict=True))
            and all(settings(layer) == s for layer, s in zip(layers, self.settings, strict=True))
        )

    def __deepcopy__(self, memo):
        """A copied model's own runner: a backward after the copy redoes its second half's forward here."""
        new = Halves.__new__(Halves)
        memo[id(self)] = new
        new.model = copy.deepcopy(self.model, memo)
        new.store, new.layers, new.settings = None, (), ()  # fits() nothing: its next forward makes a new one
        new.token, new.replica, new.walks = next(_TOKENS), None, {}
        new.pending = None
        if self.pending is not None:
            new.pending = _Pending("redo", self.pending.first, copy.deepcopy(self.pending.x1, memo))
        return new

    def __reduce__(self):
        return (_none, ())

    def walk(self, in_shape) -> tuple[int, int] | None:
        """(output values per sample, forward multiply-adds per sample) for samples of ``in_shape``; None where
        the layers refuse that shape."""
        if in_shape not in self.walks:
            shape, macs = in_shape, 0
            try:
                for layer in self.layers:
                    out = copy.copy(layer).output_shape(shape)  # (Linear's sets in_features on a lazy layer)
                    if type(layer) is Conv2d:
                        macs += math.prod(out) * layer.in_channels // layer.groups * math.prod(layer.kernel)
                    elif type(layer) is Linear:
                        macs += math.prod(out) * math.prod(shape)
                    shape = out
            except (ValueError, TypeError, IndexError):
                self.walks[in_shape] = None
            else:
                self.walks[in_shape] = (math.prod(shape), macs)
        return self.walks[in_shape]

    def spec(self):
        """What the helper builds its copy from."""
        layers = [
            (type(layer).__name__, layer.config(), dict(zip(EXTRAS, s[1], strict=True)))
            for layer, s in zip(self.layers, self.settings, strict=True)
        ]
        return layers, tuple(self.model.input_shape), self.store.grad.size

    # --- the second half here ------------------------------------------------------------------------------------
    def _local(self):
        """The model's layers again, each with its own forward state; parameters share the weights and write their
        gradients into a buffer of their own."""
        store = self.model.store
        if self.replica is None:
            import numpy as np

            grad = np.zeros(store.grad.size, np.float32)
            copies = []
            for layer in self.model.layers:
                r = copy.copy(layer)
                if "params" in layer.__dict__:
                    r.params = {
                        k: dataclasses.replace(
                            p,
                            grad=Tensor.wrap_numpy(grad[p.offset : p.offset + p.size].reshape(p.shape), store.device),
                        )
                        for k, p in layer.params.items()
                    }
                copies.append(r)
            self.replica = (copies, grad)
        return self.replica

    # --- forward / backward ----------------------------------------------------------------------------------------
    def forward(self, x):
        import numpy as np

        from ..impl.cpu import threads

        dev, xh = x.device, x.host()
        first = x.shape[0] // 2
        x0, x1 = Tensor.wrap_numpy(xh[:first], dev), Tensor.wrap_numpy(xh[first:], dev)
        helper = process.helper()  # started on first use
        if helper is not None and not threads.cpu_to_spare():
            helper = None
        with threads.alone():
            job = None
            if helper is not None:
                out_size = self.walk(x.shape[1:])[0]
                job = helper.forward(self.token, self.spec, self.store.data.host(), x1.host(), out_size)
            with _answered(job):
                y0 = run_forward(self.model.layers, x0).host()
            y1 = job.result() if job is not None else None
            where = "helper"
            if y1 is None:
                where = "here"
                y1 = run_forward(self._local()[0], x1).host()
        self.pending = _Pending(where, first, x1)
        return Tensor.wrap_numpy(np.concatenate([y0, y1]), dev)

    def backward(self, grad):
        import numpy as np

        from ..impl.cpu import threads

        pending = self.pending
        if pending is None:
            raise RuntimeError("backward() before forward()")
        dev = self.model.store.device
        gh = grad.host() if isinstance(grad, Tensor) else np.asarray(grad, np.float32)
        n = pending.first + pending.x1.shape[0]
        if gh.shape[0] != n:
            raise ValueError(f"backward: gradient for {gh.shape[0]} samples after a forward of {n}")
        g0 = Tensor.wrap_numpy(gh[: pending.first], dev)
        g1 = Tensor.wrap_numpy(gh[pending.first :], dev)
        want_gx = bool(getattr(self.model.layers[0], "input_grad", True)) if self.model.layers else True
        store_grad = self.model.store.grad.host()
        with threads.alone():
            helper = process.helper() if pending.where == "helper" else None
            job = helper.backward(self.token, g1.host(), want_gx, store_grad) if helper is not None else None
            with _answered(job):
                gx0 = run_backward(self.model.layers, g0)
            got = job.result() if job is not None else None
            if got is None:  # the second half here (redoing its forward where the helper ran it, or a copy's)
                copies, rgrad = self._local()
                if copies and hasattr(copies[0], "input_grad"):  # (set on the model since the forward)
                    copies[0].input_grad = want_gx
                if pending.where != "here":
                    run_forward(copies, pending.x1)
                gx1 = run_backward(copies, g1)
                np.add(store_grad, rgrad, out=store_grad)
                gx1 = None if gx1 is None else gx1.host()
            else:
                (gx1,) = got
        if gx0 is None or gx1 is None:
            return None
        return Tensor.wrap_numpy(np.concatenate([gx0.host(), gx1]), dev)


def _none():
    return None


@contextlib.contextmanager
def _answered(job):
    """Where this process's half raises (a bad input, Ctrl-C), the helper's answer is still read (and dropped)
    before the error goes on, so the pipe holds no stale answer and the helper is free again."""
    try:
        yield
    except BaseException:
        if job is not None:
            job.result(drop=True)
        raise
