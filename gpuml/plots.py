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
