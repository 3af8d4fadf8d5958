"""gpuml: one set of WGSL compute shaders for ML, run natively (wgpu-py), in the browser (Pyodide + navigator.gpu)
and on numpy.

>>> import numpy as np, gpuml
>>> t = gpuml.ops.relu(np.array([-1.0, 2.0], np.float32))   # runs on the best backend
>>> t.numpy().tolist()
[0.0, 2.0]
"""

from . import ops
from .backends import available, get_device, set_device
from .tensor import Tensor, tensor
from .wgsl import ShaderCompileError, ShaderTemplateError

__version__ = "0.1.0"

__all__ = [
    "ShaderCompileError",
    "ShaderTemplateError",
    "Tensor",
    "__version__",
    "available",
    "device",
    "get_device",
    "ops",
    "set_device",
    "tensor",
]


def device(name: str | None = None):
    """The current device (``name=None``) or the device of backend ``name`` ("native", "browser", "cpu", "python")."""
    return get_device(name)
