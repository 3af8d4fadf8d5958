"""Layout ops: transpose (any axis permutation) and contiguous copies."""

from __future__ import annotations

from ..tensor import Tensor, contiguous_strides
from .validate import operands


def transpose(x, axes: tuple[int, ...] | list[int] | None = None) -> Tensor:
    """numpy.transpose as a new contiguous tensor (reverses the axes when ``axes`` is None)."""
    device, (x,) = operands(x)
    nd = x.ndim
    axes = tuple(range(nd))[::-1] if axes is None else tuple(int(a) % nd if nd else int(a) for a in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {nd} dimensions (shape {x.shape})")
    shape = tuple(x.shape[a] for a in axes)
    return device.impl.transpose(x, axes, shape, contiguous_strides(x.shape))


def copy(x) -> Tensor:
    """A new tensor with the same contents."""
    device, (x,) = operands(x)
    return device.impl.copy(x)


def copy_into(src: Tensor, dst: Tensor) -> Tensor:
    """Copy ``src`` into ``dst`` (same number of elements and dtype; views allowed). Returns ``dst``."""
    if src.size != dst.size or src.dtype_name != dst.dtype_name:
        raise ValueError(f"copy_into: {src.shape} {src.dtype_name} into {dst.shape} {dst.dtype_name}")
    if src.device is not dst.device:
        raise ValueError(f"copy_into: tensors on {src.device.name} and {dst.device.name}")
    src._check_alive()
    dst._check_alive()
    return dst.device.impl.copy_into(src, dst)
