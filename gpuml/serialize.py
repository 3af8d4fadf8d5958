"""Model files: ``gpuml.save(model, path)`` and ``gpuml.load(path)``, which ``Trainer`` checkpoints build on.

A model file is an .npz archive: one float32 array per parameter and buffer (``model/<layer>.<name>``, batch-norm
running statistics included) and a ``__meta__`` entry, UTF-8 JSON::

    {"format": 2,
     "model": {"input_shape": [1, 28, 28],
               "layers": [{"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 6, ...}}, ...]},
     "spec": "conv 6 5 pad2 relu | ..." or null,   # for readers of format 1 (the web page's converter, reports)
     ...}                                           # checkpoints add config, optimizer state, history

``load`` rebuilds the exact layer list from the layer types and their constructor arguments (``Module.config``),
never from a model name; ``save`` refuses a layer that is not a gpuml.nn class or whose arguments do not rebuild
it. Format 1 (gpuml 0.1's checkpoints, the shipped LeNet-5) recorded only a spec and is still read. Writing is
atomic: a temporary file beside the target, then ``os.replace``.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import nn
from .nn.layers import Module
from .nn.models import SpecError, from_spec, spec_of
from .nn.sequential import Sequential

FORMAT_VERSION = 2  # 2: the layer list; 1: a spec string only
READS = (1, 2)
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x93NUMPY": "an .npy array",
}


class ModelFormatError(ValueError):
    """A file is not a gpuml model, is damaged, or was written by a newer gpuml."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


# --- layers <-> JSON ---------------------------------------------------------------------------------------------
def _json_value(value, where: str):
    if isinstance(value, tuple | list):
        return [_json_value(v, where) for v in value]
    if isinstance(value, np.generic):  # a numpy scalar passed to a constructor
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{where}: argument value {value!r} cannot be saved (not a number, string, bool or None)")


def layer_entry(i: int, layer: Module) -> dict:
    """``{"type": ..., "args": ...}`` for layer ``i``; a layer that could not be rebuilt from it is an error now,
    at save time, not when the file is loaded."""
    name = type(layer).__name__
    if getattr(nn, name, None) is not type(layer) or isinstance(layer, Sequential):
        raise TypeError(f"layer {i} ({name}) is not a gpuml.nn layer: gpuml.save stores gpuml.nn layers only")
    args = {k: _json_value(v, f"layer {i} ({name}) {k}") for k, v in layer.config().items()}
    rebuilt = {k: _json_value(v, "") for k, v in type(layer).from_config(args).config().items()}
    if rebuilt != args:
        raise TypeError(f"layer {i} ({name}): config() {args} does not rebuild it (got {rebuilt})")
    return {"type": name, "args": args}


def layer_from_entry(entry: dict) -> Module:
    cls = getattr(nn, str(entry.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, Module)) or cls is Sequential:
        raise ValueError(f"unknown layer type {entry.get('type')!r} (written by a newer gpuml?)")
    return cls.from_config(dict(entry.get("args", {})))


