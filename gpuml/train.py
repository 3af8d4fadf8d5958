"""Training loop, evaluation, checkpoints (atomic, resumable) and model files.

A training step is: upload the batch, forward, fused softmax cross-entropy, backward (gradients land in the
model's flat gradient buffer), one fused optimizer kernel. Loss and accuracy are summed on the device; the
host reads them only when it reports (every ``report_every`` steps and at the end of an epoch).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, fields

import numpy as np

from . import ops, serialize
from .backends import device_for, get_device
from .datasets import Dataset, as_images, batches, channel_stats, check_labels, to_dataset
from .images import image_for_model, image_to_mnist, softmax  # noqa: F401 (gpuml.train names them)
from .nn import MODELS, Dropout, Sequential, from_spec
from .nn.functional import channel_affine, softmax_cross_entropy
from .optim import Optimizer
from .tensor import Tensor
from .train_config import TrainConfig, make_optimizer, make_schedule

FORMAT_VERSION = serialize.FORMAT_VERSION


class NonFiniteError(ValueError):
    """Training stopped because the loss or a parameter became NaN or infinite. ``epoch`` and ``step`` (1-based,
    the step within the epoch; 0: before its first step) say where, ``what`` what became non-finite ("loss",
    "parameter <name>", ...); nothing was saved after it, so the last checkpoint on disk holds the last good
    weights."""

    def __init__(self, message: str, epoch: int, step: int, what: str):
        super().__init__(message)
        self.epoch, self.step, self.what = epoch, step, what


class Trainer:
    """Owns a model, its optimizer and schedule, and the running history.

    The model is ``model`` (a :class:`Sequential`, built or not) or ``cfg.model`` built from its spec. While
    ``cfg.input_shape`` is None it is built for the first data it is given (``fit``, ``train_step``; looked at
    before any data, it is built for 28x28 MNIST); a named model (``gpuml.nn.MODELS``) gets a last layer of
    ``cfg.num_classes`` outputs, by default inferred by ``fit`` as the largest label + 1. Images given as arrays
    follow :func:`gpuml.datasets.as_images` (uint8 / 255, ...); with ``cfg.standardize`` (or a stored
    ``cfg.mean``/``cfg.std``) every input is standardised per channel after augmentation.
    """

    def __init__(self, cfg: TrainConfig | None = None, device=None, model: Sequential | None = None):
        self.cfg = cfg = cfg if cfg is not None else TrainConfig()
        built = model is not None and model.store is not None
        # a model built on a device other than the default was put there on purpose; else auto's choice for training
        self.device = device or (model.device if built and model.device is not get_device() else device_for("train"))
        if built and model.device is not self.device:
            _move(model, self.device)
        self._model = model
        self._optimizer = self._schedule = None
        self._named = model is None and cfg.model in MODELS
        # open: the model may still be (re)built for the data fit first sees
        self._open = (model is None or model.store is None) and (
            cfg.input_shape is None or (self._named and cfg.num_classes is None)
        )
        if not self._open:
            self.optimizer  # noqa: B018 - build now, so a spec that does not fit fails at construction
        self.epoch = 0
        self.history: list[dict] = []
        self.augment = None
        if cfg.augment:
            from .augment import parse_pipeline

            self.augment = parse_pipeline(cfg.augment)
        self.step_count = 0
        self._affine = None
        self.best_epoch: int | None = None

    @property
    def model(self) -> Sequential:
        cfg = self.cfg
        if self._model is None:
            spec = MODELS.get(cfg.model, cfg.model)
            if self._named and cfg.num_classes:  # named models end in "fc 10": size it to the classes
                spec = re.sub(r"fc \d+\s*$", f"fc {cfg.num_classes}", spec)
            self._model = from_spec(spec, cfg.input_shape or (1, 28, 28), self.device, cfg.seed)
        elif self._model.store is None and cfg.input_shape is not None:
            self._model.build(cfg.input_shape, self.device, cfg.seed)
        return self._model

    @property
    def optimizer(self) -> Optimizer:
        if self._optimizer is None:
            self._optimizer = make_optimizer(self.cfg, self.model)
            self._schedule = make_schedule(self.cfg, self._optimizer)
        return self._optimizer

    @property
    def schedule(self):
        self.optimizer  # noqa: B018 - made with the optimizer
        return self._schedule

    def _fit_to(self, shape, labels: np.ndarray | None = None, infer_classes: bool = False) -> None:
        """Build the model for (C, H, W) inputs and these labels while it is open, then check that they fit it:
        a ValueError names the data's and the model's shapes, or the labels beyond its outputs."""
        cfg, shape = self.cfg, tuple(int(s) for s in shape)
        if self._open and self.step_count == 0:
            self._open = False
            if cfg.input_shape is None:
                cfg.input_shape = shape
            if infer_classes and self._named and cfg.num_classes is None and labels is not None and len(labels):
                cfg.num_classes = int(labels.max()) + 1
            built = self._model is not None and self._model.store is not None
            classes_differ = cfg.num_classes is not None and self._outputs() != cfg.num_classes
            if built and self._named and (self._model.input_shape != cfg.input_shape or classes_differ):
                self._model = None  # built for MNIST before any data: rebuild (same seed) for this data
                self._optimizer = self._schedule = None
        expected = tuple(self.model.input_shape)
        if expected != shape:
            raise ValueError(
                f"the images are {shape} (C, H, W) but the model takes {expected}: give images of that shape or "
                "a model built for these (TrainConfig(input_shape=None) builds it for the data)"
            )
        if labels is not None and self._outputs() is not None:
            check_labels(labels, num_classes=self._outputs(), what=f"labels (the model has {self._outputs()} outputs)")

    def _outputs(self) -> int | None:
        out = self.model.shapes[-1] if self.model.shapes else None
        return out[0] if out is not None and len(out) == 1 else None

    # --- steps -------------------------------------------------------------------------------------------
    def _upload(self, images: np.ndarray, labels: np.ndarray) -> tuple[Tensor, Tensor]:
        from .tensor import tensor

        return tensor(images, device=self.device), tensor(labels, device=self.device)

    def _standardized(self, x: Tensor) -> Tensor:
        if self.cfg.mean is None:
            return x
        if self._affine is None:
            from .tensor import tensor

            mean, std = np.asarray(self.cfg.mean, np.float64), np.asarray(self.cfg.std, np.float64)
            scale, shift = (1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)
            self._affine = (tensor(scale, device=self.device), tensor(shift, device=self.device))
        return channel_affine(x, *self._affine)

    def train_step(self, images, labels) -> tuple[Tensor, Tensor]:
        """One optimisation step; returns the batch's summed loss and number correct as device scalars. Host
        arrays are converted and checked (:func:`gpuml.datasets.as_images`, :func:`~gpuml.datasets.check_labels`)."""
        if not isinstance(images, Tensor):
            images = as_images(images)
            labels = check_labels(labels, len(images))
            self._fit_to(images.shape[1:], labels)
        return self._step(images, labels)

    def _step(self, images, labels) -> tuple[Tensor, Tensor]:
        x, y = self._upload(images, labels) if not isinstance(images, Tensor) else (images, labels)
        if self.augment is not None:
            x = self.augment.apply_batch(x, seed=self.cfg.seed, step=self.step_count)
        logits = self.model.forward(self._standardized(x))
        row_loss, row_correct, grad = softmax_cross_entropy(logits, y)
        self.model.backward(grad)
        self.optimizer.step()
        self.step_count += 1
        return ops.sum(row_loss), ops.sum(row_correct)

    def evaluate(self, data, batch_size: int = 1000) -> dict:
        """Accuracy and mean loss on ``data`` (a Dataset or ``(images, labels)``; eval mode, one readback)."""
        data = to_dataset(data, what="evaluation data")
        self._fit_to(data.images.shape[1:], data.labels)
        self.model.eval()
        loss_total = correct_total = None
        try:
            for xb, yb in batches(data, batch_size, shuffle=False):
                x, y = self._upload(xb, yb)
                row_loss, row_correct, _ = softmax_cross_entropy(self.model.forward(self._standardized(x)), y)
                s, c = ops.sum(row_loss), ops.sum(row_correct)
                loss_total = s if loss_total is None else ops.add(loss_total, s)
                correct_total = c if correct_total is None else ops.add(correct_total, c)
        finally:
            self.model.train()
        n = len(data)
        if n == 0:
            return {"loss": float("nan"), "accuracy": float("nan")}
        return {"loss": float(loss_total.numpy()) / n, "accuracy": float(correct_total.numpy()) / n}

    def predict_proba(self, images, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities (N, K) for images (N, H, W) or (N, C, H, W) (or a Dataset), in eval mode."""
        images = as_images(images.images if isinstance(images, Dataset) else images)
        self._fit_to(images.shape[1:])
        self.model.eval()
        out = []
        try:
            for start in range(0, len(images), batch_size):
                x = self._upload(images[start : start + batch_size], np.zeros(0, np.int32))[0]
                out.append(softmax(self.model.forward(self._standardized(x)).numpy()))
        finally:
            self.model.train()
        return np.concatenate(out) if out else np.zeros((0, self._outputs() or 10), np.float32)

    def predict(self, images, batch_size: int = 1000) -> np.ndarray:
        """The most probable class (N,) int64 for each image."""
        return self.predict_proba(images, batch_size).argmax(axis=1)

    def score(self, images, labels=None, batch_size: int = 1000) -> float:
        """Accuracy on ``images, labels`` (or a Dataset), as scikit-learn's ``score``."""
        data = images if labels is None else (images, labels)
        return self.evaluate(data, batch_size)["accuracy"]

    def train_epoch(self, data: Dataset, progress=None, report_every: int = 50) -> dict:
        """One pass over ``data``. Every ``report_every`` steps and at the end the running loss is read (one 4-byte
        readback, also the progress bar's figure) together with a checksum of the parameters: a NaN or infinite
        loss or parameter raises :class:`NonFiniteError` naming the first such step, before anything is saved."""
        self.model.train()
        self._check_parameters()
        loss_total = correct_total = None
        seen, t0 = 0, time.perf_counter()
        pending: list[Tensor] = []  # the step losses since the last check (read only to name a bad step)
        step = -1
        for step, (xb, yb) in enumerate(batches(data, self.cfg.batch_size, seed=self.cfg.seed, epoch=self.epoch)):
            s, c = self._step(xb, yb)
            loss_total = s if loss_total is None else ops.add(loss_total, s)
            correct_total = c if correct_total is None else ops.add(correct_total, c)
            pending.append(s)
            seen += len(yb)
            if progress is not None:
                progress.update(len(yb))
            if step % report_every == report_every - 1:
                total = self._checked_loss(loss_total, pending, step, data)
                pending = []
                if progress is not None:
                    progress.set_postfix(loss=f"{total / seen:.4f}", img_s=f"{seen / (time.perf_counter() - t0):,.0f}")
        if loss_total is None:
            raise ValueError("no training data")
        loss = self._checked_loss(loss_total, pending, step, data) if pending else float(loss_total.numpy())
        correct = float(correct_total.numpy())
        seconds = time.perf_counter() - t0
        return {
            "train_loss": loss / seen,
            "train_accuracy": correct / seen,
            "seconds": seconds,
            "images_per_s": seen / seconds,
        }

    def _check_parameters(self) -> None:
        """Before an epoch (one 4-byte readback): parameters set or loaded non-finite raise :class:`NonFiniteError`."""
        store = self.model.parameters()
        if np.isfinite(float(ops.sum(store.data).numpy())):
            return
        bad = [name for name, v in store.state_dict().items() if not np.isfinite(v).all()]
        if bad:
            what = f"parameter {bad[0]}" if len(bad) == 1 else f"parameters {', '.join(bad)}"
            msg = f"training stopped before epoch {self.epoch + 1}: {what} non-finite"
            raise NonFiniteError(msg, self.epoch + 1, 0, what)

    def _checked_loss(self, loss_total: Tensor, pending: list[Tensor], step: int, data: Dataset) -> float:
        """The running loss sum, read in the same 4-byte readback as a parameter checksum (``loss + 0 * sum(params)``
        equals the loss while every parameter is finite); when it is not finite, find what and where (reads only
        on that path) and raise :class:`NonFiniteError`."""
        store = self.model.parameters()
        health = float(ops.add(loss_total, ops.scale(ops.sum(store.data), 0.0)).numpy())
        if np.isfinite(health):
            return health
        first = step - len(pending) + 1  # 0-based step of pending[0]
        losses = [float(s.numpy()) for s in pending]
        bad_params = [name for name, v in store.state_dict().items() if not np.isfinite(v).all()]
        bad_loss = next((first + i for i, v in enumerate(losses) if not np.isfinite(v)), None)
        if bad_loss is None and not bad_params:
            return float(loss_total.numpy())  # finite losses and parameters: only a sum overflowed float32
        last = step if bad_loss is None else bad_loss
        data_step, cause = _bad_batch(data, self.cfg, self.epoch, first, last)
        at = data_step if data_step is not None else last
        if not bad_params and at != bad_loss:  # the bad inputs did no harm before the loss went non-finite
            at, cause = bad_loss, None
        params = ", ".join(bad_params[:6]) + (f" and {len(bad_params) - 6} more" if len(bad_params) > 6 else "")
        if at == bad_loss:
            what, event = "loss", f"the loss became {losses[at - first]}"
        else:  # finite loss, non-finite parameters: that step's update (or one since the last check) made them so
            what = f"parameter {bad_params[0]}" if len(bad_params) == 1 else f"parameters {params}"
            when = "that step's update" if data_step is not None or first == step else f"steps {first + 1}-{step + 1}"
            event = f"{what} became non-finite in {when}"
        msg = f"training stopped at epoch {self.epoch + 1}, step {at + 1}: {event}"
        if cause:
            msg += f" ({cause})"
        if bad_params and what == "loss":
            msg += f"; parameters non-finite now: {params}"
        msg += f" (optimizer {self.cfg.optimizer}, lr {self.optimizer.lr:g}); no checkpoint is written for this epoch"
        raise NonFiniteError(msg, self.epoch + 1, at + 1, what)

    def fit(
        self,
        x,
        y=None,
        test=None,
        *,
        validation_split: float = 0.0,
        validation_data=None,
        patience: int | None = None,
        monitor: str = "val_loss",
        progress: bool = True,
        checkpoint: str | None = None,
        log=print,
    ) -> list[dict]:
        """Train until ``cfg.epochs`` (continuing from ``self.epoch`` after a resume); returns the history, one
        dict per epoch (train_loss, train_accuracy, val_*/test_* when there is such data, lr, seconds, ...).

        ``x, y``: images (N, H, W) or (N, C, H, W), uint8 or float (:func:`gpuml.datasets.as_images`), and integer
        labels (N,); or ``x`` a :class:`Dataset` (``fit(train, test)`` still works). Labels are checked before
        training starts. ``test``: a Dataset or ``(images, labels)`` evaluated after each epoch.
        ``validation_split``: hold out this fraction of the training data (seeded by ``cfg.seed``), or pass
        ``validation_data``. ``patience``: stop after that many epochs without a better ``monitor`` ("val_loss"
        or "val_accuracy") and restore the best epoch's weights (``self.best_epoch``).
        """
        if isinstance(x, Dataset) and test is None and (y is None or isinstance(y, Dataset | tuple)):
            test, y = y, None  # fit(train, test)
        train = to_dataset(x, y, "training data")
        test = None if test is None else to_dataset(test, what="test data")
        val = None if validation_data is None else to_dataset(validation_data, what="validation data")
        if val is None and validation_split:
            train, val = train.split(validation_split, self.cfg.seed)
        if monitor not in ("val_loss", "val_accuracy"):
            raise ValueError(f"monitor must be 'val_loss' or 'val_accuracy', got {monitor!r}")
        if patience is not None and val is None:
            raise ValueError(
                "early stopping (patience=) needs validation data: pass validation_split= or validation_data="
            )
        if len(train) == 0:
            raise ValueError("no training data")
        labels = np.concatenate([d.labels for d in (train, val, test) if d is not None])
        self._fit_to(train.images.shape[1:], labels, infer_classes=True)
        for d in (val, test):
            if d is not None:
                self._fit_to(d.images.shape[1:])
        if self.cfg.standardize and self.cfg.mean is None:
            self.cfg.mean, self.cfg.std = channel_stats(train.images)
            self._affine = None
        tqdm = None
        if progress:
            from tqdm import tqdm

            if log is print:
                log = tqdm.write  # keep the bar intact
        best, waited = None, 0
        while self.epoch < self.cfg.epochs:
            record = {"epoch": self.epoch + 1, "lr": self.optimizer.lr}
            bar = None
            try:
                if tqdm:
                    desc = f"epoch {self.epoch + 1}/{self.cfg.epochs}"
                    bar = tqdm(total=len(train), unit="img", desc=desc, leave=False, dynamic_ncols=True)
                record.update(self.train_epoch(train, bar))
            finally:
                if bar is not None:
                    bar.close()  # also when a step fails: no bar left behind
            for prefix, data in (("val", val), ("test", test)):
                if data is not None:
                    result = self.evaluate(data)
                    record.update({f"{prefix}_loss": result["loss"], f"{prefix}_accuracy": result["accuracy"]})
            self.epoch += 1
            if self.schedule is not None:
                self.schedule.step()
            self.history.append(record)
            if log:
                log(_epoch_line(record))
            if checkpoint:
                self.save(checkpoint)
            if patience is not None:
                value = record[monitor] if monitor == "val_accuracy" else -record[monitor]
                if best is None or value > best[0]:
                    best, waited = (value, record["epoch"], _copy_state(self.model.state_dict())), 0
                else:
                    waited += 1
                    if waited >= patience:
                        if log:
                            log(f"early stop: no better {monitor} for {patience} epoch(s)")
                        break
        if best is not None:
            self.best_epoch = best[1]
            if best[1] != self.history[-1]["epoch"]:
                self.model.load_state_dict(best[2])
                if log:
                    log(f"restored the weights of epoch {best[1]} (best {monitor})")
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


