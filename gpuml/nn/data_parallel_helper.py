"""The helper process of :mod:`gpuml.nn.data_parallel`: builds copies of models from their layers' ``config()`` and
runs halves of batches on them, reading and writing the shared file, until its command pipe closes. Started as
``python -c "...; serve(commands, replies, shared file)"`` with one thread and OpenBLAS at one thread."""

from __future__ import annotations

import os
import warnings

from ..tensor import Tensor
from .data_parallel import layer_types
from .data_parallel_process import shared_parameters
from .layers import run_backward, run_forward
from .sequential import Sequential


def serve(cmd_fd: int, reply_fd: int, mem_fd: int) -> None:
    """The helper's loop: build copies of models, run halves on them, until the command pipe closes (or its
    answers have no reader: the parent ended)."""
    import mmap
    from multiprocessing.connection import Connection

    import numpy as np

    from ..backends.cpu import CPUDevice

    commands, replies = Connection(cmd_fd, writable=False), Connection(reply_fd, readable=False)
    region = np.frombuffer(mmap.mmap(mem_fd, 0), np.float32)
    dev, types = CPUDevice(), layer_types()
    models: dict = {}  # token -> model, or the error its build raised
    try:
        replies.send(("ready", os.getpid()))
        while True:
            try:
                msg = commands.recv()
            except (EOFError, OSError):
                return
            kind = msg[0]
            if kind == "model":
                models[msg[1]] = _build(types, dev, *msg[2:])
                continue
            if kind == "drop":
                models.pop(msg[1], None)
                continue
            with warnings.catch_warnings(record=True) as caught:  # numpy's, raised again by the parent
                warnings.simplefilter("always")
                try:
                    reply = _run(models, msg, region, dev, np)
                except Exception as e:  # answered, not fatal: the parent runs that half itself
                    reply = ("error", f"{type(e).__name__}: {e}")
            replies.send((*reply, [(type(w.message).__name__, str(w.message)) for w in caught]))
    except (BrokenPipeError, EOFError, OSError):  # the parent is gone
        return


def _run(models, msg, region, dev, np):
    kind, token = msg[0], msg[1]
    model = models[token]
    if isinstance(model, Exception):
        raise model
    weights, grads = shared_parameters(region, model.store.data.size)
    if kind == "f":
        _, _, shape, x_off, y_off = msg
        np.copyto(model.store.data.host(), weights)
        n = int(np.prod(shape))
        # a copy: the layers keep their input for the backward, and another model's forward may come first
        x = Tensor.wrap_numpy(region[x_off : x_off + n].reshape(shape).copy(), dev)
        y = run_forward(model.layers, x).host()
        region[y_off : y_off + y.size] = y.reshape(-1)
        return ("y", y.shape)
    if kind == "b":
        _, _, shape, g_off, want_gx = msg
        if hasattr(model.layers[0], "input_grad"):  # the parent's model may have changed it since the forward
            model.layers[0].input_grad = want_gx
        n = int(np.prod(shape))
        gx = run_backward(model.layers, Tensor.wrap_numpy(region[g_off : g_off + n].reshape(shape).copy(), dev))
        grads[...] = model.store.grad.host()
        if not want_gx or gx is None:
            return ("g", None)
        gxh = gx.host()
        region[g_off - gxh.size : g_off] = gxh.reshape(-1)
        return ("g", gxh.shape)
    raise RuntimeError(f"unknown command {kind!r}")


def _build(types, dev, spec, input_shape, size):
    try:
        layers = [types[name].from_config(config) for name, config, _ in spec]
        model = Sequential(*layers).build(input_shape, device=dev)
        for layer, (_, _, extras) in zip(layers, spec, strict=True):
            for k, v in extras.items():
                if v is not None:
                    setattr(layer, k, v)
        if model.store.grad.size != size:
            raise RuntimeError(f"the helper's copy has {model.store.grad.size} parameter slots, not {size}")
        return model
    except Exception as e:
        return RuntimeError(f"building the helper's copy: {type(e).__name__}: {e}")
