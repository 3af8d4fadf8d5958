"""gpuml: one set of WGSL compute shaders for ML, run natively (wgpu-py), in the browser (Pyodide + navigator.gpu)
and on numpy.

>>> import numpy as np, gpuml
>>> t = gpuml.ops.relu(np.array([-1.0, 2.0], np.float32))   # runs on the best backend
>>> t.numpy().tolist()
[0.0, 2.0]

The libraries (``gpuml.nn``, ``optim``, ``cluster``, ``augment``, ``explain``, ``datasets``, ``models``), model files
(``gpuml.save``, ``gpuml.load``) and the training API (``Trainer``, ``TrainConfig``, ``Dataset``, ``load_model``) are
attributes of this module, imported on first use (PEP 562 ``__getattr__``) so that ``import gpuml`` stays quick.
The training API lives in ``gpuml.train``, an application module above this facade in the layering
(tests/layers.py): it is reached only by name at first access, never imported while ``gpuml`` is being imported.
"""

from importlib import import_module

from . import ops
from . import workloads as _workloads  # noqa: F401 - registers the workloads auto times per op family
from .backends import available, get_device, set_device
from .config import VERSION as __version__
from .tensor import DtypeWarning, Tensor, tensor
from .wgsl import ShaderCompileError, ShaderTemplateError

# submodules that `gpuml.<name>` imports on first access
_SUBMODULES = ("nn", "optim", "cluster", "augment", "explain", "datasets", "models", "serialize", "export")
# name -> module that defines it, imported on first access
_LAZY = {
    "save": "gpuml.serialize",
    "load": "gpuml.serialize",
    "ModelFormatError": "gpuml.serialize",
    "Dataset": "gpuml.datasets",
    "Trainer": "gpuml.train",
    "TrainConfig": "gpuml.train",
    "load_model": "gpuml.train",
}

__all__ = [
    "Dataset",
    "DtypeWarning",
    "ModelFormatError",
    "ShaderCompileError",
    "ShaderTemplateError",
    "Tensor",
    "TrainConfig",
    "Trainer",
    "__version__",
    "augment",
    "available",
    "cluster",
    "device",
    "explain",
    "get_device",
    "load",
    "load_model",
    "nn",
    "ops",
    "optim",
    "save",
    "set_device",
    "tensor",
]


def device(name: str | None = None):
    """The current device (``name=None``) or the device of backend ``name`` ("native", "browser", "cpu", "python")."""
    return get_device(name)


def __getattr__(name: str):
    if name in _SUBMODULES:
        try:
            return import_module(f"{__name__}.{name}")  # the import binds it here: no second call
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBMODULES, *_LAZY})
