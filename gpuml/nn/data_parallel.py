"""Two halves of a batch at once on the numpy backend: a helper process runs the second half's forward and backward
while this process runs the first's.

Why a process: the numpy backend's step is ~1,000 short numpy calls; two threads running such chains queue for
the GIL, so half-steps on two threads ran no faster than one after the other, while on two processes they ran
1.9x as fast on the 2-core VM (benchmarks/RESULTS.md, "numpy backend: data parallelism inside the LeNet-5 step").

When: :meth:`Sequential.forward` on the numpy backend (``cpu`` device) with two or more threads set
(:func:`gpuml.impl.cpu.threads.batch_halves`), a batch of :data:`SPLIT_MIN` or more, and only layers that treat each
sample alone (no BatchNorm2d, no active Dropout). The split depends on nothing else (not on load or timing), so
results are reproducible; each half runs the one-thread code with OpenBLAS at one thread, in this process or in the
helper, so both ways give the same bits. The helper runs a half only when it is up (its start, ~0.5 s, runs in the
background; the halves run here one after the other meanwhile) and a CPU is idle (:func:`threads.cpu_to_spare`):
with both cores busy a hand-over only adds its cost.

``backward`` writes the first half's parameter gradients into the store and adds the second half's (the helper's,
or those of a local replica's layers with their own gradient buffer), so gradients still overwrite, not accumulate.

The helper is one ``python -c`` process per process (not multiprocessing: its spawn would re-run a user's script
without a ``__main__`` guard), started with one thread and OpenBLAS at one thread, in its own session (Ctrl-C
stops the parent only); it exits when its command pipe closes. Weights, inputs, outputs and gradients pass through
one shared memory file (memfd, sparse: only what a batch uses is touched); commands through a pipe (two round
trips per step, tens of microseconds). Models: up to :data:`HELPER_MODELS` per helper, rebuilt there from their
layers' ``config()``.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import dataclasses
import itertools
import os
import sys
import threading
import warnings
from collections import OrderedDict

from ..tensor import Tensor
from .layers import run_backward, run_forward

SPLIT_MIN = 32  # samples: below, the halves' fixed costs (hand-overs, per-call overhead) outweigh the second core
REGION_BYTES = 512 << 20  # the shared file's size (sparse); a batch needing more runs its halves here
HELPER_MODELS = 8
WAIT_S = 120.0  # a helper silent this long is given up on (the halves then run here)
# Waiting for the helper, poll this long before sleeping: a woken process starts late; 2 ms of polling made the
# LeNet-5 step ~5% faster on the 2-core VM. The helper does not poll for its next command: that made it slower
# (its polling takes cycles from this process's loss and optimizer step; benchmarks/RESULTS.md, 2026-12-07).
SPIN_S = 0.002
HEADER = 16  # floats before the weights in the shared file

# Layers whose forward and backward treat each sample alone (their outputs and parameter gradients are sums over
# samples); exact types only (a subclass may not).
SEPARABLE = frozenset(
    {"Conv2d", "Linear", "ReLU", "Tanh", "Flatten", "MaxPool2d", "AvgPool2d", "Sigmoid", "GELU", "LeakyReLU"}
)
EXTRAS = ("algo", "input_grad", "training", "guided")  # layer attributes set after construction


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


_TYPES: dict = {}


def _extras(layers) -> tuple:
    return tuple(tuple(getattr(layer, k, None) for k in EXTRAS) for layer in layers)


def describe() -> str:
    """The numpy backend's threads and whether batches run as halves, for ``gpuml info``."""
    from ..impl.cpu import threads

    n = threads.threads()
    if threads.batch_halves():
        return (
            f"{n} threads; a batch of {SPLIT_MIN}+ samples through a model runs as two halves at once, the second in "
            "a helper process (GPUML_CPU_HALVES=0: off)"
        )
    why = "one thread" if n < 2 else "GPUML_CPU_HALVES=0" if os.name == "posix" else "no helper processes here"
    return f"{n} thread{'s' * (n != 1)}; whole batches ({why})"


def split_for(model, x) -> Halves | None:
    """The model's :class:`Halves` when this forward runs as two halves, else None."""
    if not x.shape or x.shape[0] < SPLIT_MIN or not x.device.impl.batch_halves() or not separable(model.layers):
        return None
    halves = model.__dict__.get("_halves")
    if halves is None or halves.layer_ids != tuple(map(id, model.layers)):
        halves = model.__dict__["_halves"] = Halves(model)
    return halves


_TOKENS = itertools.count(1)


@dataclasses.dataclass
class _Pending:
    """What the last forward left for its backward."""

    where: str  # "helper" or "here"
    first: int  # samples in the first half
    x1: Tensor  # the second half's input (to redo it here should the helper fail)


