"""Architecture builder: a layer stack as a list of plain dicts (the page's rows) -> per-layer output shapes and
parameter counts, one-line explanations of what does not fit, a gpuml.nn Sequential / text spec, a short training
run on MNIST (gpuml.playground.training.TrainModel) and a model file that ``gpuml.load`` / ``gpuml predict`` read.
Numpy-free (the web page runs it in Pyodide core): the .npz is written with zipfile and struct.

A layer dict: ``{"type": "conv", "out": 8, "k": 3, "stride": 1, "pad": 1}``, ``{"type": "pool", "mode": "max",
"k": 2}``, ``{"type": "fc", "out": 10}``, ``{"type": "relu"|"tanh"|"sigmoid"|"gelu"|"leakyrelu"}``,
``{"type": "dropout", "rate": 0.25}``, ``{"type": "bn"}``, ``{"type": "flatten"}``.
"""

from __future__ import annotations

import array
import io
import json
import struct
import sys
import zipfile

from ..nn import (
    GELU,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from ..nn.models import spec_of
from .controls import got

INPUT = (1, 28, 28)  # MNIST
CLASSES = 10
TYPES = ("conv", "pool", "fc", "relu", "tanh", "sigmoid", "gelu", "leakyrelu", "dropout", "bn", "flatten")
DEFAULT_STACK = [
    {"type": "conv", "out": 8, "k": 3, "stride": 1, "pad": 1},
    {"type": "relu"},
    {"type": "pool", "mode": "max", "k": 2},
    {"type": "flatten"},
    {"type": "fc", "out": 10},
]
_ACT = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "leakyrelu": LeakyReLU}
_LIMITS = {"out": (1, 512), "k": (1, 11), "stride": (1, 4), "pad": (0, 5)}


def _int(layer: dict, key: str, default: int, where: str) -> int:
    value = layer.get(key, default)
    lo, hi = _LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or not lo <= value <= hi:
        names = {"out": "outputs", "k": "size", "stride": "stride", "pad": "padding"}
        raise ValueError(f"{where}: {names[key]} must be an integer in [{lo}, {hi}], got {got(value)}")
    return int(value)


def label(layer: dict) -> str:
    """Short text of a row ("conv 8 3×3", "pool 2", "fc 10", "dropout 0.25")."""
    t = layer.get("type")
    layer = {key: "?" if value is None or value == "" else value for key, value in layer.items()}  # empty fields
    if t == "conv":
        k = layer.get("k", 3)
        extra = f" s{layer.get('stride', 1)}" * (layer.get("stride", 1) != 1) + f" pad{layer.get('pad', 0)}"
        return f"conv {layer.get('out', 8)} {k}×{k}" + (extra if layer.get("pad", 0) else extra[:-5])
    if t == "pool":
        return f"{layer.get('mode', 'max')}pool {layer.get('k', 2)}"
    if t == "fc":
        return f"fc {layer.get('out', 10)}"
    if t == "dropout":
        rate = layer.get("rate", 0.25)
        return f"dropout {rate:g}" if isinstance(rate, int | float) else f"dropout {rate}"
    return str(t)


def module_of(layer: dict, where: str):
    """The gpuml.nn layer of one row; ValueError in words for a bad type or value."""
    t = layer.get("type")
    if t == "conv":
        out, k = _int(layer, "out", 8, where), _int(layer, "k", 3, where)
        return Conv2d(None, out, k, stride=_int(layer, "stride", 1, where), padding=_int(layer, "pad", 0, where))
    if t == "pool":
        mode = layer.get("mode", "max")
        if mode not in ("max", "avg"):
            raise ValueError(f"{where}: pooling is 'max' or 'avg', got {got(mode)}")
        k = _int(layer, "k", 2, where)
        return (MaxPool2d if mode == "max" else AvgPool2d)(k, k)
    if t == "fc":
        return Linear(None, _int(layer, "out", 10, where))
    if t in _ACT:
        return _ACT[t]()
    if t == "dropout":
        rate = layer.get("rate", 0.25)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ValueError(f"{where}: the dropout rate must be in [0, 1), got {got(rate)}")
        return Dropout(float(rate))
    if t == "bn":
        return BatchNorm2d()
    if t == "flatten":
        return Flatten()
    raise ValueError(f"{where}: unknown layer type {t!r} (one of {', '.join(TYPES)})")


def _shape(s) -> str:
    return "×".join(str(v) for v in s)


def _params(m, in_shape) -> int:
    if isinstance(m, Conv2d):
        return m.out_channels * in_shape[0] * m.kernel[0] * m.kernel[1] + m.out_channels
    if isinstance(m, Linear):
        return in_shape[0] * m.out_features + m.out_features
    if isinstance(m, BatchNorm2d):
        return 2 * in_shape[0]
    return 0


def _check(m, shape, where: str) -> str | None:
    """Why ``m`` cannot take ``shape`` (None when it can), in words."""
    image = len(shape) == 3
    if isinstance(m, Conv2d | MaxPool2d | AvgPool2d | BatchNorm2d) and not image:
        what = "a convolution" if isinstance(m, Conv2d) else "pooling" if not isinstance(m, BatchNorm2d) else "bn"
        return f"{where}: {what} needs an image (C×H×W) but gets a flat vector of {shape[0]}; move it before flatten"
    if isinstance(m, Conv2d):
        p = m.padding[0]
        h, w = shape[1] + 2 * p, shape[2] + 2 * p
        if m.kernel[0] > min(h, w):
            padded = f" (padded {h}×{w})" if p else ""
            k = m.kernel[0]
            return f"{where}: input {shape[1]}×{shape[2]}{padded} is smaller than the {k}×{k} kernel"
    if isinstance(m, MaxPool2d | AvgPool2d) and m.kernel[0] > min(shape[1], shape[2]):
        return f"{where}: input {shape[1]}×{shape[2]} is smaller than the window"
    return None


