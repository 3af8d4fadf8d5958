"""Optimizers as fused WGSL kernels: one dispatch updates every parameter of a model.

Parameters and gradients live in the flat buffers of a :class:`gpuml.nn.ParameterStore`. A step is at most two
dispatches — a sum of squared gradients when clipping by global norm is on, then the update kernel
(shaders/optim/{sgd,adam,rmsprop}.wgsl) — and never reads back. This package keeps the API (torch.optim-like) and
the validation; each backend implements ``optimizer_step(rule, ...)``: the kernels in gpuml/impl/webgpu/optim.py,
numpy and pure-Python twins of the same rules in gpuml/impl/cpu/optim.py and gpuml/impl/python/optim.py.

What an optimizer takes (torch.optim's conventions)::

    opt = Adam(model.parameters(), lr=1e-3)                               # a model's store: one dispatch a step
    opt = Adam([{"params": model.parameters(), "lr": 1e-3},               # parameter groups, each with its own
                {"params": [w, b], "lr": 1e-2, "weight_decay": 0.0}])     # hyper-parameters; param_groups and
    opt.add_param_group({"params": [head_w]})                             # add_param_group as torch's

A group's ``params`` is a store, or gpuml.nn.Parameter objects (``data`` and ``grad`` tensors), ``(name,
Parameter)`` or ``(data, grad)`` tensor pairs — also outside any model. A store is updated in place; parameters
given one by one are staged through a small store the optimizer owns (copies on the device each step; see
gpuml/optim/optimizer.py). Schedules (:class:`StepLR`, :class:`CosineAnnealingLR`) set every group's rate from
its ``initial_lr``; ``opt.lr`` is the first group's (assigning it sets every group's).

Penalties, shared by all rules: ``l2`` adds ``l2 * w`` to a weight's gradient (penalty ``l2/2 * ||w||^2``), ``l1``
adds ``l1 * sign(w)``; ``weight_decay`` is torch's: coupled (added to ``l2``) for SGD, Adam and RMSprop, decoupled
for ``AdamW``. All of them apply to weights only (``Parameter.decay``: conv and linear weights, and parameters
given as ``(data, grad)`` pairs), never to biases or batch-norm parameters. ``max_grad_norm`` clips by the global
norm over every group, as torch.nn.utils.clip_grad_norm_.

Precision: coefficients that lose digits in float32 (1 - beta, bias corrections) are computed on the host in
double precision (gpuml/optim/rules.py), so the native kernels, the numpy twin and torch.optim agree to float32
rounding.
"""

from __future__ import annotations

from .optimizer import Optimizer
from .rules import SGD, Adam, AdamW, RMSprop
from .schedule import CosineAnnealingLR, StepLR

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "Optimizer", "RMSprop", "StepLR"]
