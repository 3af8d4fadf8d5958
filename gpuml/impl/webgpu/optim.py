"""Optimizer steps on WebGPU: one fused kernel updates every parameter of a ParameterStore (shaders/optim/)."""

from __future__ import annotations

from ...tensor import Tensor
from ._common import WG

# update rule -> kernel; each updates one vec4 of parameters (and their state) per invocation
KERNELS = {"sgd": "optim/sgd.wgsl", "adam": "optim/adam.wgsl", "rmsprop": "optim/rmsprop.wgsl"}


def _no_norm(device) -> Tensor:
    """The norm_sq binding when clipping is off (the kernels only read it when clipping): 4 words kept per device."""
    t = device.op_state.get("optim.no_norm")
    if t is None:
        t = device.op_state["optim.no_norm"] = Tensor.empty((4,), "float32", device)
    return t


def optimizer_step(rule: str, params: Tensor, grads: Tensor, state: dict, norm_sq: Tensor | None, u: dict) -> None:
    """Record one update of ``params`` from ``grads`` and ``state`` (tensors of the store's size) with the
    uniform ``u`` (n, n_decay, lr, l1, l2, clip and the rule's own fields); ``norm_sq`` is the sum of squared
    gradients when clipping (``u["clip"] > 0``)."""
    device = params.device
    if u["n"] % 4 or u["n_decay"] % 4:  # the kernels update one vec4 per invocation
        raise ValueError(
            f"{rule}: the parameter buffer holds {u['n']} floats with {u['n_decay']} weights; both must be "
            "multiples of 4 (ParameterStore.build pads every parameter to 64 floats)"
        )
    kernel = device.kernel(KERNELS[rule], WG=WG)
    norm_sq = _no_norm(device) if norm_sq is None else norm_sq
    bindings = {"params": params, "grads": grads, "norm_sq": norm_sq, **state}
    kernel(device.grid_1d(-(-u["n"] // (4 * WG))), u, **bindings)
