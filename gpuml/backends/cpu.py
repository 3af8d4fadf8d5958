"""The ``cpu`` backend: every op as numpy code (the fallback when no WebGPU adapter exists).

Tensors on this device hold a contiguous numpy array; ops call their numpy twins (see each op module).
"""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

from ..config import setting
from .base import Device

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 64 << 20  # arrays below this come from the heap, where freed memory is reused warm
_TRIM_THRESHOLD = 256 << 20  # free heap kept (not returned to the OS) before glibc trims it


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed memory for the numpy twins' per-step arrays instead of returning it to the OS.

    A training step allocates and frees the same 0.1-6 MB arrays every step (column matrices, col2im planes,
    activations). With glibc's defaults those land on fresh mmaps or on heap top that gets trimmed, so every step
    page-faults them in again (measured in docs/ENGINEERING.md, "The numpy backend's costs": about 30% of a LeNet-5
    step). The same as running with ``MALLOC_MMAP_THRESHOLD_`` /
    ``MALLOC_TRIM_THRESHOLD_`` set; skipped when either is set already, off glibc, or with ``GPUML_CPU_MALLOPT=0``.
    Returns whether the settings were applied."""
    if setting("GPUML_CPU_MALLOPT") == "0" or not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, Pyodide)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def _blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy, or no build info
        return "BLAS"


class CPUDevice(Device):
    name = "cpu"
    is_gpu = False
    impl_family = "cpu"

    def __init__(self):
        self.malloc_tuned = keep_freed_memory()
        self.adapter_info = {
            "device": f"numpy {np.__version__} ({_blas_name()})",
            "backend_type": "numpy",
            "adapter_type": "CPU",
        }
        self.features = frozenset()
        self.limits = {}
