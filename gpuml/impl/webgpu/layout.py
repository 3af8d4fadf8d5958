"""Layout ops on WebGPU: transpose (any axis permutation) and contiguous copies."""

from __future__ import annotations

import math

from ...tensor import Tensor
from ._common import WG, pad8


def transpose(x: Tensor, axes: tuple[int, ...], shape: tuple[int, ...], strides: list[int]) -> Tensor:
    device = x.device
    out = Tensor.empty(shape, x.dtype_name, device)
    n = math.prod(shape)
    if n == 0:
        return out
    if axes == tuple(range(x.ndim)):
        return copy_into(x, out)
    dims, merged = _merged(shape, [strides[a] for a in axes])
    if len(dims) == 2 and merged == [1, dims[0]]:
        dims, merged = [1, *dims], [dims[0] * dims[1], *merged]
    limit = int(device.limits.get("max_compute_workgroups_per_dimension", 65535))
    if len(dims) == 3 and merged == [dims[1] * dims[2], 1, dims[1]] and dims[0] <= limit:
        # a batch of 2-D transposes (weight matrices, (G, K, OCg) -> (G, OCg, K)): layout/transpose2d.wgsl
        b, c, r = dims
        if -(-r // 8) <= limit and -(-c // 8) <= limit:
            device.kernel("layout/transpose2d.wgsl")((-(-r // 8), -(-c // 8), b), {"R": r, "C": c}, x_in=x, out=out)
            return out
    params = {"n": n, "shape": pad8(dims, 1), "stride": pad8(merged, 0)}
    kernel = device.kernel("layout/permute.wgsl", WG=WG, ND=len(dims))
    kernel(device.grid_1d(-(-n // WG)), params, x_in=x, out=out)
    return out


def _merged(shape, strides) -> tuple[list[int], list[int]]:
    """The output axes (extent, input stride) with size-1 axes dropped and neighbours that stay adjacent in the
    input merged (e.g. (2, 0, 3, 1) of (3, 4, 5, 6) is 4 axes; (1, 0) of (120, 400) is 2)."""
    dims: list[int] = []
    out_strides: list[int] = []
    for extent, stride in zip(shape, strides, strict=True):
        if extent == 1:
            continue
        if dims and out_strides[-1] == stride * extent:
            dims[-1] *= extent
            out_strides[-1] = stride
        else:
            dims.append(extent)
            out_strides.append(stride)
    return (dims or [1]), (out_strides or [1])


def copy_into(src: Tensor, dst: Tensor) -> Tensor:
    if src.nbytes:
        dst.device.copy(src._storage.buffer, dst._storage.buffer, src.nbytes, src.byte_offset, dst.byte_offset)
    return dst


def copy(x: Tensor) -> Tensor:
    return copy_into(x, Tensor.empty(x.shape, x.dtype_name, x.device))
