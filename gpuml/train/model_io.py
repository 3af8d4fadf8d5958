"""Model files for :mod:`gpuml.train`: the .npz helpers and :func:`load_model` (numpy imported only when called),
and moving a built model to another device."""

from __future__ import annotations

from ..backends import device_for
from ..nn import Sequential


def save_npz_atomic(path, arrays: dict, meta: dict) -> None:
    """Write ``arrays`` plus a JSON ``meta`` entry to ``path`` atomically (:func:`gpuml.serialize.write_atomic`)."""
    from .. import serialize

    serialize.write_atomic(path, arrays, meta)


def load_npz(path) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a model file or checkpoint; :class:`gpuml.serialize.ModelFormatError` (a ValueError)
    names the file and the reason when it is not one, is damaged or is of a newer format."""
    from .. import serialize

    return serialize.read(path)


def move_model(model: Sequential, device) -> None:
    """Rebuild ``model`` on ``device`` with its weights and buffers (a Trainer on another device than the model)."""
    state = model.state_dict()
    model.build(model.input_shape, device)
    model.load_state_dict(state)


def load_model(path, device=None) -> tuple[Sequential, dict]:
    """A trained model (eval mode) and its metadata from a file of :func:`gpuml.save`, ``Trainer.save`` or
    ``gpuml train`` (the model is rebuilt from the file's layer list, or the spec of a format-1 file), on ``device``,
    by default where ``auto`` runs inference (:func:`gpuml.backends.device_for`)."""
    from .. import serialize

    arrays, meta = serialize.read(path)
    return serialize.build(arrays, meta, path, device or device_for("predict")).eval(), meta
