"""Training loop, evaluation, checkpoints (atomic, resumable) and model files.

A training step is: upload the batch, forward, fused softmax cross-entropy, backward (gradients land in the
model's flat gradient buffer), one fused optimizer kernel. Loss and accuracy are summed on the device; the
host reads them only when it reports (every ``report_every`` steps and at the end of an epoch).

The module imports without numpy: data given as gpuml tensors or shaped memoryviews trains through
:mod:`gpuml.train.data` (the web page's way); numpy arrays and :class:`gpuml.datasets.Dataset` take the numpy
path (imported when such data arrives), as do checkpoints (``save``/``load``, .npz).
"""

from __future__ import annotations

import os
import re
import time

from .. import ops
from ..backends import device_for, get_device
from ..nn import MODELS, Sequential, from_spec
from ..nn.functional import channel_affine, softmax_cross_entropy
from ..optim import Optimizer
from ..tensor import Tensor
from ..train_config import TrainConfig, make_optimizer, make_schedule
from .checks import NonFiniteError as NonFiniteError  # gpuml.train names it
from .checks import check_parameters, checked_loss, restore, snapshot
from .data import (
    DeviceData,
    check_label_list,
    device_images,
    gather,
    is_dataset,
    is_device_input,
    numpy_data,
    softmax_rows,
)
from .data import FitStep as FitStep  # gpuml.train names it
from .model_io import load_model as load_model  # gpuml.train names them
from .model_io import load_npz as load_npz
from .model_io import move_model
from .model_io import save_npz_atomic as save_npz_atomic

FORMAT_VERSION = 2  # gpuml.serialize.FORMAT_VERSION (checked by the tests; serialize needs numpy)
_NUMPY_NAMES = ("image_for_model", "image_to_mnist", "softmax")  # gpuml.images' helpers, named here too


def __getattr__(name):  # the numpy helpers gpuml.train names, imported on first use
    if name in _NUMPY_NAMES:
        from .. import images

        return getattr(images, name)
    raise AttributeError(f"module 'gpuml.train' has no attribute {name!r}")