def _bad_batch(data: Dataset, cfg: TrainConfig, epoch: int, first: int, last: int) -> tuple[int | None, str | None]:
    """The first of batches ``first..last`` (0-based) of ``epoch`` holding NaN/Inf inputs, and which training
    images do; (None, None) when none does."""
    for i, (xb, _) in enumerate(batches(data, cfg.batch_size, seed=cfg.seed, epoch=epoch)):
        if i > last:
            break
        if i >= first and not np.isfinite(xb).all():
            bad = np.flatnonzero(~np.isfinite(data.images.reshape(len(data), -1)).all(axis=1))
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            return i, f"its batch holds NaN/Inf inputs: training images {', '.join(map(str, bad[:5]))}{more}"
    return None, None


def _epoch_line(record: dict) -> str:
    parts = "".join(f", {p} acc {record[f'{p}_accuracy']:.4f}" for p in ("val", "test") if f"{p}_accuracy" in record)
    return (
        f"epoch {record['epoch']:>2}: loss {record['train_loss']:.4f}, train acc {record['train_accuracy']:.4f}"
        f"{parts} ({record['images_per_s']:,.0f} img/s, {record['seconds']:.1f} s)"
    )


def _copy_state(state: dict) -> dict:
    return {k: np.array(v, copy=True) for k, v in state.items()}  # the numpy backend hands out live arrays


def save_npz_atomic(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` plus a JSON ``meta`` entry to ``path`` atomically (:func:`gpuml.serialize.write_atomic`)."""
    serialize.write_atomic(path, arrays, meta)


def load_npz(path) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a model file or checkpoint; :class:`gpuml.serialize.ModelFormatError` (a ValueError)
    names the file and the reason when it is not one, is damaged or is of a newer format."""
    return serialize.read(path)


def _move(model: Sequential, device) -> None:
    """Rebuild ``model`` on ``device`` with its weights and buffers (a Trainer on another device than the model)."""
    state = model.state_dict()
    model.build(model.input_shape, device)
    model.load_state_dict(state)


def load_model(path, device=None) -> tuple[Sequential, dict]:
    """A trained model (eval mode) and its metadata from a file of :func:`gpuml.save`, ``Trainer.save`` or
    ``gpuml train`` (the model is rebuilt from the file's layer list, or the spec of a format-1 file), on ``device``,
    by default where ``auto`` runs inference (:func:`gpuml.backends.device_for`)."""
    arrays, meta = serialize.read(path)
    return serialize.build(arrays, meta, path, device or device_for("predict")).eval(), meta
