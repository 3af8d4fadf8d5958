"""What stops a training run: NaN or infinite losses and parameters (:class:`NonFiniteError`, found and named with
as few readbacks as possible), and the device snapshots early stopping restores. No numpy on the device-data path."""

from __future__ import annotations

import math

from .. import ops
from ..nn import Sequential
from ..tensor import Tensor
from .data import DeviceData


class NonFiniteError(ValueError):
    """Training stopped because the loss or a parameter became NaN or infinite. ``epoch`` and ``step`` (1-based,
    the step within the epoch; 0: before its first step) say where, ``what`` what became non-finite ("loss",
    "parameter <name>", ...); nothing was saved after it, so the last checkpoint on disk holds the last good
    weights."""

    def __init__(self, message: str, epoch: int, step: int, what: str):
        super().__init__(message)
        self.epoch, self.step, self.what = epoch, step, what


def check_parameters(model: Sequential, epoch: int) -> None:
    """Before an epoch (one 4-byte readback): parameters set or loaded non-finite raise :class:`NonFiniteError`."""
    if math.isfinite(float(ops.sum(model.parameters().data).item())):
        return
    bad = nonfinite_parameters(model)
    if bad:
        what = f"parameter {bad[0]}" if len(bad) == 1 else f"parameters {', '.join(bad)}"
        raise NonFiniteError(f"training stopped before epoch {epoch + 1}: {what} non-finite", epoch + 1, 0, what)


def checked_loss(trainer, loss_total: Tensor, pending: list[Tensor], step: int, data) -> float:
    """The running loss sum, read in the same 4-byte readback as a parameter checksum (``loss + 0 * sum(params)``
    equals the loss while every parameter is finite); when it is not finite, find what and where (reads only on
    that path) and raise :class:`NonFiniteError`."""
    store = trainer.model.parameters()
    health = float(ops.add(loss_total, ops.scale(ops.sum(store.data), 0.0)).item())
    if math.isfinite(health):
        return health
    epoch, cfg = trainer.epoch, trainer.cfg
    first = step - len(pending) + 1  # 0-based step of pending[0]
    losses = [float(s.item()) for s in pending]
    bad_params = nonfinite_parameters(trainer.model)
    bad_loss = next((first + i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad_loss is None and not bad_params:
        return float(loss_total.item())  # finite losses and parameters: only a sum overflowed float32
    last = step if bad_loss is None else bad_loss
    data_step, cause = (None, None) if isinstance(data, DeviceData) else _bad_batch(data, cfg, epoch, first, last)
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
    msg = f"training stopped at epoch {epoch + 1}, step {at + 1}: {event}"
    if cause:
        msg += f" ({cause})"
    if bad_params and what == "loss":
        msg += f"; parameters non-finite now: {params}"
    msg += f" (optimizer {cfg.optimizer}, lr {trainer.optimizer.lr:g}); no checkpoint is written for this epoch"
    raise NonFiniteError(msg, epoch + 1, at + 1, what)


def nonfinite_parameters(model: Sequential) -> list[str]:
    """Names of the parameters holding NaN/Inf (one readback of the flat buffer)."""
    flat = model.parameters().data.to_array()
    return [
        name
        for name, p in model.named_parameters()
        if not all(math.isfinite(v) for v in flat[p.offset : p.offset + p.size])
    ]


def _bad_batch(data, cfg, epoch: int, first: int, last: int) -> tuple[int | None, str | None]:
    """The first of batches ``first..last`` (0-based) of ``epoch`` holding NaN/Inf inputs, and which training
    images do; (None, None) when none does (numpy data: device data is checked finite when it is made)."""
    import numpy as np

    from ..datasets import batches

    for i, (xb, _) in enumerate(batches(data, cfg.batch_size, seed=cfg.seed, epoch=epoch)):
        if i > last:
            break
        if i >= first and not np.isfinite(xb).all():
            bad = np.flatnonzero(~np.isfinite(data.images.reshape(len(data), -1)).all(axis=1))
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            return i, f"its batch holds NaN/Inf inputs: training images {', '.join(map(str, bad[:5]))}{more}"
    return None, None


def snapshot(model: Sequential) -> list[Tensor]:
    """Copies of the parameters and buffers on the device (the best epoch's weights, for early stopping)."""
    return [ops.copy(model.parameters().data)] + [ops.copy(t) for m in model.layers for t in m.buffers().values()]


def restore(model: Sequential, saved: list[Tensor]) -> None:
    targets = [model.parameters().data] + [t for m in model.layers for t in m.buffers().values()]
    for src, dst in zip(saved, targets, strict=True):
        ops.copy_into(src, dst)