def describe_model(model: Sequential) -> dict:
    """The ``model`` section of a file's metadata (the model must be built)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"gpuml.save takes a gpuml.nn.Sequential, got {type(model).__name__}")
    if model.store is None:
        raise RuntimeError("the model is not built: call model.build(input_shape) before saving it")
    layers = [layer_entry(i, m) for i, m in enumerate(model.layers)]
    return {"input_shape": list(model.input_shape), "layers": layers}


# --- files -------------------------------------------------------------------------------------------------------
def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")


def _stale(tmp: Path, path: Path) -> bool:
    """A temporary file of an interrupted write to ``path``: its writer process is gone, or it is a day old."""
    try:
        if time.time() - tmp.stat().st_mtime > 86400:
            return True
    except OSError:  # removed meanwhile
        return False
    pid = tmp.name[len(path.name) + 2 :].split("-", 1)[0]
    if not pid.isdigit() or os.name != "posix":  # another naming, or no signal 0 to ask (Windows)
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive under another user
        return False
    return False


def write_atomic(path, arrays: dict, meta: dict) -> None:
    """``arrays`` and a JSON ``meta`` entry to ``path`` via a temporary file and ``os.replace``: a crash never leaves
    a half-written file under the final name, and temporary files of interrupted writes are removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(f".{path.name}.*.tmp"):
        if _stale(old, path):
            old.unlink(missing_ok=True)
    tmp = _temp_name(path)
    try:
        with open(tmp, "xb") as f:
            np.savez(f, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save(model: Sequential, path, *, arrays: dict | None = None, meta: dict | None = None) -> None:
    """Write a built ``model`` (layers, parameters, batch-norm statistics) to ``path`` atomically; ``load`` gives
    back a model with bit-identical predictions. ``arrays``/``meta`` add entries (``Trainer.save`` stores its
    optimizer state and history there)."""
    info = {"format": FORMAT_VERSION, "model": describe_model(model), "spec": spec_of(model), **(meta or {})}
    entries = {f"model/{k}": np.asarray(v, np.float32) for k, v in model.state_dict().items()}
    write_atomic(path, {**entries, **(arrays or {})}, info)


def _kind(path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    what = next((v for k, v in _MAGIC.items() if head.startswith(k)), None)
    if what is None:
        what = "empty" if not head else f"it starts with {head!r}"
    return f"not a gpuml model file (not an .npz archive: {what})"


def read(path) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a model file or checkpoint; ModelFormatError names the file and what is wrong."""
    reason = _kind(path)  # OSError (FileNotFoundError, ...) passes through
    if reason:
        raise ModelFormatError(path, reason)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__meta__" not in data.files:
                names = ", ".join(sorted(data.files)[:5]) or "none"
                raise ModelFormatError(
                    path, f"not a gpuml model file (an .npz archive without gpuml metadata; arrays: {names})"
                )
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
            raw = bytes(data["__meta__"])
    except ModelFormatError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelFormatError(path, f"damaged or truncated file ({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(raw.decode())
        version = meta["format"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ModelFormatError(path, "not a gpuml model file (its __meta__ entry is not gpuml metadata)") from None
    if not isinstance(version, int):
        raise ModelFormatError(path, f"not a gpuml model file (format {version!r})")
    if version > max(READS):
        raise ModelFormatError(
            path,
            f"written by a newer gpuml (format {version}; this gpuml reads formats up to "
            f"{max(READS)}): upgrade gpuml to load it",
        )
    if version not in READS:
        raise ModelFormatError(path, f"unknown format {version}")
    return arrays, meta


def build(arrays: dict, meta: dict, path, device=None) -> Sequential:
    """The model a file describes, built on ``device`` with its saved parameters and buffers (training mode)."""
    section = meta.get("model")
    # gpuml 0.1 stored a model built in Python under the config's model name: say so when it does not fit
    hint = "" if section else f"; a format-1 file records only the spec {meta.get('spec')!r}, maybe not this model's"
    try:
        if section is not None:
            model = Sequential(*[layer_from_entry(e) for e in section["layers"]])
            model.build(tuple(section["input_shape"]), device)
            if meta.get("spec"):
                model.spec = meta["spec"]
        else:
            cfg = meta.get("config", {})
            model = from_spec(meta["spec"], tuple(cfg.get("input_shape", (1, 28, 28))), device, cfg.get("seed", 0))
    except (SpecError, ValueError, TypeError, KeyError) as exc:
        raise ModelFormatError(path, f"cannot rebuild the model ({_text(exc)}){hint}") from None
    try:
        model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
    except (KeyError, ValueError) as exc:
        raise ModelFormatError(path, f"parameters do not fit the model ({_text(exc)}){hint}") from None
    return model


def _text(exc: Exception) -> str:
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def load(path, device=None) -> Sequential:
    """The model saved in ``path`` (by ``save``, ``Trainer.save`` or ``gpuml train``), on ``device`` (default: the
    current one), in eval mode."""
    arrays, meta = read(path)
    return build(arrays, meta, path, device).eval()
