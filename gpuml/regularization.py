"""Regularization study: none vs L1 vs L2 vs AdamW weight decay on a small training set, long enough to overfit,
plus a lambda sweep on a log grid with k-fold cross-validation that picks the best lambda per penalty.

``gpuml regularization`` runs it and writes ``study.json`` and PNGs (train vs test curves, weight histograms,
sweep). Everything trains through the same Trainer, kernels and optimizers as ``gpuml train``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .datasets import Dataset
from .train import TrainConfig, Trainer

PENALTIES = {
    # name -> (config field, optimizer, default lambda for the curves, sweep grid)
    "none": (None, "adam", 0.0, ()),
    "l1": ("l1", "adam", 1e-4, tuple(np.logspace(-6, -2, 5))),
    "l2": ("l2", "adam", 1e-3, tuple(np.logspace(-5, -1, 5))),
    "weight_decay": ("weight_decay", "adamw", 1e-1, tuple(np.logspace(-3, 1, 5))),
}
NEAR_ZERO = 1e-3  # |w| below this counts as pruned by L1


def _weights(trainer: Trainer) -> np.ndarray:
    store = trainer.model.parameters()
    flat = store.data.numpy()
    return np.concatenate([flat[p.offset : p.offset + p.size] for p in store if p.decay])


def run_config(base: TrainConfig, penalty: str, lam: float, train: Dataset, test: Dataset | None, device) -> Trainer:
    field, optimizer, _, _ = PENALTIES[penalty]
    cfg = replace(base, optimizer=optimizer, l1=0.0, l2=0.0, weight_decay=0.0)
    if field:
        cfg = replace(cfg, **{field: float(lam)})
    trainer = Trainer(cfg, device)
    trainer.fit(train, test, progress=False, log=None)
    return trainer


def kfold_score(base: TrainConfig, penalty: str, lam: float, data: Dataset, folds: int, device) -> float:
    """Mean validation accuracy over ``folds`` seeded folds of ``data``."""
    order = np.random.default_rng(base.seed).permutation(len(data))
    parts = np.array_split(order, folds)
    scores = []
    for k in range(folds):
        train_idx = np.concatenate([p for j, p in enumerate(parts) if j != k])
        train = Dataset(data.images[train_idx], data.labels[train_idx])
        val = Dataset(data.images[parts[k]], data.labels[parts[k]])
        trainer = run_config(base, penalty, lam, train, None, device)
        scores.append(trainer.evaluate(val)["accuracy"])
    return float(np.mean(scores))


def study(
    train: Dataset,
    test: Dataset,
    base: TrainConfig,
    *,
    sweep_epochs: int | None = None,
    folds: int = 3,
    device=None,
    penalties=("none", "l1", "l2", "weight_decay"),
    sweep: bool = True,
    progress: bool = True,
    log=print,
) -> dict:
    """The k-fold lambda sweep (``sweep``), then one run per penalty at its best lambda (the default lambda
    without a sweep) with train and test curves, weight statistics and histograms."""
    result = {"config": {k: v for k, v in base.__dict__.items() if k != "extra"}, "train_size": len(train), "runs": {}}
    chosen = {name: PENALTIES[name][2] for name in penalties}
    if sweep:
        sweep_cfg = replace(base, epochs=sweep_epochs or base.epochs)
        result["sweep"] = {"folds": folds, "epochs": sweep_cfg.epochs}
        combos = [(n, lam) for n in penalties for lam in PENALTIES[n][3]]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(combos), desc="lambda sweep", unit="fit", leave=False)
            log = bar.write if log is print else log
        for name in penalties:
            grid = PENALTIES[name][3]
            if not grid:
                continue
            scores = []
            for lam in grid:
                scores.append(kfold_score(sweep_cfg, name, lam, train, folds, device))
                if bar is not None:
                    bar.update(1)
            best = int(np.argmax(scores))
            chosen[name] = float(grid[best])
            result["sweep"][name] = {
                "lambdas": list(map(float, grid)),
                "cv_accuracy": scores,
                "best_lambda": chosen[name],
            }
            if log:
                log(f"{name:>12}: best lambda {grid[best]:g} ({folds}-fold cv accuracy {scores[best]:.4f})")
        if bar is not None:
            bar.close()
            log = print if log == bar.write else log
    for name in penalties:
        trainer = run_config(base, name, chosen[name], train, test, device)
        w = _weights(trainer)
        hist = trainer.history
        run = result["runs"][name] = {
            "lambda": chosen[name],
            "history": hist,
            "final_train_accuracy": hist[-1]["train_accuracy"],
            "final_test_accuracy": hist[-1]["test_accuracy"],
            "generalization_gap": hist[-1]["train_accuracy"] - hist[-1]["test_accuracy"],
            "near_zero_fraction": float(np.mean(np.abs(w) < NEAR_ZERO)),
            "weight_l2": float(np.sqrt((w.astype(np.float64) ** 2).sum())),
            "weights_sample": w[:: max(1, len(w) // 20000)].tolist(),
        }
        if log:
            log(
                f"{name:>12} (lambda {chosen[name]:g}): train {run['final_train_accuracy']:.4f}, "
                f"test {run['final_test_accuracy']:.4f}, gap {run['generalization_gap']:.4f}, "
                f"near-zero weights {run['near_zero_fraction']:.1%}, ||w|| {run['weight_l2']:.2f}"
            )
    return result


def write_outputs(result: dict, out: Path) -> list[Path]:
    from . import plots

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "study.json"]
    paths[0].write_text(json.dumps(result, indent=1))
    paths.append(plots.training_curves({k: v["history"] for k, v in result["runs"].items()}, out / "curves.png"))
    paths.append(
        plots.weight_histograms(
            {f"{k} (near-zero {v['near_zero_fraction']:.0%})": v["weights_sample"] for k, v in result["runs"].items()},
            out / "weights.png",
        )
    )
    if "sweep" in result:
        curves = {k: (v["lambdas"], v["cv_accuracy"]) for k, v in result["sweep"].items() if isinstance(v, dict)}
        paths.append(plots.lambda_sweep(curves, out / "sweep.png", result["sweep"]["folds"]))
    return paths
