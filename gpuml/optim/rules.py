"""The update rules: SGD (momentum, Nesterov), Adam, AdamW, RMSprop — torch.optim semantics, one fused kernel each.

Every coefficient that loses digits in float32 (1 - beta1, 1 - beta2, 1 - alpha, the bias corrections, AdamW's
decay factor) is computed here in double precision and reaches the kernels as a float32 uniform: the kernels'
arithmetic is then torch.optim's float32 arithmetic.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD with optional momentum / Nesterov momentum (torch.optim.SGD semantics)."""

    rule = "sgd"
    state_names = ("velocity",)

    def __init__(
        self,
        params,
        lr=0.01,
        *,
        momentum=0.0,
        dampening=0.0,
        nesterov=False,
        weight_decay=0.0,
        l1=0.0,
        l2=0.0,
        max_grad_norm=None,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
            "l1": l1,
            "l2": l2,
        }
        super().__init__(params, {k: self._normalise(k, v) for k, v in defaults.items()}, max_grad_norm=max_grad_norm)

    def check_group(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().check_group(group)
        if group["momentum"] < 0:
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")

    def hyper(self, group, steps):
        return {
            "momentum": group["momentum"],
            "dampening": group["dampening"],
            "nesterov": int(group["nesterov"]),
            "first": int(steps == 1),
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba). ``weight_decay`` here is torch.optim.Adam's: a coupled L2 penalty (added to ``l2``)."""

    rule = "adam"
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self, params, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, l1=0.0, l2=0.0, max_grad_norm=None
    ):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "l1": l1, "l2": l2}
        super().__init__(params, {k: self._normalise(k, v) for k, v in defaults.items()}, max_grad_norm=max_grad_norm)

    def check_group(self, group):
        super().check_group(group)
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {group['betas']}")
        if group["eps"] < 0:
            raise ValueError(f"eps must be >= 0, got {group['eps']}")

    def hyper(self, group, steps):
        b1, b2 = group["betas"]
        lr = group["lr"]
        return {
            "beta2": b2,
            "one_minus_beta1": 1.0 - b1,
            "one_minus_beta2": 1.0 - b2,
            "eps": group["eps"],
            "step_size": lr / (1.0 - b1**steps),
            "sqrt_bc2": math.sqrt(1.0 - b2**steps),
            "decay": 1.0 - lr * group["weight_decay"] if self.decoupled else 1.0,
        }


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter): Adam with decoupled weight decay on weights (not biases / batch norm)."""

    decoupled = True

    def __init__(
        self, params, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, l1=0.0, l2=0.0, max_grad_norm=None
    ):
        super().__init__(
            params, lr, betas=betas, eps=eps, weight_decay=weight_decay, l1=l1, l2=l2, max_grad_norm=max_grad_norm
        )


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop semantics, not centered)."""

    rule = "rmsprop"
    state_names = ("square_avg", "velocity")

    def __init__(
        self,
        params,
        lr=1e-2,
        *,
        alpha=0.99,
        eps=1e-8,
        momentum=0.0,
        weight_decay=0.0,
        l1=0.0,
        l2=0.0,
        max_grad_norm=None,
    ):
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "l1": l1,
            "l2": l2,
        }
        super().__init__(params, {k: self._normalise(k, v) for k, v in defaults.items()}, max_grad_norm=max_grad_norm)

    def check_group(self, group):
        super().check_group(group)
        if not 0 <= group["alpha"] <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {group['alpha']}")
        if group["eps"] < 0 or group["momentum"] < 0:
            raise ValueError(f"eps and momentum must be >= 0, got eps={group['eps']}, momentum={group['momentum']}")

    def hyper(self, group, steps):
        a = group["alpha"]
        return {"alpha": a, "one_minus_alpha": 1.0 - a, "eps": group["eps"], "momentum": group["momentum"]}
