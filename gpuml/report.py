"""``gpuml report``: an HTML page about a trained model — test accuracy, confusion matrix, training curves,
first-layer filters, Grad-CAM examples and a t-SNE map of the penultimate features. Every number and picture
is computed from the checkpoint on the active backend when the report is written."""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np

from . import explain, plots
from .datasets import digits, load_data, mnist
from .nn import Conv2d
from .train import load_model, softmax


def _predict(model, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    out = [softmax(model.forward(images[i : i + batch]).numpy()) for i in range(0, len(images), batch)]
    return np.concatenate(out)


def _test_split(model_path: Path, cfg: dict):
    """The test images of the data the model was trained on: MNIST, digits, or the user's own data as
    ``gpuml train`` read it (stored in the checkpoint)."""
    data = (cfg.get("extra") or {}).get("data")
    if not data:
        return (digits if cfg.get("dataset") == "digits" else mnist)("test")
    _, test, _ = load_data(**data, seed=cfg.get("seed", 0))
    if test is None or not len(test.labels):
        raise ValueError(f"{model_path}: the model was trained without a test split; nothing to report on")
    return test


def write_report(model_path: str | Path, out_dir: str | Path, n_gradcam: int = 8, n_tsne: int = 1500) -> Path:
    model_path, out = Path(model_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, meta = load_model(model_path)
    cfg = meta["config"]
    test = _test_split(model_path, cfg)
    images = test.images
    if cfg.get("mean") is not None:  # trained with --standardize: the model takes standardised inputs
        mean = np.asarray(cfg["mean"], np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(cfg["std"], np.float32).reshape(1, -1, 1, 1)
        images = ((images - mean) / std).astype(np.float32)
    t0 = time.perf_counter()
    probs = _predict(model, images)
    pred = probs.argmax(1)
    accuracy = float((pred == test.labels).mean())
    k = probs.shape[1]
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (test.labels, pred), 1)
    sections = []
    plots.confusion_matrix(confusion, out / "confusion.png")
    sections.append(("Confusion matrix (test set)", "confusion.png", ""))
    if meta.get("history"):
        plots.training_curves({"train/test": meta["history"]}, out / "curves.png")
        sections.append(("Training curves", "curves.png", "dashed: training set, solid: test set"))
    convs = [i for i, m in enumerate(model.layers) if isinstance(m, Conv2d)]
    if convs:
        f = explain.filters(model, convs[0])
        plots.image_grid(
            [w[0] if w.shape[0] == 1 else w.mean(0) for w in f],
            out / "filters.png",
            titles=[f"filter {i}" for i in range(len(f))],
        )
        sections.append(("First-layer filters", "filters.png", "each filter scaled to [0, 1]"))
        idx = np.random.default_rng(0).permutation(len(test))[:n_gradcam]
        cams = explain.grad_cam(model, images[idx])
        titles = [f"label {test.labels[i]}, pred {pred[i]}" for i in idx]
        plots.heatmap_overlays([test.images[i, 0] for i in idx], cams, out / "gradcam.png", titles, "Grad-CAM")
        sections.append(("Grad-CAM (last convolution block, predicted class)", "gradcam.png", ""))
    xy, used = explain.embed(model, images, layer=len(model.layers) - 2, n=n_tsne)
    plots.scatter_labels(xy, test.labels[used], out / "tsne.png", "t-SNE of penultimate-layer features")
    sections.append(("Feature embedding", "tsne.png", f"{len(used)} test images, colored by true label"))
    wrong = np.flatnonzero(pred != test.labels)[:16]
    if len(wrong):
        plots.image_grid(
            [test.images[i, 0] for i in wrong],
            out / "mistakes.png",
            titles=[f"{test.labels[i]} as {pred[i]}" for i in wrong],
        )
        sections.append(("Some mistakes", "mistakes.png", "true label as predicted label"))
    seconds = time.perf_counter() - t0
    rows = "".join(
        f"<tr><td>{html.escape(str(a))}</td><td>{html.escape(str(b))}</td></tr>"
        for a, b in [
            ("model", meta["spec"]),
            ("test accuracy", f"{accuracy:.4f} ({int((pred == test.labels).sum())} / {len(test)})"),
            ("epochs", meta.get("epoch")),
            (
                "optimizer",
                f"{cfg['optimizer']}, lr {cfg['lr']}, weight decay {cfg['weight_decay']}, "
                f"L1 {cfg['l1']}, L2 {cfg['l2']}",
            ),
            ("trained on", meta.get("adapter")),
            ("report computed on", f"{model.device.adapter} in {seconds:.1f} s"),
        ]
    )
    figures = "".join(
        f"<section><h2>{html.escape(t)}</h2><img src='{src}' alt='{html.escape(t)}'><p>{html.escape(c)}</p></section>"
        for t, src, c in sections
    )
    page = out / "report.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>gpuml model report</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td{border:1px solid #ccc;padding:4px 10px}img{max-width:100%}"
        "</style></head><body><h1>gpuml model report</h1><table>" + rows + "</table>" + figures + "</body></html>"
    )
    return page
