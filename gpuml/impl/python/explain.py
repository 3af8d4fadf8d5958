"""Explanation helpers as pure-Python twins: occluded copies of an image."""

from __future__ import annotations

import array

from ...tensor import Tensor


def occlude(x: Tensor, positions: list[tuple[int, int]], patch: int, fill: float) -> Tensor:
    _, c, h, w = x.shape
    image = x.values()
    fill32 = array.array("f", [fill])[0]  # stored as float32, like the other backends
    out = []
    for py, px in positions:
        copy = list(image)
        for ch in range(c):
            for y in range(py, min(h, py + patch)):
                start = (ch * h + y) * w + px
                stop = (ch * h + y) * w + min(w, px + patch)
                copy[start:stop] = [fill32] * (stop - start)
        out += copy
    return Tensor.from_values(out, (len(positions), c, h, w), x.device)
