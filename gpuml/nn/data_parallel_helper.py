"""The helper process of :mod:`gpuml.nn.data_parallel`: builds copies of models from their layers' ``config()`` and
runs halves of batches on them, reading and writing the shared file, until its command pipe closes. Started as
``python -c "...; serve(commands, replies, shared file)"`` with one thread and OpenBLAS at one thread."""

from __future__ import annotations

import os
import warnings

from ..tensor import Tensor
from .data_parallel import layer_types, shared_parameters
from .layers import run_backward, run_forward
from .sequential import Sequential


def serve(cmd_fd: int, reply_fd: int, mem_fd: int) -> None:
    """The helper's loop: build copies of models, run halves on them, until the command pipe closes."""
    import mmap
    from multiprocessing.connection import Connection

    import numpy as np

    from ..backends.cpu import CPUDevice

    commands, replies = Connection(cmd_fd, writable=False), Connection(reply_fd, readable=False)
    mem = mmap.mmap(mem_fd, 0)
    region = np.frombuffer(mem, np.float32)
    dev = CPUDevice()
    types = layer_types()
    models: dict = {}  # token -> model, or the error its build raised
    # numpy's warnings (overflow, invalid values) come from this process's half too, where the user's filters apply
    warnings.simplefilter("ignore")
    replies.send(("ready", os.getpid()))
    while True:
        try:
            msg = commands.recv()
        except (EOFError, OSError):
            return
        try:
            kind = msg[0]
            if kind == "model":
                models[msg[1]] = _build(types, dev, *msg[2:])
                continue
            if kind == "drop":
                models.pop(msg[1], None)
                continue
            model = models[msg[1]]
            if isinstance(model, Exception):
                raise model
            size = model.store.data.size
            if kind == "f":
                _, _, shape, x_off, y_off = msg
                np.copyto(model.store.data.host(), shared_parameters(region, size)[0])
                n = int(np.prod(shape))
                x = Tensor.wrap_numpy(region[x_off : x_off + n].reshape(shape), dev)
                y = run_forward(model.layers, x).host()
                region[y_off : y_off + y.size] = y.reshape(-1)
                replies.send(("y", y.shape))
            elif kind == "b":
                _, _, shape, g_off, want_gx = msg
                n = int(np.prod(shape))
                g = Tensor.wrap_numpy(region[g_off : g_off + n].reshape(shape).copy(), dev)
                gx = run_backward(model.layers, g)
                shared_parameters(region, size)[1][...] = model.store.grad.host()
                gx_shape = None
                if want_gx and gx is not None:
                    gxh = gx.host()
                    region[g_off - gxh.size : g_off] = gxh.reshape(-1)
                    gx_shape = gxh.shape
                replies.send(("g", gx_shape))
            else:
                raise RuntimeError(f"unknown command {kind!r}")
        except Exception as e:  # answered, not fatal: the parent runs that half itself
            replies.send(("error", f"{type(e).__name__}: {e}"))


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
