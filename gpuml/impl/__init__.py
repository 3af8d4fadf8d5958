"""Each backend's implementations of the ops, one package per backend family.

- :mod:`gpuml.impl.webgpu`: host code that records WGSL kernels (the ``native`` and ``browser`` devices);
- :mod:`gpuml.impl.cpu`: numpy twins (the ``cpu`` device; skipped where numpy is missing, as in Pyodide core);
- :mod:`gpuml.impl.python`: pure-Python twins (the ``python`` device).

A public op (gpuml.ops, gpuml.nn, ...) validates its arguments once and calls ``device.impl.<name>(...)`` with
arguments already checked and normalised; every package implements the same names with the same signatures
(docs/ENGINEERING.md, "Adding an op"). Importing this package registers the three with the runtime.
"""

from __future__ import annotations

from types import ModuleType

from ..backends.base import register_implementation
from . import python as _python
from . import webgpu as _webgpu

__all__ = ["Implementation"]


class Implementation:
    """The ops of one backend family as attributes; an op the family lacks raises NotImplementedError naming it."""

    def __init__(self, family: str, module: ModuleType, what: str):
        self.family, self.what = family, what
        for name in module.__all__:
            setattr(self, name, getattr(module, name))

    def __getattr__(self, name: str):  # only reached for names the family does not implement
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotImplementedError(
            f"gpuml: {name}() has no {self.what}, so it cannot run on the {self.family} backend; it runs on the "
            "browser/native (WebGPU) and cpu (numpy) backends"
        )

    def __repr__(self) -> str:
        return f"<gpuml {self.family} implementations>"


register_implementation("webgpu", Implementation("webgpu", _webgpu, "WebGPU kernel"))
register_implementation("python", Implementation("python", _python, "pure-Python twin"))
try:
    from . import cpu as _cpu
except ImportError:  # pragma: no cover - no numpy (Pyodide core): the cpu backend cannot open either
    pass
else:
    register_implementation("cpu", Implementation("cpu", _cpu, "numpy twin"))
