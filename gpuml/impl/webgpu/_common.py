"""Helpers shared by the WebGPU implementations."""

from __future__ import annotations

WG = 256  # default workgroup size of the 1-D kernels


def vec4_count(n: int) -> int:
    return (n + 3) // 4


def pad8(values, fill: int) -> list[int]:
    """Right-align up to 8 per-axis values in 8 slots (the layout of the kernels' shape/stride uniforms)."""
    values = list(values)
    if len(values) > 8:
        raise ValueError(f"at most 8 dimensions are supported, got {len(values)}")
    return [fill] * (8 - len(values)) + values
