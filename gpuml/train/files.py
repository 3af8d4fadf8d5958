"""Checkpoints of a :class:`gpuml.train.Trainer`: the model file (:mod:`gpuml.serialize`) plus the optimizer state,
schedule position, history and config, written atomically; and the way back (``--resume``). Needs numpy (.npz)."""

from __future__ import annotations

import os
from dataclasses import asdict, fields

import numpy as np

from .. import serialize
from ..backends import device_for
from ..nn import Dropout
from ..train_config import TrainConfig


def save_trainer(trainer, path: str | os.PathLike) -> None:
    opt_state = trainer.optimizer.state_dict()
    meta = {
        "config": asdict(trainer.cfg),
        "epoch": trainer.epoch,
        "step_count": trainer.step_count,
        "history": trainer.history,
        "optimizer": {k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)},
        "schedule_count": getattr(trainer.schedule, "count", 0),
        "dropout_calls": {str(i): m.calls for i, m in enumerate(trainer.model.layers) if isinstance(m, Dropout)},
        "backend": trainer.device.name,
        "adapter": trainer.device.adapter,
    }
    arrays = {f"optim/{k}": v for k, v in opt_state.items() if isinstance(v, np.ndarray)}
    serialize.save(trainer.model, path, arrays=arrays, meta=meta)


def load_trainer(cls, path: str | os.PathLike, device, overrides: dict):
    arrays, meta = serialize.read(path)
    if "config" not in meta:
        raise serialize.ModelFormatError(path, "a model file without training state (load it with gpuml.load)")
    known = {f.name for f in fields(TrainConfig)}  # keys of a later gpuml are dropped
    cfg_dict = {k: v for k, v in meta["config"].items() if k in known}
    if cfg_dict.get("input_shape") is not None:
        cfg_dict["input_shape"] = tuple(cfg_dict["input_shape"])
    cfg_dict.update({k: v for k, v in overrides.items() if v is not None})
    cfg = TrainConfig(**cfg_dict)
    device = device or device_for("train")
    trainer = cls(cfg, device, model=serialize.build(arrays, meta, path, device))
    opt_state = dict(meta["optimizer"])
    opt_state.update({k[6:]: v for k, v in arrays.items() if k.startswith("optim/")})
    trainer.optimizer.load_state_dict(opt_state)
    trainer.epoch, trainer.step_count, trainer.history = meta["epoch"], meta["step_count"], meta["history"]
    if trainer.schedule is not None:
        trainer.schedule.count = meta["schedule_count"]
    for i, calls in meta["dropout_calls"].items():
        trainer.model.layers[int(i)].calls = calls
    return trainer
