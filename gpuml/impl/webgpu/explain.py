"""Explanation helpers on WebGPU: occluded copies of an image built on the device (shaders/explain/occlude.wgsl)."""

from __future__ import annotations

import array

from ...tensor import Tensor, tensor


def occlude(x: Tensor, positions: list[tuple[int, int]], patch: int, fill: float) -> Tensor:
    """(P, C, H, W): copies of the single image ``x`` (1, C, H, W) with a ``patch`` square set to ``fill`` at each
    (top, left) position."""
    device = x.device
    _, c, h, w = x.shape
    n = len(positions)
    corners = tensor(array.array("i", [v for p in positions for v in p]), dtype="int32", device=device)
    out = Tensor.empty((n, c, h, w), "float32", device)
    total = n * c * h * w
    kernel = device.kernel("explain/occlude.wgsl", WG=256)
    kernel(
        device.grid_1d(-(-total // 256)),
        {"n": total, "channels": c, "height": h, "width": w, "patch_size": patch, "fill": fill},
        image=x,
        corners=corners,
        out=out,
    )
    return out