def analyze(stack: list[dict]) -> dict:
    """Per row: label, output shape, parameters, and ``error`` (one line) where it does not fit; the totals, the
    stack's ``spec`` and ``ok`` (it builds and ends in 10 class scores, so it can be trained on MNIST)."""
    rows, errors = [], []
    shape = INPUT
    total = 0
    for i, layer in enumerate(stack):
        where = f"layer {i + 1} ({label(layer)})"
        row = {"index": i, "label": label(layer), "shape": None, "params": 0, "error": None}
        rows.append(row)
        try:
            m = module_of(layer, where)
        except ValueError as exc:
            row["error"] = str(exc)
        else:
            if isinstance(m, Linear) and len(shape) == 3:
                shape = (shape[0] * shape[1] * shape[2],)  # an fc flattens an image (as the spec's fc does)
            row["error"] = _check(m, shape, where)
        if row["error"]:
            errors.append(row["error"])
            break  # the shapes after a bad layer are unknown
        row["params"] = _params(m, shape)
        total += row["params"]
        shape = tuple(m.output_shape(shape))
        row["shape"] = _shape(shape)
    if not stack:
        errors.append("the stack is empty: add a layer (the last one must be fc 10)")
    elif not errors and shape != (CLASSES,):
        errors.append(
            f"layer {len(stack)} ({label(stack[-1])}): the model must end in {CLASSES} class scores (fc {CLASSES}), "
            f"its output is {_shape(shape)}"
        )
    ok = not errors
    return {
        "input": _shape(INPUT),
        "rows": rows,
        "params": total,
        "ok": ok,
        "errors": errors,
        "spec": spec_of(build(stack, build_it=False)) if ok else None,
    }


def build(stack: list[dict], device=None, seed: int = 0, build_it: bool = True) -> Sequential:
    """The stack as a gpuml.nn Sequential (built for 1×28×28 unless ``build_it`` is False); an fc after an image
    gets a Flatten before it. ValueError with the first explanation when the stack does not fit."""
    layers = []
    flat = False
    for i, layer in enumerate(stack):
        m = module_of(layer, f"layer {i + 1} ({label(layer)})")
        if isinstance(m, Linear) and not flat:
            layers.append(Flatten())
        flat = flat or isinstance(m, Flatten | Linear)
        layers.append(m)
    model = Sequential(*layers)
    if build_it:
        report = analyze(stack)
        if not report["ok"]:
            raise ValueError(report["errors"][0])
        model.build(INPUT, device, seed)
    return model


# --- the model file (gpuml.serialize format 2), numpy-free -------------------------------------------------------
def _npy(data, dtype: str, shape: tuple) -> bytes:
    """One .npy file: magic, version 1.0, a header dict padded with spaces to a multiple of 64 bytes, raw data."""
    dims = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(str(d) for d in shape) + ")"
    head = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {dims}, }}"
    pad = 64 - (10 + len(head) + 1) % 64
    head = (head + " " * (pad % 64) + "\n").encode("latin1")
    raw = data.tobytes() if isinstance(data, array.array) else bytes(data)
    if isinstance(data, array.array) and sys.byteorder == "big":
        swapped = array.array(data.typecode, data)
        swapped.byteswap()
        raw = swapped.tobytes()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head + raw


def write_npz(meta: dict, arrays: dict) -> bytes:
    """An .npz (stored zip) of float32 ``arrays`` (name -> (array.array('f'), shape)) and the ``__meta__`` JSON,
    as ``gpuml.serialize.read`` expects."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        raw = json.dumps(meta).encode()
        z.writestr("__meta__.npy", _npy(raw, "|u1", (len(raw),)))
        for name, (values, shape) in arrays.items():
            z.writestr(f"{name}.npy", _npy(array.array("f", values), "<f4", tuple(shape)))
    return buf.getvalue()


def model_file(model: Sequential, extra: dict | None = None) -> bytes:
    """A built model as the bytes of a gpuml model file (format 2: the layer list and every parameter and
    batch-norm buffer); one readback of the parameters, one per buffer."""
    layers = [{"type": type(m).__name__, "args": _jsonable(m.config())} for m in model.layers]
    meta = {"format": 2, "model": {"input_shape": list(model.input_shape), "layers": layers}}
    meta["spec"] = spec_of(model)
    meta.update(extra or {})
    store = model.parameters()
    flat = store.data.to_array()
    arrays = {f"model/{p.name}": (flat[p.offset : p.offset + p.size], tuple(p.shape)) for p in store.params}
    for i, layer in enumerate(model.layers):
        for name, t in layer.buffers().items():
            arrays[f"model/{i}.{name}"] = (t.to_array(), tuple(t.shape))
    return write_npz(meta, arrays)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


# --- training: TrainModel (gpuml.playground.training) on the built stack ------------------------------------------
def trainer(stack: list[dict], batches, per_epoch: int, test, **kwargs):
    """A TrainModel whose network is this stack (``restart`` rebuilds it) instead of LeNet-5."""
    from ..optim import Adam
    from .training import TrainModel

    class StackTrainModel(TrainModel):
        name = "builder"
        title = "architecture builder"

        def restart(self) -> None:
            super().restart()  # the counters and curves (and a LeNet-5 net, replaced here by the stack)
            self.net = build(stack, self.device, self.seed)
            self.opt = Adam(self.net.parameters(), lr=self.lr)

        def filters(self) -> list[list[float]]:
            return []

    report = analyze(stack)
    if not report["ok"]:
        raise ValueError(report["errors"][0])
    return StackTrainModel(batches, per_epoch, test, **kwargs)
