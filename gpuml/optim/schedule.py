"""Learning-rate schedules: each sets every parameter group's rate from that group's ``initial_lr``."""

from __future__ import annotations

import math

from .optimizer import Optimizer


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` calls of ``step()`` (usually epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.optimizer, self.step_size, self.gamma, self.count = optimizer, int(step_size), float(gamma), 0

    def step(self) -> float:
        """Advance one period; returns the first group's new rate."""
        self.count += 1
        factor = self.gamma ** (self.count // self.step_size)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        return self.optimizer.lr


class CosineAnnealingLR:
    """Cosine decay from the initial learning rate to ``eta_min`` over ``t_max`` calls of ``step()``."""

    def __init__(self, optimizer: Optimizer, t_max: int, eta_min: float = 0.0):
        self.optimizer, self.t_max, self.eta_min, self.count = optimizer, int(t_max), float(eta_min), 0

    def step(self) -> float:
        """Advance one period; returns the first group's new rate."""
        self.count = min(self.count + 1, self.t_max)
        cos = (1 + math.cos(math.pi * self.count / self.t_max)) / 2
        for group in self.optimizer.param_groups:
            group["lr"] = self.eta_min + (group["initial_lr"] - self.eta_min) * cos
        return self.optimizer.lr