class Trainer:
    """Owns a model, its optimizer and schedule, and the running history.

    The model is ``model`` (a :class:`Sequential`, built or not) or ``cfg.model`` built from its spec. While
    ``cfg.input_shape`` is None it is built for the first data it is given (``fit``, ``train_step``; looked at
    before any data, it is built for 28x28 MNIST); a named model (``gpuml.nn.MODELS``) gets a last layer of
    ``cfg.num_classes`` outputs, by default inferred by ``fit`` as the largest label + 1. Images given as arrays
    follow :func:`gpuml.datasets.as_images` (uint8 / 255, ...), as tensors or memoryviews
    :func:`gpuml.train.data.device_images` (the same rule, no numpy); with ``cfg.standardize`` (or a stored
    ``cfg.mean``/``cfg.std``) every input is standardised per channel after augmentation. ``optimizer``: one made
    by the caller for the model's parameters instead of ``cfg.optimizer`` (``cfg.schedule`` still applies).
    """

    def __init__(self, cfg: TrainConfig | None = None, device=None, model: Sequential | None = None,
                 optimizer: Optimizer | None = None):  # fmt: skip
        self.cfg = cfg = cfg if cfg is not None else TrainConfig()
        built = model is not None and model.store is not None
        # a model built on a device other than the default was put there on purpose; else auto's choice for training
        self.device = device or (model.device if built and model.device is not get_device() else device_for("train"))
        if built and model.device is not self.device:
            move_model(model, self.device)
        self._model = model
        self._optimizer = self._schedule = None
        if optimizer is not None:
            if not built:
                raise ValueError("Trainer(optimizer=...) needs a built model (the optimizer holds its parameters)")
            self._optimizer, self._schedule = optimizer, make_schedule(cfg, optimizer)
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
            from ..augment import parse_pipeline

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

    # --- data ----------------------------------------------------------------------------------------------
    def data(self, x, y=None, what: str = "data"):
        """``x, y`` (or a pair, a Dataset, DeviceData) as training data: tensors and shaped memoryviews become
        :class:`~gpuml.train_data.DeviceData` on this trainer's device (no numpy), anything else a checked
        :class:`gpuml.datasets.Dataset`."""
        if isinstance(x, DeviceData):
            if y is not None:
                raise TypeError(f"{what}: pass DeviceData or (images, labels), not both")
            return x
        if y is None and isinstance(x, tuple | list) and len(x) == 2 and is_device_input(x[0]):
            x, y = x
        if is_device_input(x):
            return DeviceData.make(x, y, self.device, what)
        return numpy_data(x, y, what)

    def _batches(self, data, batch_size: int, shuffle: bool = True, epoch: int = 0):
        if isinstance(data, DeviceData):
            return data.batches(batch_size, shuffle=shuffle, seed=self.cfg.seed, epoch=epoch)
        from ..datasets import batches

        return batches(data, batch_size, shuffle=shuffle, seed=self.cfg.seed, epoch=epoch)

    def _check_labels(self, labels, num_classes: int, what: str) -> None:
        if isinstance(labels, list):
            check_label_list(labels, num_classes=num_classes, what=what)
        else:
            from ..datasets import check_labels

            check_labels(labels, num_classes=num_classes, what=what)

    def _fit_to(self, shape, labels=None, infer_classes: bool = False) -> None:
        """Build the model for (C, H, W) inputs and these labels (a list or an array) while it is open, then check
        that they fit it: a ValueError names the data's and the model's shapes, or the labels beyond its outputs."""
        cfg, shape = self.cfg, tuple(int(s) for s in shape)
        if self._open and self.step_count == 0:
            self._open = False
            if cfg.input_shape is None:
                cfg.input_shape = shape
            if infer_classes and self._named and cfg.num_classes is None and labels is not None and len(labels):
                cfg.num_classes = int(max(labels)) + 1
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
            what = f"labels (the model has {self._outputs()} outputs)"
            self._check_labels(labels, self._outputs(), what)

    def _outputs(self) -> int | None:
        out = self.model.shapes[-1] if self.model.shapes else None
        return out[0] if out is not None and len(out) == 1 else None

    # --- steps -------------------------------------------------------------------------------------------
    def _upload(self, images, labels) -> tuple[Tensor, Tensor]:
        if isinstance(images, Tensor):
            return images, labels
        from ..tensor import tensor

        return tensor(images, device=self.device), tensor(labels, device=self.device)

    def _standardized(self, x: Tensor) -> Tensor:
        if self.cfg.mean is None:
            return x
        if self._affine is None:
            from ..tensor import tensor

            # float64 on the host, one rounding to float32 (as numpy's astype)
            scale = [1.0 / s for s in self.cfg.std]
            shift = [-m / s for m, s in zip(self.cfg.mean, self.cfg.std, strict=True)]
            self._affine = (tensor(scale, device=self.device), tensor(shift, device=self.device))
        return channel_affine(x, *self._affine)

    def train_step(self, images, labels) -> tuple[Tensor, Tensor]:
        """One optimisation step; returns the batch's summed loss and number correct as device scalars. Host
        arrays are converted and checked (:func:`gpuml.datasets.as_images`, :func:`~gpuml.datasets.check_labels`);
        tensors are used as they are."""
        if not isinstance(images, Tensor):
            from ..datasets import as_images, check_labels

            images = as_images(images)
            labels = check_labels(labels, len(images))
            self._fit_to(images.shape[1:], labels)
        return self._step(images, labels)

    def _step(self, images, labels) -> tuple[Tensor, Tensor]:
        x, y = self._upload(images, labels)
        if self.augment is not None:
            x = self.augment.apply_batch(x, seed=self.cfg.seed, step=self.step_count)
        logits = self.model.forward(self._standardized(x))
        row_loss, row_correct, grad = softmax_cross_entropy(logits, y)
        self.model.backward(grad)
        self.optimizer.step()
        self.step_count += 1
        return ops.sum(row_loss), ops.sum(row_correct)

    def evaluate(self, data, batch_size: int = 1000) -> dict:
        """Accuracy and mean loss on ``data`` (a Dataset, DeviceData or ``(images, labels)``; eval mode, one
        readback)."""
        data = self.data(data, what="evaluation data")
        self._fit_to(data.images.shape[1:], data.labels)
        self.model.eval()
        loss_total = correct_total = None
        try:
            for xb, yb in self._batches(data, batch_size, shuffle=False):
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
        return {"loss": float(loss_total.item()) / n, "accuracy": float(correct_total.item()) / n}

    def predict_proba(self, images, batch_size: int = 1000):
        """Class probabilities (N, K) for images (N, H, W) or (N, C, H, W) (or a Dataset), in eval mode: a numpy
        array for host arrays, a device tensor for tensors and memoryviews (or DeviceData)."""
        if is_device_input(images):
            x = images.images if isinstance(images, DeviceData) else device_images(images, self.device)
            return self._device_proba(x, batch_size)
        import numpy as np

        from ..datasets import as_images
        from ..images import softmax

        images = as_images(images.images if is_dataset(images) else images)
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

    def _device_proba(self, x: Tensor, batch_size: int) -> Tensor:
        self._fit_to(x.shape[1:])
        n, k = x.shape[0], self._outputs() or 10
        out = Tensor.empty((n, k), "float32", self.device)
        self.model.eval()
        try:
            for start in range(0, n, batch_size):
                xb = gather(x, list(range(start, min(n, start + batch_size))))  # a fresh tensor kernels can bind
                p = softmax_rows(self.model.forward(self._standardized(xb)))
                ops.copy_into(p, out.view(start * k, p.shape))
        finally:
            self.model.train()
        return out

    def predict(self, images, batch_size: int = 1000):
        """The most probable class for each image: (N,) int64 numpy for host arrays, an int32 tensor for tensors."""
        p = self.predict_proba(images, batch_size)
        return ops.argmax(p, axis=1) if isinstance(p, Tensor) else p.argmax(axis=1)

    def score(self, images, labels=None, batch_size: int = 1000) -> float:
        """Accuracy on ``images, labels`` (or a Dataset), as scikit-learn's ``score``."""
        data = images if labels is None else (images, labels)
        return self.evaluate(data, batch_size)["accuracy"]

    def train_epoch(self, data, progress=None, report_every: int = 50) -> dict:
        """One pass over ``data``. Every ``report_every`` steps and at the end the running loss is read (one 4-byte
        readback, also the progress bar's figure) together with a checksum of the parameters: a NaN or infinite
        loss or parameter raises :class:`NonFiniteError` naming the first such step, before anything is saved."""
        steps = self._epoch_steps(data, progress, report_every)
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return stop.value

    def _epoch_steps(self, data, progress=None, report_every: int = 50):
        """:meth:`train_epoch` as a generator: yields a :class:`FitStep` after each step, returns the record."""
        self.model.train()
        check_parameters(self.model, self.epoch)
        loss_total = correct_total = None
        seen, t0 = 0, time.perf_counter()
        pending: list[Tensor] = []  # the step losses since the last check (read only to name a bad step)
        per_epoch = -(-len(data) // self.cfg.batch_size)
        step = -1
        for step, (xb, yb) in enumerate(self._batches(data, self.cfg.batch_size, epoch=self.epoch)):
            s, c = self._step(xb, yb)
            loss_total = s if loss_total is None else ops.add(loss_total, s)
            correct_total = c if correct_total is None else ops.add(correct_total, c)
            pending.append(s)
            seen += len(yb)
            if progress is not None:
                progress.update(len(yb))
            if step % report_every == report_every - 1:
                total = checked_loss(self, loss_total, pending, step, data)
                pending = []
                if progress is not None:
                    progress.set_postfix(loss=f"{total / seen:.4f}", img_s=f"{seen / (time.perf_counter() - t0):,.0f}")
            yield FitStep(self.epoch + 1, step + 1, per_epoch, len(yb), s, c)
        if loss_total is None:
            raise ValueError("no training data")
        loss = checked_loss(self, loss_total, pending, step, data) if pending else float(loss_total.item())
        correct = float(correct_total.item())
        seconds = time.perf_counter() - t0
        return {
            "train_loss": loss / seen,
            "train_accuracy": correct / seen,
            "seconds": seconds,
            "images_per_s": seen / seconds,
        }

    def fit(self, x, y=None, test=None, *, validation_split: float = 0.0, validation_data=None,
            patience: int | None = None, monitor: str = "val_loss", progress: bool = True,
            checkpoint: str | None = None, log=print) -> list[dict]:  # fmt: skip
        """Train until ``cfg.epochs`` (continuing from ``self.epoch`` after a resume); returns the history, one
        dict per epoch (train_loss, train_accuracy, val_*/test_* when there is such data, lr, seconds, ...).

        ``x, y``: images (N, H, W) or (N, C, H, W), uint8 or float (:func:`gpuml.datasets.as_images`), and integer
        labels (N,); or ``x`` a :class:`Dataset` (``fit(train, test)`` still works); or, without numpy, images as
        a gpuml tensor or a shaped memoryview and labels as a tensor or sequence (:mod:`gpuml.train.data`). Labels
        are checked before training starts. ``test``: data evaluated after each epoch.
        ``validation_split``: hold out this fraction of the training data (seeded by ``cfg.seed``), or pass
        ``validation_data``. ``patience``: stop after that many epochs without a better ``monitor`` ("val_loss"
        or "val_accuracy") and restore the best epoch's weights (``self.best_epoch``). Runs :meth:`fit_steps` to
        its end.
        """
        for _ in self.fit_steps(x, y, test, validation_split=validation_split, validation_data=validation_data,
                                patience=patience, monitor=monitor, progress=progress, checkpoint=checkpoint,
                                log=log):  # fmt: skip
            pass
        return self.history

    def fit_steps(self, x, y=None, test=None, *, validation_split: float = 0.0, validation_data=None,
                  patience: int | None = None, monitor: str = "val_loss", progress: bool = False,
                  checkpoint: str | None = None, log=None):  # fmt: skip
        """:meth:`fit` a step at a time: checks the data now (ValueError as ``fit``), then returns a generator that
        trains one step per ``next()`` and yields a :class:`FitStep` after each step and after each epoch; the
        history grows as epochs end (a caller such as the web page advances it a few steps at a time)."""
        if (
            (is_dataset(x) or isinstance(x, DeviceData))
            and test is None
            and (y is None or isinstance(y, tuple) or is_dataset(y) or isinstance(y, DeviceData))
        ):
            test, y = y, None  # fit(train, test)
        train = self.data(x, y, "training data")
        test = None if test is None else self.data(test, what="test data")
        val = None if validation_data is None else self.data(validation_data, what="validation data")
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
        parts = [d for d in (train, val, test) if d is not None]
        if isinstance(train.labels, list):
            labels = [v for d in parts for v in d.labels]
        else:
            import numpy as np

            labels = np.concatenate([np.asarray(d.labels) for d in parts])
        self._fit_to(train.images.shape[1:], labels, infer_classes=True)
        for d in (val, test):
            if d is not None:
                self._fit_to(d.images.shape[1:])
        if self.cfg.standardize and self.cfg.mean is None:
            if isinstance(train, DeviceData):
                from .data import channel_stats
            else:
                from ..datasets import channel_stats
            self.cfg.mean, self.cfg.std = channel_stats(train if isinstance(train, DeviceData) else train.images)
            self._affine = None
        return self._fit_run(train, val, test, patience, monitor, progress, checkpoint, log)

    def _fit_run(self, train, val, test, patience, monitor, progress, checkpoint, log):
        tqdm = None
        if progress:
            try:
                from tqdm import tqdm
            except ImportError:  # Pyodide core: no bar
                tqdm = None
            if tqdm and log is print:
                log = tqdm.write  # keep the bar intact
        best, waited = None, 0
        while self.epoch < self.cfg.epochs:
            record = {"epoch": self.epoch + 1, "lr": self.optimizer.lr}
            bar = None
            try:
                if tqdm:
                    desc = f"epoch {self.epoch + 1}/{self.cfg.epochs}"
                    bar = tqdm(total=len(train), unit="img", desc=desc, leave=False, dynamic_ncols=True)
                record.update((yield from self._epoch_steps(train, bar)))
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
            stop = False
            if patience is not None:
                value = record[monitor] if monitor == "val_accuracy" else -record[monitor]
                if best is None or value > best[0]:
                    best, waited = (value, record["epoch"], snapshot(self.model)), 0
                else:
                    waited += 1
                    stop = waited >= patience
                    if stop and log:
                        log(f"early stop: no better {monitor} for {patience} epoch(s)")
            per_epoch = -(-len(train) // self.cfg.batch_size)
            yield FitStep(record["epoch"], per_epoch, per_epoch, record=record)
            if stop:
                break
        if best is not None:
            self.best_epoch = best[1]
            if best[1] != self.history[-1]["epoch"]:
                restore(self.model, best[2])
                if log:
                    log(f"restored the weights of epoch {best[1]} (best {monitor})")
                if checkpoint:
                    self.save(checkpoint)
        return self.history

    # --- checkpoints (gpuml.train.files) -----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Model (layer list, parameters, buffers: :func:`gpuml.serialize.save`), optimizer state, schedule position,
        history and config in one .npz, written atomically."""
        from .files import save_trainer

        save_trainer(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device=None, **overrides) -> Trainer:
        """Restore a trainer from a checkpoint (``--resume``); ``overrides`` may raise ``epochs``. The model is
        rebuilt from the checkpoint's layer list, so a model built in Python resumes too."""
        from .files import load_trainer

        return load_trainer(cls, path, device, overrides)


def _epoch_line(record: dict) -> str:
    parts = "".join(f", {p} acc {record[f'{p}_accuracy']:.4f}" for p in ("val", "test") if f"{p}_accuracy" in record)
    return (
        f"epoch {record['epoch']:>2}: loss {record['train_loss']:.4f}, train acc {record['train_accuracy']:.4f}"
        f"{parts} ({record['images_per_s']:,.0f} img/s, {record['seconds']:.1f} s)"
    )
