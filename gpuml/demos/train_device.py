"""Where the training windows train: ``auto``'s choice for the "train" family (:func:`gpuml.backends.device_for`),
while drawing stays on the window's WebGPU device. On a software adapter (lavapipe) numpy's LeNet-5 step takes a
fraction of the adapter's, which also renders the frames on the same cores, so a frame that trains on numpy stays
under 50 ms; on a GPU, or with ``GPUML_BACKEND=native`` / ``--backend native``, the window trains on WebGPU. The
weights drawn (filters, histograms) are host copies either way, so nothing is copied between the devices.
"""

from __future__ import annotations

from ..backends import Device, auto_choices, device_for


def _short(adapter: str) -> str:
    return adapter.split(" (")[0].split(" [")[0]


def training_device(render_device: Device) -> tuple[Device, str]:
    """(the device the window's model trains on, one line saying which and why)."""
    device = device_for("train")
    row = next((r for r in auto_choices() if r["family"] == "train"), None)
    measured = (row or {}).get("measured") or {}
    adapter = _short(render_device.adapter)
    if device is not render_device and not device.is_gpu:
        ratio = ""
        if measured.get("cpu_ms"):
            ratio = f" ({measured['adapter_ms'] / measured['cpu_ms']:.1f}x {adapter}'s speed here)"
        return device, f"training on numpy{ratio}, drawing on WebGPU"
    why = (row or {}).get("why", "")
    if measured:
        why = "measured faster than numpy"
    else:
        why = why.split(":")[0]  # "GPUML_BACKEND=native", "a GPU", "chosen with set_device() or --backend"
    return device, f"training on WebGPU ({adapter})" + (f": {why}" if why else "")