class Halves:
    """A model's two-halves runner: the replica layers for running the second half here, and its token in the
    helper."""

    def __init__(self, model):
        self.model = model
        self.layer_ids = tuple(map(id, model.layers))
        self.token = next(_TOKENS)
        self.replica = None
        self.pending: _Pending | None = None

    def __deepcopy__(self, memo):  # a copied model gets its own (its layers are new objects)
        return None

    def __reduce__(self):
        return (_none, ())

    # --- the second half here ------------------------------------------------------------------------------------
    def _local(self):
        """The model's layers again, each with its own forward state; parameters share the weights and write their
        gradients into a buffer of their own."""
        store, layers = self.model.store, self.model.layers
        if self.replica is None:
            import numpy as np

            grad = np.zeros(store.grad.size, np.float32)
            copies = []
            for layer in layers:
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
        copies, grad = self.replica
        for r, layer in zip(copies, layers, strict=True):  # settings changed since (train/eval, algo)
            for k in EXTRAS:
                if k in layer.__dict__ or hasattr(type(layer), k):
                    setattr(r, k, getattr(layer, k))
        return copies, grad

    # --- forward / backward ----------------------------------------------------------------------------------------
    def forward(self, x):
        import numpy as np

        from ..impl.cpu import threads

        dev, xh = x.device, x.host()
        first = x.shape[0] // 2
        x0, x1 = Tensor.wrap_numpy(xh[:first], dev), Tensor.wrap_numpy(xh[first:], dev)
        helper = _helper()  # started on first use
        if helper is not None and not threads.cpu_to_spare():
            helper = None
        with threads.alone():
            job = helper.forward(self, x1) if helper is not None else None
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
        if gh.shape[0] != pending.first + pending.x1.shape[0]:
            raise ValueError(
                f"backward: gradient for {gh.shape[0]} samples after a forward of {pending.first + pending.x1.shape[0]}"
            )
        g0 = Tensor.wrap_numpy(gh[: pending.first], dev)
        g1 = Tensor.wrap_numpy(gh[pending.first :], dev)
        want_gx = bool(getattr(self.model.layers[0], "input_grad", True)) if self.model.layers else True
        store_grad = self.model.store.grad.host()
        with threads.alone():
            helper = _HELPERS[0] if pending.where == "helper" and _HELPERS else None
            job = helper.backward(self, g1, want_gx) if helper is not None else None
            with _answered(job):
                gx0 = run_backward(self.model.layers, g0)
            got = job.result() if job is not None else None
            if got is None:  # the second half here (redoing its forward if the helper ran it and failed)
                copies, rgrad = self._local()
                if pending.where == "helper":
                    run_forward(copies, pending.x1)
                gx1 = run_backward(copies, g1)
                np.add(store_grad, rgrad, out=store_grad)
                gx1 = None if gx1 is None else gx1.host()
            else:
                hgrad, gx1 = got
                np.add(store_grad, hgrad, out=store_grad)
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


# --- the helper process ----------------------------------------------------------------------------------------------
_HELPERS: list = []  # [the process's Helper], or [None] once one failed (not restarted)
_START = threading.Lock()


def _helper():
    """The running helper when it is up and free, else None (starting it on first call)."""
    if not _HELPERS:
        with _START:
            if not _HELPERS:
                try:
                    _HELPERS.append(Helper())
                except OSError as e:
                    warnings.warn(
                        f"gpuml: no helper process for two-halves batches ({e}); halves run here", stacklevel=3
                    )
                    _HELPERS.append(None)
                return None
    h = _HELPERS[0]
    return h if h is not None and h.up() else None


def _after_fork() -> None:  # a forked child shares the parent's helper pipes: it starts its own
    _HELPERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def shared_parameters(region, size: int):
    """The weights and the helper's gradients in the shared file: views of ``size`` floats each."""
    return region[HEADER : HEADER + size], region[HEADER + size : HEADER + 2 * size]


def spin(ready, seconds: float) -> bool:
    import time

    end = time.perf_counter() + seconds
    while not ready():
        if time.perf_counter() > end:
            return False
    return True


class _Job:
    def __init__(self, helper, on_reply):
        self.helper, self.on_reply = helper, on_reply

    def result(self, drop: bool = False):
        """The helper's answer, or None when it failed (then it is not used again). ``drop``: read and drop it; an
        error it reports then is not the helper's failure (this process's half failed first, most likely alike)."""
        h = self.helper
        try:
            if SPIN_S and not spin(h.recv.poll, SPIN_S) and not h.recv.poll(WAIT_S):
                raise TimeoutError(f"no answer in {WAIT_S:.0f} s")
            reply = h.recv.recv()
            if drop:
                return None
            if reply[0] == "error":
                raise RuntimeError(reply[1])
            return self.on_reply(reply)
        except (OSError, EOFError, RuntimeError, TimeoutError) as e:
            h.fail(e)
            return None
        finally:
            h.lock.release()


