"""The digit pad's feature cue, "unlike the 9s it learned from": made once per model file, read by the native window
and the page.

The evidence cue (:mod:`gpuml.playground.digits_explain`) misses drawings that excite one class strongly — an
umbrella, a tree or a mailbox, a closed shape on a stem, reads "9 (99.5%)" on plenty of evidence. Their hidden
features still differ from the training 9s': the unit-normalised outputs of the ReLU after the first fully connected
layer (LeNet-5: 120 values) lie far, in cosine distance, from every prototype of the predicted class — ``PER_CLASS``
k-means centres (gpuml's own :class:`~gpuml.cluster.KMeans`) of the first ``TRAIN_DIGITS`` MNIST training digits'
features. The line is the ``LINE_PERCENTILE``-th percentile of the distance over the same ``CALIBRATION_DIGITS``
real test digits as the evidence levels, so ~2% of real digits cross it (measured: benchmarks/RESULTS.md).

Stored in the model file: ``novelty/prototypes`` (classes x PER_CLASS x features, float16 — the page ships the same
values, so page and native read a drawing alike) and ``meta["novelty"]`` (the layer, the line, how it was made).
``python -m gpuml.playground.novelty MODEL.npz`` adds them to a model file.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .. import serialize
from ..explain import _forward
from ..tensor import tensor
from .digits_explain import CALIBRATION_DIGITS, novelty_distance
from .digits_explain import NOVELTY_PERCENTILE as LINE_PERCENTILE

PER_CLASS = 30
TRAIN_DIGITS = 20000
SEED = 0


def feature_layer(net) -> int | None:
    """Index of the activation after the first fully connected layer (None: the model has none)."""
    kinds = [type(m).__name__ for m in net.layers]
    for i, kind in enumerate(kinds[:-1]):
        if kind == "Linear" and kinds[i + 1] in ("ReLU", "Tanh"):
            return i + 1
    return None


def features(net, images, layer: int, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(logits, features at ``layer``) of images (N, 1, 28, 28) float32 in [0, 1], as float64."""
    logits, feats = [], []
    for i in range(0, len(images), batch):
        outs = _forward(net, tensor(np.ascontiguousarray(images[i : i + batch], np.float32), device=net.device))
        logits.append(outs[-1].numpy())
        feats.append(outs[layer].numpy())
    return np.concatenate(logits).astype(np.float64), np.concatenate(feats).astype(np.float64)


def _unit(f: np.ndarray) -> np.ndarray:
    return f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-12)


def fit(net, train_images, train_labels, cal_images, *, per_class: int = PER_CLASS, seed: int = SEED) -> dict:
    """Prototypes (classes, per_class, features) float16 and the line, from training digits (prototypes) and
    calibration digits (the line)."""
    from ..cluster import KMeans

    layer = feature_layer(net)
    if layer is None:
        raise ValueError("the feature cue needs a fully connected layer followed by an activation")
    _, f = features(net, train_images, layer)
    f = _unit(f)
    classes = int(train_labels.max()) + 1
    protos = np.stack([
        _unit(KMeans(per_class, random_state=seed + c, device=net.device).fit(f[train_labels == c]).cluster_centers_)
        for c in range(classes)
    ]).astype(np.float16)  # fmt: skip
    novelty = {"layer": layer, "prototypes": protos.astype(np.float64).tolist()}
    cal_logits, cal_f = features(net, cal_images, layer)
    dist = [novelty_distance(row.tolist(), novelty["prototypes"][int(lg.argmax())])
            for lg, row in zip(cal_logits, cal_f, strict=True)]  # fmt: skip
    line = float(np.sort(dist)[min(len(dist) - 1, int(len(dist) * LINE_PERCENTILE / 100))])
    return {"prototypes": protos, "layer": layer, "line": line}


def add_to_file(path, out=None, log=print) -> dict:
    """Fit the cue for the model in ``path`` on MNIST (numpy backend) and write the file again (to ``out``)."""
    from ..backends import open_device
    from ..datasets import mnist

    arrays, meta = serialize.read(path)
    net = serialize.build(arrays, meta, path, open_device("cpu")).eval()
    train, test = mnist("train"), mnist("test")
    scale = lambda a: a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)  # noqa: E731
    cue = fit(net, scale(train.images[:TRAIN_DIGITS]), train.labels[:TRAIN_DIGITS].astype(np.int64),
              scale(test.images[:CALIBRATION_DIGITS]))  # fmt: skip
    arrays["novelty/prototypes"] = cue["prototypes"]
    meta["novelty"] = {"layer": cue["layer"], "line": cue["line"], "per_class": PER_CLASS, "seed": SEED,
                       "train_digits": TRAIN_DIGITS, "line_percentile": LINE_PERCENTILE,
                       "calibration_digits": CALIBRATION_DIGITS, "distance": "1 - cosine"}  # fmt: skip
    serialize.write_atomic(out or path, arrays, meta)
    shape = "x".join(map(str, cue["prototypes"].shape))
    log(f"{out or path}: feature cue at layer {cue['layer']}, {shape} prototypes, line {cue['line']:.4f}")
    return meta["novelty"]


def from_file(path) -> dict | None:
    """The cue stored in a model file, as :func:`gpuml.playground.digits_explain.verdict` takes it (plain lists), or
    None when the file has none."""
    arrays, meta = serialize.read(path)
    return of(arrays, meta)


def of(arrays: dict, meta: dict) -> dict | None:
    info = meta.get("novelty")
    if not info or "novelty/prototypes" not in arrays:
        return None
    protos = np.asarray(arrays["novelty/prototypes"], np.float16).astype(np.float64)
    return {"layer": int(info["layer"]), "line": float(info["line"]), "prototypes": protos.tolist()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="add the digit pad's feature cue to a model file")
    ap.add_argument("model", help="a gpuml model file (.npz) of a 28x28 digit classifier")
    ap.add_argument("--out", default=None, help="write here instead of in place")
    args = ap.parse_args(argv)
    try:
        add_to_file(args.model, args.out)
    except (OSError, ValueError) as exc:
        print(f"novelty: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
