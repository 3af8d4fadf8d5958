"""Training loop, evaluation, checkpoints (atomic, resumable) and model files.

A training step is: upload the batch, forward, fused softmax cross-entropy, backward (gradients land in the
model's flat gradient buffer), one fused optimizer kernel. Loss and accuracy are summed on the device; the
host reads them only when it reports (every ``report_every`` steps and at the end of an epoch).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import ops, serialize
from .backends import get_device
from .datasets import Dataset, batches
from .nn import Dropout, Sequential, from_spec
from .nn.functional import softmax_cross_entropy
from .optim import SGD, Adam, AdamW, CosineAnnealingLR, Optimizer, RMSprop, StepLR
from .tensor import Tensor

FORMAT_VERSION = serialize.FORMAT_VERSION


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
    input_shape: tuple[int, ...] = (1, 28, 28)
    extra: dict = field(default_factory=dict)


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


class Trainer:
    """Owns a model, its optimizer and schedule, and the running history."""

    def __init__(self, cfg: TrainConfig, device=None, model: Sequential | None = None):
        self.cfg = cfg
        self.device = device or get_device()
        self.model = model or from_spec(cfg.model, cfg.input_shape, self.device, cfg.seed)
        self.optimizer = make_optimizer(cfg, self.model)
        self.schedule = make_schedule(cfg, self.optimizer)
        self.epoch = 0
        self.history: list[dict] = []
        self.augment = None
        if cfg.augment:
            from .augment import parse_pipeline

            self.augment = parse_pipeline(cfg.augment)
        self.step_count = 0

    # --- steps -------------------------------------------------------------------------------------------
    def _upload(self, images: np.ndarray, labels: np.ndarray) -> tuple[Tensor, Tensor]:
        from .tensor import tensor

        return tensor(images, device=self.device), tensor(labels, device=self.device)

    def train_step(self, images, labels) -> tuple[Tensor, Tensor]:
        """One optimisation step; returns the batch's summed loss and number correct as device scalars."""
        x, y = self._upload(images, labels) if not isinstance(images, Tensor) else (images, labels)
        if self.augment is not None:
            x = self.augment.apply_batch(x, seed=self.cfg.seed, step=self.step_count)
        logits = self.model.forward(x)
        row_loss, row_correct, grad = softmax_cross_entropy(logits, y)
        self.model.backward(grad)
        self.optimizer.step()
        self.step_count += 1
        return ops.sum(row_loss), ops.sum(row_correct)

    def evaluate(self, data: Dataset, batch_size: int = 1000) -> dict:
        """Accuracy and mean loss on ``data`` (eval mode; one readback at the end)."""
        self.model.eval()
        loss_total = correct_total = None
        for xb, yb in batches(data, batch_size, shuffle=False):
            x, y = self._upload(xb, yb)
            row_loss, row_correct, _ = softmax_cross_entropy(self.model.forward(x), y)
            s, c = ops.sum(row_loss), ops.sum(row_correct)
            loss_total = s if loss_total is None else ops.add(loss_total, s)
            correct_total = c if correct_total is None else ops.add(correct_total, c)
        self.model.train()
        n = len(data)
        return {"loss": float(loss_total.numpy()) / n, "accuracy": float(correct_total.numpy()) / n}

    def predict_proba(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        self.model.eval()
        out = []
        for start in range(0, len(images), batch_size):
            logits = self.model.forward(images[start : start + batch_size])
            out.append(softmax(logits.numpy()))
        self.model.train()
        return np.concatenate(out) if out else np.zeros((0, 10), np.float32)

    def train_epoch(self, data: Dataset, progress=None, report_every: int = 50) -> dict:
        self.model.train()
        loss_total = correct_total = None
        seen, t0 = 0, time.perf_counter()
        for step, (xb, yb) in enumerate(batches(data, self.cfg.batch_size, seed=self.cfg.seed, epoch=self.epoch)):
            s, c = self.train_step(xb, yb)
            loss_total = s if loss_total is None else ops.add(loss_total, s)
            correct_total = c if correct_total is None else ops.add(correct_total, c)
            seen += len(yb)
            if progress is not None:
                progress.update(len(yb))
                if step % report_every == report_every - 1:
                    progress.set_postfix(
                        loss=f"{float(loss_total.numpy()) / seen:.4f}",
                        img_s=f"{seen / (time.perf_counter() - t0):,.0f}",
                    )
        loss, correct = float(loss_total.numpy()), float(correct_total.numpy())
        seconds = time.perf_counter() - t0
        return {
            "train_loss": loss / seen,
            "train_accuracy": correct / seen,
            "seconds": seconds,
            "images_per_s": seen / seconds,
        }

    def fit(
        self,
        train: Dataset,
        test: Dataset | None = None,
        progress: bool = True,
        checkpoint: str | None = None,
        log=print,
    ) -> list[dict]:
        """Train until ``cfg.epochs`` (continuing from ``self.epoch`` after a resume)."""
        tqdm = None
        if progress:
            from tqdm import tqdm

            if log is print:
                log = tqdm.write  # keep the bar intact
        while self.epoch < self.cfg.epochs:
            bar = (
                tqdm(
                    total=len(train),
                    unit="img",
                    desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}",
                    leave=False,
                    dynamic_ncols=True,
                )
                if tqdm
                else None
            )
            record = {"epoch": self.epoch + 1, "lr": self.optimizer.lr}
            record.update(self.train_epoch(train, bar))
            if bar is not None:
                bar.close()
            if test is not None:
                result = self.evaluate(test)
                record.update(test_loss=result["loss"], test_accuracy=result["accuracy"])
            self.epoch += 1
            if self.schedule is not None:
                self.schedule.step()
            self.history.append(record)
            if log:
                test_part = f", test acc {record['test_accuracy']:.4f}" if "test_accuracy" in record else ""
                log(
                    f"epoch {record['epoch']:>2}: loss {record['train_loss']:.4f}, train acc "
                    f"{record['train_accuracy']:.4f}{test_part} ({record['images_per_s']:,.0f} img/s, "
                    f"{record['seconds']:.1f} s)"
                )
            if checkpoint:
                self.save(checkpoint)
        return self.history

    # --- checkpoints ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Model (layer list, parameters, buffers: :func:`gpuml.serialize.save`), optimizer state, schedule position,
        history and config in one .npz, written atomically."""
        opt_state = self.optimizer.state_dict()
        meta = {
            "config": asdict(self.cfg),
            "epoch": self.epoch,
            "step_count": self.step_count,
            "history": self.history,
            "optimizer": {k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)},
            "schedule_count": getattr(self.schedule, "count", 0),
            "dropout_calls": {str(i): m.calls for i, m in enumerate(self.model.layers) if isinstance(m, Dropout)},
            "backend": self.device.name,
            "adapter": self.device.adapter,
        }
        arrays = {f"optim/{k}": v for k, v in opt_state.items() if isinstance(v, np.ndarray)}
        serialize.save(self.model, path, arrays=arrays, meta=meta)

    @classmethod
    def load(cls, path: str | os.PathLike, device=None, **overrides) -> Trainer:
        """Restore a trainer from a checkpoint (``--resume``); ``overrides`` may raise ``epochs``. The model is
        rebuilt from the checkpoint's layer list, so a model built in Python resumes too."""
        arrays, meta = serialize.read(path)
        if "config" not in meta:
            raise serialize.ModelFormatError(path, "a model file without training state (load it with gpuml.load)")
        cfg_dict = dict(meta["config"])
        cfg_dict["input_shape"] = tuple(cfg_dict["input_shape"])
        cfg_dict.update({k: v for k, v in overrides.items() if v is not None})
        cfg = TrainConfig(**cfg_dict)
        trainer = cls(cfg, device, model=serialize.build(arrays, meta, path, device or get_device()))
        opt_state = dict(meta["optimizer"])
        opt_state.update({k[6:]: v for k, v in arrays.items() if k.startswith("optim/")})
        trainer.optimizer.load_state_dict(opt_state)
        trainer.epoch, trainer.step_count, trainer.history = meta["epoch"], meta["step_count"], meta["history"]
        if trainer.schedule is not None:
            trainer.schedule.count = meta["schedule_count"]
        for i, calls in meta["dropout_calls"].items():
            trainer.model.layers[int(i)].calls = calls
        return trainer


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def save_npz_atomic(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` plus a JSON ``meta`` entry to ``path`` atomically (:func:`gpuml.serialize.write_atomic`)."""
    serialize.write_atomic(path, arrays, meta)


def load_npz(path) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a model file or checkpoint; :class:`gpuml.serialize.ModelFormatError` (a ValueError)
    names the file and the reason when it is not one, is damaged or is of a newer format."""
    return serialize.read(path)


def load_model(path, device=None) -> tuple[Sequential, dict]:
    """A trained model (eval mode) and its metadata from a file of :func:`gpuml.save`, ``Trainer.save`` or
    ``gpuml train`` (the model is rebuilt from the file's layer list, or the spec of a format-1 file)."""
    arrays, meta = serialize.read(path)
    return serialize.build(arrays, meta, path, device).eval(), meta


def image_to_mnist(image) -> np.ndarray:
    """Any image (path or PIL) -> a (1, 28, 28) float32 array the way MNIST digits look: grayscale, light digit
    on black (inverted when the background is light), then the digit pad's preprocessing
    (:func:`gpuml.playground.mnist.ink_to_mnist`: the digit's box scaled to 20x20 and centred by mass), so files and
    drawn digits reach the model alike. Large images are first reduced to at most 112 px a side (the pad's size)."""
    from PIL import Image

    from .playground.mnist import ink_to_mnist

    img = Image.open(image) if isinstance(image, str | os.PathLike) else image
    img = img.convert("L")
    if max(img.size) > 112:
        scale = 112 / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BOX)
    a = np.asarray(img, np.float32) / 255.0
    if np.median(a) > 0.5:  # dark ink on light paper
        a = 1.0 - a
    side = max(a.shape)
    square = np.zeros((side, side), np.float32)  # ink_to_mnist takes a square pad
    square[: a.shape[0], : a.shape[1]] = a
    flat = ink_to_mnist(square.ravel().tolist(), side)
    return np.zeros((1, 28, 28), np.float32) if flat is None else np.asarray(flat, np.float32).reshape(1, 28, 28)


def image_for_model(image, input_shape) -> np.ndarray:
    """An image file (or PIL image) as a (C, H, W) input for a model trained on MNIST-like digits:
    :func:`image_to_mnist`, then resized to the model's input size when that is not 28x28."""
    from PIL import Image

    x = image_to_mnist(image)
    shape = tuple(input_shape)
    if x.shape != shape:
        small = Image.fromarray((x[0] * 255).astype(np.uint8)).resize((shape[2], shape[1]), Image.BILINEAR)
        x = (np.asarray(small, np.float32) / 255.0)[None]
    return x