class Helper:
    """The helper process and the shared file."""

    def __init__(self):
        import mmap
        import subprocess
        import tempfile
        from multiprocessing.connection import Connection

        import numpy as np

        fd = (
            os.memfd_create("gpuml-halves")
            if hasattr(os, "memfd_create")
            else os.dup(tempfile.TemporaryFile().fileno())
        )
        os.ftruncate(fd, REGION_BYTES)
        self.mem = mmap.mmap(fd, REGION_BYTES)
        self.region = np.frombuffer(self.mem, np.float32)
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = (
            f"import sys; sys.path.insert(0, {root!r}); from gpuml.nn.data_parallel_helper import serve; "
            f"serve({cmd_r}, {rep_w}, {fd})"
        )
        env = dict(os.environ, GPUML_CPU_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(cmd_r, rep_w, fd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            for f in (cmd_r, rep_w, fd):  # the helper's ends; ours close with the connections
                os.close(f)
        self.send = Connection(cmd_w, readable=False)
        self.recv = Connection(rep_r, writable=False)
        self.lock = threading.Lock()
        self.ready = False
        self.failed = False
        self.models: OrderedDict = OrderedDict()  # token -> extras its copy has
        atexit.register(self.close)

    def up(self) -> bool:
        if self.failed:
            return False
        if not self.ready:
            try:
                if not self.recv.poll():
                    return False
                reply = self.recv.recv()
            except (OSError, EOFError) as e:
                self.fail(e)
                return False
            self.ready = reply[0] == "ready"
            if not self.ready:
                self.fail(RuntimeError(str(reply)))
        return self.ready

    def fail(self, why) -> None:
        if not self.failed:
            self.failed = True
            warnings.warn(f"gpuml: the two-halves helper process stopped ({why}); halves run here", stacklevel=4)
            self.close()

    def close(self) -> None:
        import subprocess

        for conn in (getattr(self, "send", None),):
            try:
                conn.close()
            except (OSError, AttributeError):
                pass
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()

    # --- requests: each takes the lock (another thread meanwhile runs its halves here) ----------------------
    def _model(self, halves) -> None:
        """Build the model's copy in the helper, or rebuild it where its layer settings changed."""
        extras = _extras(halves.model.layers)
        if self.models.get(halves.token) == extras:
            self.models.move_to_end(halves.token)
            return
        model = halves.model
        spec = [
            (type(layer).__name__, layer.config(), dict(zip(EXTRAS, e, strict=True)))
            for layer, e in zip(model.layers, extras, strict=True)
        ]
        # no answer: a failed build is reported by the command that needs the model
        self.send.send(("model", halves.token, spec, tuple(model.input_shape), model.store.grad.size))
        self.models[halves.token] = extras
        if len(self.models) > HELPER_MODELS:
            old, _ = self.models.popitem(last=False)
            self.send.send(("drop", old))

    def forward(self, halves, x1) -> _Job | None:
        import numpy as np

        model = halves.model
        size = model.store.data.size
        n_in = x1.size
        per_sample = _per_sample(model, x1.shape[1:])
        if per_sample is None:  # a shape the layers refuse: the halves here raise the error
            return None
        n_out = x1.shape[0] * per_sample
        if HEADER + 2 * size + 2 * n_in + 2 * n_out > self.region.size or not self.lock.acquire(blocking=False):
            return None
        try:
            self._model(halves)
            r = self.region
            weights, _ = shared_parameters(r, size)
            np.copyto(weights, model.store.data.host())
            x_off = HEADER + 2 * size
            r[x_off : x_off + n_in] = x1.host().reshape(-1)
            self.send.send(("f", halves.token, tuple(x1.shape), x_off, x_off + n_in))
        except (OSError, EOFError, RuntimeError) as e:
            self.lock.release()
            self.fail(e)
            return None
        y_off = x_off + n_in

        def output(reply):
            shape = reply[1]
            return r[y_off : y_off + int(np.prod(shape))].reshape(shape).copy()

        return _Job(self, output)

    def backward(self, halves, g1, want_gx: bool) -> _Job | None:
        import numpy as np

        if self.failed or halves.token not in self.models or not self.lock.acquire(blocking=False):
            return None  # (a model whose copy was dropped since its forward: its half runs here again)
        size = halves.model.store.grad.size
        n = g1.size
        g_off = self.region.size - n  # the output gradient at the end, the input gradient before it
        try:
            self.region[g_off:] = g1.host().reshape(-1)
            self.send.send(("b", halves.token, tuple(g1.shape), g_off, want_gx))
        except (OSError, EOFError) as e:
            self.lock.release()
            self.fail(e)
            return None
        r = self.region

        def grads(reply):
            gx_shape = reply[1]
            gx = None
            if gx_shape is not None:
                m = int(np.prod(gx_shape))
                gx = r[g_off - m : g_off].reshape(gx_shape).copy()
            return shared_parameters(r, size)[1], gx

        return _Job(self, grads)


def _per_sample(model, in_shape) -> int:
    import math

    cache = model.__dict__.setdefault("_out_sizes", {})
    if in_shape not in cache:
        shape = in_shape
        try:
            for layer in model.layers:
                shape = copy.copy(layer).output_shape(shape)
        except (ValueError, TypeError, IndexError):
            return None
        cache[in_shape] = math.prod(shape)
    return cache[in_shape]
