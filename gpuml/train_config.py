"""What a training run is made of: :class:`TrainConfig` (every option of ``gpuml train`` and ``Trainer``, stored in
checkpoints as JSON) and the optimizer and learning-rate schedule it asks for."""

from __future__ import annotations

from dataclasses import dataclass, field

from .nn import Sequential
from .optim import SGD, Adam, AdamW, CosineAnnealingLR, Optimizer, RMSprop, StepLR


@dataclass
class TrainConfig:
    model: str = "lenet5"  # a name in gpuml.nn.MODELS or a spec string
    dataset: str = "mnist"
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    max_grad_norm: float | None = None
    schedule: str = "cosine"  # "cosine" | "step" | "none"
    seed: int = 0
    subset: int | None = None  # train on this many images (seeded)
    augment: str | None = None
    input_shape: tuple[int, ...] | None = None  # (C, H, W); None: the first data's (see Trainer)
    num_classes: int | None = None  # None: a named model's output count is inferred from the labels
    standardize: bool = False  # per-channel mean/std of the training data, stored in mean/std
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):  # JSON (a checkpoint's config) gives lists
        for name in ("input_shape", "mean", "std"):
            if getattr(self, name) is not None:
                setattr(self, name, tuple(getattr(self, name)))


def make_optimizer(cfg: TrainConfig, model: Sequential) -> Optimizer:
    params = model.parameters()
    penalties = {"l1": cfg.l1, "l2": cfg.l2, "max_grad_norm": cfg.max_grad_norm}
    name = cfg.optimizer.lower()
    if name == "sgd":
        return SGD(params, cfg.lr, momentum=0.0, **penalties)
    if name == "momentum":
        return SGD(params, cfg.lr, momentum=cfg.momentum, **penalties)
    if name == "nesterov":
        return SGD(params, cfg.lr, momentum=cfg.momentum, nesterov=True, **penalties)
    if name == "adam":
        return Adam(params, cfg.lr, **penalties)
    if name == "adamw":
        return AdamW(params, cfg.lr, weight_decay=cfg.weight_decay, **penalties)
    if name == "rmsprop":
        return RMSprop(params, cfg.lr, momentum=0.0, **penalties)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}: sgd, momentum, nesterov, adam, adamw, rmsprop")


def make_schedule(cfg: TrainConfig, opt: Optimizer):
    if cfg.schedule == "cosine":
        return CosineAnnealingLR(opt, t_max=max(cfg.epochs, 1))
    if cfg.schedule == "step":
        return StepLR(opt, step_size=max(cfg.epochs // 3, 1), gamma=0.1)
    if cfg.schedule in ("none", None, ""):
        return None
    raise ValueError(f"unknown schedule {cfg.schedule!r}: cosine, step, none")
