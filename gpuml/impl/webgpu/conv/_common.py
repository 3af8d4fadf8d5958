"""Helpers shared by the WebGPU convolution kernels' host code: grids, chunking, placeholder bindings."""

from __future__ import annotations

from ....tensor import Tensor
from .._common import WG

# Temporaries (column matrix, Winograd V / M, backward packs) above this size are split into chunks of images.
CHUNK_BYTES = 64 << 20
EPI_WG = 64  # workgroup of the 3-D-grid epilogue (rows of P outputs)
# Workgroup of the kernels with much work per invocation (direct*, grad_w*): LeNet's convolutions have only
# ~900-7000 such invocations; 256-wide workgroups gave lavapipe's 2 threads 4-28 tasks to share (one thread idles
# at the end of each dispatch), 64-wide ones 4x as many.
HEAVY_WG = 64


def grid(device, n: int):
    return device.grid_1d(-(-n // WG))


def heavy_grid(device, n: int):
    return device.grid_1d(-(-n // HEAVY_WG))


def r4(n: int) -> int:
    return -(-n // 4) * 4


def chunks(n_images: int, bytes_per_image: int) -> list[tuple[int, int]]:
    per = max(1, CHUNK_BYTES // max(1, bytes_per_image))
    return [(n0, min(per, n_images - n0)) for n0 in range(0, n_images, per)]


def software(device) -> bool:
    """A CPU adapter (lavapipe, SwiftShader): the wide register-blocked and subgroup kernels suit it."""
    return device.caps.software


def lanes(device) -> int:
    """The subgroup size of a workgroup of 8 on ``device`` (probed once; 0 without subgroups)."""
    return device.caps.subgroup_size


def grid_limit(device) -> int:
    return int(device.limits.get("max_compute_workgroups_per_dimension", 65535))


def dummy(device) -> Tensor:
    """A small f32 buffer bound where a kernel's optional input (the bias) is unused; one per device."""
    t = device.op_state.get("conv.dummy")
    if t is None or t.freed:
        t = device.op_state["conv.dummy"] = Tensor.empty((4,), "float32", device)
    return t


def flags(device, b, relu) -> tuple[Tensor, dict]:
    return (b if b is not None else dummy(device)), {"has_bias": int(b is not None), "relu": int(bool(relu))}
