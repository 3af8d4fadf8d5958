"""PNG plots for k-means: clusters, elbow, silhouette. matplotlib when installed (extra ``plots``), else a
plain Pillow drawing. Imported only by the CLI, so ``import gpuml`` never imports matplotlib."""

from __future__ import annotations

import numpy as np

PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def _mpl():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt
    except ImportError:
        return None


def plot_clusters(path, X, labels, centers, title=""):
    X, labels, centers = np.asarray(X)[:, :2], np.asarray(labels), np.asarray(centers)[:, :2]
    plt = _mpl()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter(X[:, 0], X[:, 1], c=labels, s=6, cmap="tab10")
        ax.scatter(centers[:, 0], centers[:, 1], c="black", marker="x", s=80)
        ax.set_title(title)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    _pillow_points(path, X, labels, centers, title)


def plot_curve(path, ks, values, ylabel, mark=None, title=""):
    plt = _mpl()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(ks, values, "o-")
        if mark is not None:
            ax.axvline(mark, color="red", linestyle="--", label=f"suggested k = {mark}")
            ax.legend()
        ax.set_xlabel("k")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    pts = np.column_stack([np.asarray(ks, float), np.asarray(values, float)])
    _pillow_points(path, pts, np.zeros(len(pts), int), None, title, lines=True)


def _pillow_points(path, pts, labels, centers, title, lines=False, size=(600, 500)):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    lo, hi = pts.min(0), pts.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)

    def xy(p):
        u = (p - lo) / span
        return 30 + u[0] * (size[0] - 60), size[1] - 30 - u[1] * (size[1] - 60)

    coords = [xy(p) for p in pts]
    if lines:
        draw.line(coords, fill=PALETTE[0], width=2)
    for (x, y), lab in zip(coords, labels, strict=True):
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=PALETTE[int(lab) % len(PALETTE)])
    if centers is not None:
        for c in centers:
            x, y = xy(c)
            draw.line([x - 6, y - 6, x + 6, y + 6], fill="black", width=2)
            draw.line([x - 6, y + 6, x + 6, y - 6], fill="black", width=2)
    draw.text((10, 5), title, fill="black")
    img.save(path)
