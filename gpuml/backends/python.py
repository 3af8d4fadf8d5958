"""The ``python`` backend: pure Python, no numpy, no GPU — the last fallback, made for the browser page.

Pyodide core ships without numpy, so a page offline on a browser without WebGPU has neither the ``browser`` nor
the ``cpu`` backend. This one keeps the page's demos running there (digit pad, Grad-CAM, k-means, augmentation,
training on a subset): tensors live in ``bytearray`` storage viewed as float32/int32 words, and the ops the demos
use have pure-Python twins (:mod:`gpuml.impl.python`).
Their inner loops are ``math.sumprod`` dot products (C speed on Python >= 3.12) over lists; they are orders of
magnitude slower than the other backends and are meant for small work. Ops without a pure-Python twin raise
``NotImplementedError`` naming the op.
"""

from __future__ import annotations

import platform
import sys

from .base import Device


class PythonDevice(Device):
    name = "python"
    is_gpu = False
    impl_family = "python"
    pure = True

    def __init__(self):
        impl = platform.python_implementation()
        where = "Pyodide" if sys.platform == "emscripten" else platform.system() or "host"
        self.adapter_info = {
            "device": f"pure Python ({impl} {platform.python_version()}, {where}, no numpy)",
            "backend_type": "python",
            "adapter_type": "CPU",
        }
        self.features = frozenset()
        self.limits = {}

    # Storage is a bytearray per tensor; the Tensor class views it through memoryview casts.
    def alloc(self, nbytes: int) -> bytearray:
        return bytearray(nbytes)

    def release(self, buf) -> None:
        pass

    def write(self, buf: bytearray, data, offset: int = 0) -> None:
        raw = memoryview(data).cast("B")
        buf[offset : offset + len(raw)] = raw

    def read(self, buf: bytearray, nbytes: int, offset: int = 0) -> bytes:
        return bytes(buf[offset : offset + nbytes])

    async def read_async(self, buf: bytearray, nbytes: int, offset: int = 0) -> bytes:
        return self.read(buf, nbytes, offset)

    def copy(self, src: bytearray, dst: bytearray, nbytes: int, src_offset: int = 0, dst_offset: int = 0) -> None:
        dst[dst_offset : dst_offset + nbytes] = src[src_offset : src_offset + nbytes]
