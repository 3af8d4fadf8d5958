"""Argument checks shared by the public ops and the libraries above them (nn.functional): operand conversion and
checks with errors that name the problem."""

from __future__ import annotations

from ..backends import Device, get_device
from ..tensor import Tensor, as_tensor


def operands(*xs) -> tuple[Device, list[Tensor]]:
    """The device of the first tensor operand (else the current device) and every operand as a Tensor on it."""
    device = next((x.device for x in xs if isinstance(x, Tensor)), None) or get_device()
    return device, [as_tensor(x, device) for x in xs]


def require_float(op: str, *ts: Tensor, half: bool = False) -> str:
    """Check that ``ts`` are float32 (or, where the op has an f16 variant, ``half=True``, all float16);
    returns the WGSL scalar type of the kernels to run (``"f32"`` or ``"f16"``)."""
    if half and ts and all(t.dtype_name == "float16" for t in ts):
        return "f16"
    for t in ts:
        if t.dtype_name != "float32":
            also = " (float16 works when every operand is float16)" if half else ""
            raise TypeError(f"{op} needs float32 tensors, got {t.dtype_name} (shape {t.shape}){also}")
    return "f32"


def normalize_axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % ndim
