"""Optimizers as fused WGSL kernels: one dispatch updates every parameter of a model.

Parameters and gradients live in the flat buffers of a :class:`gpuml.nn.ParameterStore`. A step is at most two
dispatches — a sum of squared gradients when clipping by global norm is on, then the update kernel
(shaders/optim/{sgd,adam,rmsprop}.wgsl) — and never reads back. This module keeps the API (torch.optim-like) and
the validation; each backend implements ``optimizer_step(rule, ...)``: the kernels in gpuml/impl/webgpu/optim.py,
numpy and pure-Python twins of the same rules in gpuml/impl/cpu/optim.py and gpuml/impl/python/optim.py.

Penalties, shared by all rules: ``l2`` adds ``l2 * w`` to a weight's gradient (penalty ``l2/2 * ||w||^2``, as the
``weight_decay`` of torch.optim.SGD/Adam), ``l1`` adds ``l1 * sign(w)``; both apply to weights only, never to
biases or batch-norm parameters. ``AdamW``'s ``weight_decay`` is decoupled and also weights-only.
"""

from __future__ import annotations

import math

from ..nn.parameters import ParameterStore
from ..ops import square, zeros
from ..ops import sum as _sum

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "Optimizer", "RMSprop", "StepLR"]


class Optimizer:
    rule = ""  # the update rule the backends implement: sgd | adam | rmsprop
    state_names: tuple[str, ...] = ()

    def __init__(self, params: ParameterStore, lr: float, *, l1: float = 0.0, l2: float = 0.0, max_grad_norm=None):
        if not isinstance(params, ParameterStore) or params.data is None:
            raise TypeError("optimizers take a built gpuml.nn.ParameterStore (model.parameters())")
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        if l1 < 0 or l2 < 0:
            raise ValueError(f"penalties must be >= 0, got l1={l1}, l2={l2}")
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive, got {max_grad_norm}")
        self.params = params
        self.device = params.device
        self.lr = float(lr)
        self.initial_lr = float(lr)
        self.l1, self.l2 = float(l1), float(l2)
        self.max_grad_norm = max_grad_norm
        self.steps = 0
        n = params.data.size
        self.state = {name: zeros((n,), "float32", self.device) for name in self.state_names}

    def hyper(self) -> dict:
        """Rule-specific uniform fields for this step."""
        raise NotImplementedError

    def step(self) -> None:
        """Update every parameter from ``params.grad`` (recorded on the device; no readback)."""
        self.steps += 1
        store = self.params
        clip = float(self.max_grad_norm or 0.0)
        norm_sq = _sum(square(store.grad)).reshape(1) if clip > 0 else None
        uniform = {
            "n": store.data.size,
            "n_decay": store.n_decay,
            "lr": self.lr,
            "l1": self.l1,
            "l2": self.l2,
            "clip": clip,
            **self.hyper(),
        }
        self.device.impl.optimizer_step(self.rule, store.data, store.grad, self.state, norm_sq, uniform)

    # --- checkpoints --------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Step count, learning rate and moment buffers (numpy arrays), for exact resumption."""
        return {
            "type": type(self).__name__,
            "steps": self.steps,
            "lr": self.lr,
            **{f"state.{k}": t.numpy() for k, t in self.state.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("type", type(self).__name__) != type(self).__name__:
            raise ValueError(f"checkpoint holds {state['type']} state, this optimizer is {type(self).__name__}")
        self.steps = int(state["steps"])
        self.lr = float(state["lr"])
        for k, t in self.state.items():
            t.assign(state[f"state.{k}"])


class SGD(Optimizer):
    """SGD with optional momentum / Nesterov momentum (torch.optim.SGD semantics)."""

    rule = "sgd"
    state_names = ("velocity",)

    def __init__(self, params, lr=0.01, *, momentum=0.0, dampening=0.0, nesterov=False, **penalties):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, lr, **penalties)
        self.momentum, self.dampening, self.nesterov = float(momentum), float(dampening), bool(nesterov)

    def hyper(self):
        return {
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": int(self.nesterov),
            "first": int(self.steps == 1),
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba). ``weight_decay`` here is torch.optim.Adam's: a coupled L2 penalty (added to ``l2``)."""

    rule = "adam"
    state_names = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(self, params, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, **penalties):
        if weight_decay and not self.decoupled:  # torch.optim.Adam's weight_decay is a coupled L2 penalty
            penalties["l2"] = penalties.get("l2", 0.0) + weight_decay
            weight_decay = 0.0
        super().__init__(params, lr, **penalties)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = (float(betas[0]), float(betas[1])), float(eps), float(weight_decay)

    def hyper(self):
        b1, b2 = self.betas
        return {
            "beta1": b1,
            "beta2": b2,
            "eps": self.eps,
            "bc1": 1.0 - b1**self.steps,
            "bc2": 1.0 - b2**self.steps,
            "weight_decay": self.weight_decay,
        }


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay on weights (not biases / batch norm)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, **penalties):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay, **penalties)


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop semantics, not centered)."""

    rule = "rmsprop"
    state_names = ("square_avg", "velocity")

    def __init__(self, params, lr=1e-2, *, alpha=0.99, eps=1e-8, momentum=0.0, **penalties):
        super().__init__(params, lr, **penalties)
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)

    def hyper(self):
        return {"alpha": self.alpha, "eps": self.eps, "momentum": self.momentum}


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` calls of ``step()`` (usually epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.optimizer, self.step_size, self.gamma, self.count = optimizer, int(step_size), float(gamma), 0

    def step(self) -> float:
        self.count += 1
        self.optimizer.lr = self.optimizer.initial_lr * self.gamma ** (self.count // self.step_size)
        return self.optimizer.lr


class CosineAnnealingLR:
    """Cosine decay from the initial learning rate to ``eta_min`` over ``t_max`` calls of ``step()``."""

    def __init__(self, optimizer: Optimizer, t_max: int, eta_min: float = 0.0):
        self.optimizer, self.t_max, self.eta_min, self.count = optimizer, int(t_max), float(eta_min), 0

    def step(self) -> float:
        self.count = min(self.count + 1, self.t_max)
        base = self.optimizer.initial_lr
        self.optimizer.lr = self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.count / self.t_max)) / 2
        return self.optimizer.lr
