"""The ``cpu`` backend: every op as numpy code (the fallback when no WebGPU adapter exists).

Tensors on this device hold a contiguous numpy array; ops call their numpy twins (see each op module).
"""

from __future__ import annotations

import numpy as np

from .base import Device


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

    def __init__(self):
        self.adapter_info = {
            "device": f"numpy {np.__version__} ({_blas_name()})",
            "backend_type": "numpy",
            "adapter_type": "CPU",
        }
        self.features = frozenset()
        self.limits = {}
