"""PNG plots for reports (matplotlib, Agg backend; imported only when a plot is drawn, so ``import gpuml`` does
not need matplotlib)."""

from __future__ import annotations

from pathlib import Path


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plots need matplotlib: pip install 'gpuml[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(histories: dict[str, list[dict]], path: Path, title: str = "") -> Path:
    """Train (dashed) vs test (solid) accuracy and loss per epoch, one colour per run."""
    plt = _plt()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (name, hist) in enumerate(histories.items()):
        color = f"C{i}"
        epochs = [h["epoch"] for h in hist]
        ax_acc.plot(epochs, [h["train_accuracy"] for h in hist], "--", color=color, alpha=0.8)
        if "test_accuracy" in hist[0]:
            ax_acc.plot(epochs, [h["test_accuracy"] for h in hist], "-", color=color, label=name)
        ax_loss.plot(epochs, [h["train_loss"] for h in hist], "--", color=color, alpha=0.8)
        if "test_loss" in hist[0]:
            ax_loss.plot(epochs, [h["test_loss"] for h in hist], "-", color=color, label=name)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy (dashed: train, solid: test)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss (dashed: train, solid: test)", yscale="log")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def weight_histograms(weights: dict[str, list[float]], path: Path) -> Path:
    plt = _plt()
    import numpy as np

    fig, axes = plt.subplots(1, len(weights), figsize=(3.6 * len(weights), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (name, w) in zip(axes, weights.items(), strict=True):
        w = np.asarray(w)
        lim = float(np.percentile(np.abs(w), 99.5)) or 1.0
        ax.hist(w, bins=81, range=(-lim, lim), color="C0")
        ax.set_yscale("log")
        ax.set(title=name, xlabel="weight")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("count")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def lambda_sweep(curves: dict[str, tuple[list[float], list[float]]], path: Path, folds: int) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, (lams, acc)) in enumerate(curves.items()):
        ax.plot(lams, acc, "o-", color=f"C{i + 1}", label=name)
        best = max(range(len(acc)), key=acc.__getitem__)
        ax.plot([lams[best]], [acc[best]], "*", color=f"C{i + 1}", markersize=14)
    ax.set(xscale="log", xlabel="lambda", ylabel=f"{folds}-fold validation accuracy", title="lambda sweep (star: best)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def image_grid(images, path: Path, titles=None, cmap: str = "gray", columns: int | None = None, scale: float = 1.6):
    """A grid of 2-D images (e.g. filters, activation maps, max-activating digits)."""
    plt = _plt()
    import numpy as np

    images = [np.asarray(im) for im in images]
    n = len(images)
    cols = columns or min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(scale * cols, scale * rows + (0.3 if titles else 0)), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap, interpolation="nearest")
            if titles:
                ax.set_title(str(titles[k]), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def heatmap_overlays(images, maps, path: Path, titles=None, label: str = "importance", cmap: str = "jet") -> Path:
    """Each image in gray with its heatmap blended on top, and one shared colorbar."""
    plt = _plt()
    import numpy as np

    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(2.4 * n + 0.9, 2.7), squeeze=False)
    lo = min(float(np.min(m)) for m in maps)
    hi = max(float(np.max(m)) for m in maps)
    artist = None
    for k, ax in enumerate(axes.flat):
        ax.imshow(np.asarray(images[k]), cmap="gray", interpolation="nearest")
        artist = ax.imshow(np.asarray(maps[k]), cmap=cmap, alpha=0.5, vmin=lo, vmax=hi, interpolation="bilinear")
        ax.axis("off")
        if titles:
            ax.set_title(str(titles[k]), fontsize=9)
    fig.colorbar(artist, ax=list(axes.flat), fraction=0.025, pad=0.02, label=label)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def confusion_matrix(matrix, path: Path, labels=None) -> Path:
    plt = _plt()
    import numpy as np

    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    art = ax.imshow(m, cmap="Blues")
    ticks = range(len(m))
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true", title="confusion matrix")
    if labels is not None:
        ax.set_xticklabels(labels)
        ax.set_yticklabels(labels)
    for i in ticks:
        for j in ticks:
            if m[i, j]:
                color = "white" if m[i, j] > m.max() / 2 else "black"
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(art, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def scatter_labels(points, labels, path: Path, title: str = "") -> Path:
    plt = _plt()
    import numpy as np

    points, labels = np.asarray(points), np.asarray(labels)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for c in np.unique(labels):
        sel = labels == c
        ax.scatter(points[sel, 0], points[sel, 1], s=5, label=str(c), color=f"C{int(c) % 10}")
    ax.legend(markerscale=3, fontsize=8, loc="best")
    ax.set(title=title, xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def bench_bars(rows, path: Path, title: str = "") -> Path:
    """Horizontal bars of ``rate`` per (case, implementation) for benchmark rows of one area (gpuml.bench.Row),
    log scale; native bars carry their fraction of the roofline peak where known."""
    plt = _plt()
    cases = list(dict.fromkeys(r.case for r in rows))
    impls = list(dict.fromkeys(r.impl.split("[")[0] for r in rows))
    colors = {impl: f"C{i}" for i, impl in enumerate(impls)}
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.6))
    labels, y = [], 0
    for case in cases:
        for r in (r for r in rows if r.case == case):
            ax.barh(y, r.rate, color=colors[r.impl.split("[")[0]])
            note = f" {r.rate:.3g}" + (f" ({100 * r.peak_fraction:.1f}% peak)" if r.peak_fraction is not None else "")
            ax.text(r.rate, y, note, va="center", fontsize=7)
            labels.append(f"{case} | {r.impl}")
            y += 1
        y += 0.5
    ticks = []
    pos = 0.0
    for case in cases:
        n = sum(1 for r in rows if r.case == case)
        ticks += [pos + i for i in range(n)]
        pos += n + 0.5
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set(xlabel=" / ".join(dict.fromkeys(r.unit for r in rows)) + " (higher is better)", title=title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
