"""Outlier exposure (Hendrycks, Mazeika & Dietterich 2019, "Deep anomaly detection with outlier exposure"): fine-tune
a classifier on its data plus a set of *outliers* — inputs that belong to no class — with the usual cross-entropy
on the data and, weighted by ``weight``, the cross-entropy from the uniform distribution to the softmax on the
outliers. The model keeps its accuracy and learns to spread its probability over the classes (and to lower its
logits) on inputs unlike its classes, which a softmax trained on digits alone never does: a random scribble gets
"8 (100%)" from a plain LeNet-5.

The shipped digit model is fine-tuned this way on random pad scribbles (:mod:`gpuml.playground.scribbles`):
``scripts/train_shipped_model.py`` has the recipe, ``benchmarks/scribble_ood_probe.py`` measures the result.
"""

from __future__ import annotations

import time

import numpy as np

from ..nn import Sequential
from ..optim import AdamW
from ..tensor import tensor


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_outlier_exposure(model: Sequential, images: np.ndarray, labels: np.ndarray, outliers: np.ndarray, *,
                         epochs: int = 2, lr: float = 1e-4, weight: float = 0.5, batch_size: int = 64,
                         outlier_batch: int = 64, seed: int = 0, log=None,
                         on_epoch=None, anchor=None, anchor_weight: float = 0.0) -> list[dict]:  # fmt: skip
    """Fine-tune ``model`` (built, float32 inputs as it expects them) for ``epochs`` passes over ``images``/``labels``;
    each step takes ``batch_size`` images and ``outlier_batch`` outliers (cycled, reshuffled each pass) and minimises
    mean CE(images) + ``weight`` · mean CE(uniform, softmax(outliers)) with AdamW (no weight decay) at a cosine-decayed
    ``lr``. ``anchor``: the logits of the model before fine-tuning on ``images`` ((N, K)); with ``anchor_weight`` β
    the loss adds β · mean over images of the squared distance of their logits to those, so the digits keep the
    logits (and the explanations: Grad-CAM) they had while the outliers' go flat. Returns one record per epoch
    (losses, the outliers' mean top probability, seconds); ``on_epoch(record)`` may add to each (e.g. a test
    accuracy) before it is logged."""
    if anchor is not None and np.shape(anchor) != (len(images), model.output_shape(model.input_shape)[0]):
        raise ValueError(f"anchor logits of shape {np.shape(anchor)} for {len(images)} images")
    if len(outliers) == 0:
        raise ValueError("outlier exposure needs at least one outlier image")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    rng = np.random.default_rng(seed)
    opt = AdamW(model.parameters(), lr, weight_decay=0.0)
    k = model.output_shape(model.input_shape)[0]
    steps_per_epoch = -(-len(images) // batch_size)
    total, step, history = epochs * steps_per_epoch, 0, []
    model.train()
    out_order, out_pos = rng.permutation(len(outliers)), 0
    for epoch in range(1, epochs + 1):
        t0, sums, seen = time.perf_counter(), np.zeros(4), 0
        order = rng.permutation(len(images))
        for start in range(0, len(images), batch_size):
            take = order[start : start + batch_size]
            if out_pos + outlier_batch > len(out_order):
                out_order, out_pos = rng.permutation(len(outliers)), 0
            otake = out_order[out_pos : out_pos + outlier_batch]
            out_pos += outlier_batch
            seen += len(otake)
            x = np.concatenate([images[take], outliers[otake]]).astype(np.float32)
            n, m = len(take), len(otake)
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / total))
            logits = model.forward(tensor(x, device=model.device)).numpy().astype(np.float64)
            p = _softmax(logits)
            grad = np.empty_like(p)
            grad[:n] = p[:n]
            grad[np.arange(n), labels[take]] -= 1.0
            if anchor is not None and anchor_weight:
                grad[:n] += 2.0 * anchor_weight * (logits[:n] - anchor[take])
            grad[:n] /= n
            grad[n:] = weight * (p[n:] - 1.0 / k) / m
            model.backward(tensor(grad.astype(np.float32), device=model.device))
            opt.step()
            step += 1
            logp = np.log(np.maximum(p, 1e-30))
            sums += (-logp[np.arange(n), labels[take]].sum(), -logp[n:].mean(1).sum(), p[n:].max(1).sum(), 0)
            sums[3] += (p[:n].argmax(1) == labels[take]).sum()
        record = {"epoch": epoch, "data_loss": sums[0] / len(images), "outlier_loss": sums[1] / seen,
                  "outlier_top_prob": sums[2] / seen, "train_accuracy": sums[3] / len(images),
                  "seconds": time.perf_counter() - t0}  # fmt: skip
        if on_epoch:
            on_epoch(record)
        history.append(record)
        if log:
            tests = "".join(f", {k} {v:.4f}" for k, v in record.items() if k.startswith("test_"))
            log(f"outlier exposure epoch {epoch}: data loss {record['data_loss']:.4f}, train acc "
                f"{record['train_accuracy']:.4f}, outliers' mean top probability {record['outlier_top_prob']:.3f}"
                f"{tests} ({record['seconds']:.1f} s)")  # fmt: skip
    model.eval()
    return history


__all__ = ["fit_outlier_exposure"]
