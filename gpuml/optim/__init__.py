"""Optimizers as fused WGSL kernels: one dispatch updates every parameter of a model.

Parameters and gradients live in the flat buffers of a :class:`gpuml.nn.ParameterStore`. A step is at most two
dispatches — a sum of squared gradients when clipping by global norm is on, then the update kernel
(shaders/optim/{sgd,adam,rmsprop}.wgsl) — and never reads back. On the cpu backend the same rules run as numpy
twins (``_numpy_step``).

Penalties, shared by all rules: ``l2`` adds ``l2 * w`` to a weight's gradient (penalty ``l2/2 * ||w||^2``, as the
``weight_decay`` of torch.optim.SGD/Adam), ``l1`` adds ``l1 * sign(w)``; both apply to weights only, never to
biases or batch-norm parameters. ``AdamW``'s ``weight_decay`` is decoupled and also weights-only.
"""

from __future__ import annotations

import array
import math

from ..nn.parameters import ParameterStore
from ..ops import square, zeros
from ..ops import sum as _sum
from ..tensor import Tensor

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "Optimizer", "RMSprop", "StepLR"]

WG = 256


class Optimizer:
    kernel_path = ""
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
        self._no_norm = zeros((4,), "float32", self.device)

    def hyper(self) -> dict:
        """Rule-specific uniform fields for this step."""
        raise NotImplementedError

    def step(self) -> None:
        """Update every parameter from ``params.grad`` (recorded on the device; no readback)."""
        self.steps += 1
        store = self.params
        clip = float(self.max_grad_norm or 0.0)
        norm_sq = _sum(square(store.grad)).reshape(1) if clip > 0 else self._no_norm
        uniform = {
            "n": store.data.size,
            "n_decay": store.n_decay,
            "lr": self.lr,
            "l1": self.l1,
            "l2": self.l2,
            "clip": clip,
            **self.hyper(),
        }
        if self.device.pure:
            self._pure_step(uniform, norm_sq)
            return
        if not self.device.is_gpu:
            self._numpy_step(uniform, norm_sq)
            return
        if uniform["n"] % 4 or store.n_decay % 4:  # the kernels update one vec4 per invocation
            raise ValueError(
                f"{type(self).__name__}: the parameter buffer holds {uniform['n']} floats with {store.n_decay} "
                "weights; both must be multiples of 4 (ParameterStore.build pads every parameter to 64 floats)"
            )
        kernel = self.device.kernel(self.kernel_path, WG=WG)
        bindings = {"params": store.data, "grads": store.grad, "norm_sq": norm_sq, **self.state}
        kernel(self.device.grid_1d(-(-uniform["n"] // (4 * WG))), uniform, **bindings)

    # --- numpy twin -----------------------------------------------------------------------------------
    def _numpy_step(self, u: dict, norm_sq: Tensor) -> None:
        w = self.params.data.host()
        g = self.params.grad.host().astype(np.float32)
        if u["clip"] > 0:
            g = g * np.float32(min(1.0, u["clip"] / (math.sqrt(float(norm_sq.host()[0])) + 1e-6)))
        d = u["n_decay"]
        g[:d] += np.float32(u["l2"]) * w[:d] + np.float32(u["l1"]) * np.sign(w[:d])
        self._numpy_rule(w, g, {k: t.host() for k, t in self.state.items()}, u)

    def _numpy_rule(self, w, g, state: dict, u: dict) -> None:
        raise NotImplementedError

    # --- pure-Python twin (python backend): the same rules on lists -----------------------------------------------
    def _pure_step(self, u: dict, norm_sq: Tensor) -> None:
        w, g = self.params.data.values(), self.params.grad.values()
        if u["clip"] > 0:
            f = min(1.0, u["clip"] / (math.sqrt(norm_sq.values()[0]) + 1e-6))
            g = [v * f for v in g]
        d = u["n_decay"]
        if u["l1"] or u["l2"]:
            l1, l2 = u["l1"], u["l2"]
            sign = [(wi > 0) - (wi < 0) for wi in w[:d]]
            g[:d] = [gi + l2 * wi + l1 * s for gi, wi, s in zip(g, w[:d], sign, strict=False)]
        state = {k: t.values() for k, t in self.state.items()}
        self._pure_rule(w, g, state, u)
        self.params.data.words()[:] = array.array("f", w)
        for k, t in self.state.items():
            t.words()[:] = array.array("f", state[k])

    def _pure_rule(self, w: list, g: list, state: dict, u: dict) -> None:
        """Update the lists ``w`` and ``state[...]`` in place."""
        raise NotImplementedError

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

    kernel_path = "optim/sgd.wgsl"
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

    def _numpy_rule(self, w, g, state, u):
        if u["momentum"] != 0:
            buf = state["velocity"]
            buf[...] = g if u["first"] else u["momentum"] * buf + (1 - u["dampening"]) * g
            g = g + u["momentum"] * buf if u["nesterov"] else buf.copy()
        w -= np.float32(u["lr"]) * g

    def _pure_rule(self, w, g, state, u):
        mom = u["momentum"]
        if mom != 0:
            buf = state["velocity"]
            damp = 1 - u["dampening"]
            buf[:] = g if u["first"] else [mom * b + damp * gi for b, gi in zip(buf, g, strict=True)]
            g = [gi + mom * b for gi, b in zip(g, buf, strict=True)] if u["nesterov"] else buf
        lr = u["lr"]
        w[:] = [wi - lr * gi for wi, gi in zip(w, g, strict=True)]


class Adam(Optimizer):
    """Adam (Kingma & Ba). ``weight_decay`` here is torch.optim.Adam's: a coupled L2 penalty (added to ``l2``)."""

    kernel_path = "optim/adam.wgsl"
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

    def _numpy_rule(self, w, g, state, u):
        d = u["n_decay"]
        w[:d] *= np.float32(1.0 - u["lr"] * u["weight_decay"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m[...] = u["beta1"] * m + (1 - u["beta1"]) * g
        v[...] = u["beta2"] * v + (1 - u["beta2"]) * g * g
        w -= (np.float32(u["lr"]) * (m / np.float32(u["bc1"])) / (np.sqrt(v / np.float32(u["bc2"])) + u["eps"])).astype(
            np.float32
        )

    def _pure_rule(self, w, g, state, u):
        d, lr, b1, b2, eps = u["n_decay"], u["lr"], u["beta1"], u["beta2"], u["eps"]
        if u["weight_decay"]:
            f = 1.0 - lr * u["weight_decay"]
            w[:d] = [wi * f for wi in w[:d]]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m[:] = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v[:] = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        c1, c2 = lr / u["bc1"], 1.0 / u["bc2"]
        w[:] = [wi - c1 * mi / (math.sqrt(vi * c2) + eps) for wi, mi, vi in zip(w, m, v, strict=True)]


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay on weights (not biases / batch norm)."""

    decoupled = True

    def __init__(self, params, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, **penalties):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay, **penalties)


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop semantics, not centered)."""

    kernel_path = "optim/rmsprop.wgsl"
    state_names = ("square_avg", "velocity")

    def __init__(self, params, lr=1e-2, *, alpha=0.99, eps=1e-8, momentum=0.0, **penalties):
        super().__init__(params, lr, **penalties)
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)

    def hyper(self):
        return {"alpha": self.alpha, "eps": self.eps, "momentum": self.momentum}

    def _numpy_rule(self, w, g, state, u):
        v = state["square_avg"]
        v[...] = u["alpha"] * v + (1 - u["alpha"]) * g * g
        step = g / (np.sqrt(v) + np.float32(u["eps"]))
        if u["momentum"] != 0:
            buf = state["velocity"]
            buf[...] = u["momentum"] * buf + step
            step = buf
        w -= np.float32(u["lr"]) * step

    def _pure_rule(self, w, g, state, u):
        a, eps, mom, lr = u["alpha"], u["eps"], u["momentum"], u["lr"]
        v = state["square_avg"]
        v[:] = [a * vi + (1 - a) * gi * gi for vi, gi in zip(v, g, strict=True)]
        step = [gi / (math.sqrt(vi) + eps) for gi, vi in zip(g, v, strict=True)]
        if mom != 0:
            buf = state["velocity"]
            buf[:] = [mom * b + s for b, s in zip(buf, step, strict=True)]
            step = buf
        w[:] = [wi - lr * s for wi, s in zip(w, step, strict=True)]


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
