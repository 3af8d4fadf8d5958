"""Explanation helpers as numpy twins: occluded copies of an image."""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor


def occlude(x: Tensor, positions: list[tuple[int, int]], patch: int, fill: float) -> Tensor:
    out = np.repeat(x.host(), len(positions), axis=0)
    for k, (py, px) in enumerate(positions):
        out[k, :, py : py + patch, px : px + patch] = fill
    return Tensor.wrap_numpy(out, x.device)
