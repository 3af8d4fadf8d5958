"""Layout ops: transpose (any axis permutation) and contiguous copies."""

from __future__ import annotations

import math

from ..tensor import Tensor
from . import pure
from ._common import WG, contiguous_strides, operands, pad8

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


def transpose(x, axes: tuple[int, ...] | list[int] | None = None) -> Tensor:
    """numpy.transpose as a new contiguous tensor (reverses the axes when ``axes`` is None)."""
    device, (x,) = operands(x)
    nd = x.ndim
    axes = tuple(range(nd))[::-1] if axes is None else tuple(int(a) % nd if nd else int(a) for a in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {nd} dimensions (shape {x.shape})")
    shape = tuple(x.shape[a] for a in axes)
    if device.pure:
        return pure.transpose(x, axes, shape, contiguous_strides(x.shape))
    if not device.is_gpu:
        return Tensor.wrap_numpy(np.ascontiguousarray(np.transpose(x.host(), axes)), device)
    out = Tensor.empty(shape, x.dtype_name, device)
    n = math.prod(shape)
    if n == 0:
        return out
    if axes == tuple(range(nd)):
        copy_into(x, out)
        return out
    dims, strides = _merged(shape, [contiguous_strides(x.shape)[a] for a in axes])
    if len(dims) == 2 and strides == [1, dims[0]]:
        dims, strides = [1, *dims], [dims[0] * dims[1], *strides]
    limit = int(device.limits.get("max_compute_workgroups_per_dimension", 65535))
    if len(dims) == 3 and strides == [dims[1] * dims[2], 1, dims[1]] and dims[0] <= limit:
        # a batch of 2-D transposes (weight matrices, (G, K, OCg) -> (G, OCg, K)): layout/transpose2d.wgsl
        b, c, r = dims
        if -(-r // 8) <= limit and -(-c // 8) <= limit:
            device.kernel("layout/transpose2d.wgsl")((-(-r // 8), -(-c // 8), b), {"R": r, "C": c}, x_in=x, out=out)
            return out
    params = {"n": n, "shape": pad8(dims, 1), "stride": pad8(strides, 0)}
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


def copy(x) -> Tensor:
    """A new tensor with the same contents."""
    device, (x,) = operands(x)
    if device.numpy_host:
        return Tensor.wrap_numpy(x.host().copy(), device)
    out = Tensor.empty(x.shape, x.dtype_name, device)
    copy_into(x, out)
    return out


def copy_into(src: Tensor, dst: Tensor) -> Tensor:
    """Copy ``src`` into ``dst`` (same number of elements and dtype; views allowed). Returns ``dst``."""
    if src.size != dst.size or src.dtype_name != dst.dtype_name:
        raise ValueError(f"copy_into: {src.shape} {src.dtype_name} into {dst.shape} {dst.dtype_name}")
    if src.device is not dst.device:
        raise ValueError(f"copy_into: tensors on {src.device.name} and {dst.device.name}")
    if dst.device.pure:
        pure.copy_into(src, dst)
    elif not dst.device.is_gpu:
        dst.host()[...] = src.host().reshape(dst.shape)
    elif src.nbytes:
        dst.device.copy(src._storage.buffer, dst._storage.buffer, src.nbytes, src.byte_offset, dst.byte_offset)
    return dst
