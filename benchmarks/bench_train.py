"""LeNet-5 training and inference on MNIST: gpuml native (WebGPU), gpuml's numpy backend and PyTorch CPU, in one run.

For each: one epoch (batch 64, Adam, data to device included) as images/s — or ``--steps`` steps extrapolated to
an epoch —, single-image inference latency (forward + readback), and for native the dispatch count per step and
the share of step time that is per-dispatch overhead (dispatches x the measured GPU cost of an empty-ish dispatch).

    python benchmarks/bench_train.py [--steps 200] [--json benchmarks/train.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

import gpuml
from gpuml import bench
from gpuml.backends import open_device
from gpuml.datasets import batches, mnist
from gpuml.train import TrainConfig, Trainer

STEPS_PER_EPOCH = 938  # ceil(60000 / 64)


def gpuml_epoch(device, train, steps: int | None, augment: str | None = None) -> dict:
    cfg = TrainConfig(model="lenet5", optimizer="adam", batch_size=64, seed=0, augment=augment)
    trainer = Trainer(cfg, device)
    it = batches(train, 64, seed=0, epoch=0)
    for _ in range(3):  # warm-up: pipelines, pool
        xb, yb = next(it)
        trainer.train_step(xb, yb)
    device.sync()
    d0 = device.memory_stats().get("dispatches", 0)
    n_steps = 0
    t0 = time.perf_counter()
    loss = None
    for xb, yb in it:
        loss, _ = trainer.train_step(xb, yb)
        n_steps += 1
        if steps and n_steps >= steps:
            break
    float(loss.numpy())  # waits for the device
    seconds = time.perf_counter() - t0
    per_step = seconds / n_steps
    out = {
        "steps": n_steps,
        "ms_per_step": per_step * 1e3,
        "epoch_s": per_step * STEPS_PER_EPOCH,
        "images_per_s": 64 / per_step,
    }
    if device.is_gpu:
        out["dispatches_per_step"] = (device.memory_stats()["dispatches"] - d0) / n_steps
    trainer.model.eval()
    image = train.images[:1]
    for _ in range(5):
        trainer.model.forward(image).numpy()
    lat = []
    for _ in range(30):
        t = time.perf_counter()
        trainer.model.forward(image).numpy()
        lat.append(time.perf_counter() - t)
    out["inference_ms"] = statistics.median(lat) * 1e3
    return out


def torch_lenet5(torch):
    """gpuml's modern LeNet-5 in PyTorch (seeded), its Adam optimizer and the loss: the reference every training
    benchmark compares against."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    return model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()


def torch_step(torch, model, opt, lossf):
    """One training step of :func:`torch_lenet5`'s model on numpy (x, y): zero_grad, forward, backward, step; returns
    the loss (a tensor)."""

    def step(x, y):
        opt.zero_grad()
        loss = lossf(model(torch.from_numpy(x)), torch.from_numpy(y.astype(np.int64)))
        loss.backward()
        opt.step()
        return loss

    return step


def torch_epoch(train, steps: int | None) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    model, opt, lossf = torch_lenet5(torch)
    it = batches(train, 64, seed=0, epoch=0)
    n_steps, t0 = 0, None
    for k, (xb, yb) in enumerate(it):
        if k == 3:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = lossf(model(torch.from_numpy(xb)), torch.from_numpy(yb.astype(np.int64)))
        loss.backward()
        opt.step()
        if k >= 3:
            n_steps += 1
            if steps and n_steps >= steps:
                break
    per_step = (time.perf_counter() - t0) / n_steps
    model.eval()
    image = torch.from_numpy(train.images[:1])
    with torch.no_grad():
        lat = []
        for _ in range(30):
            t = time.perf_counter()
            model(image).numpy()
            lat.append(time.perf_counter() - t)
    return {
        "steps": n_steps,
        "ms_per_step": per_step * 1e3,
        "epoch_s": per_step * STEPS_PER_EPOCH,
        "images_per_s": 64 / per_step,
        "inference_ms": statistics.median(lat) * 1e3,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="steps per implementation (default: a full epoch)")
    parser.add_argument("--backends", default="native,cpu")
    parser.add_argument("--augment", default="rotate 15, translate 2", help="pipeline for the on-the-fly row")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    train = mnist("train")
    results = {}
    for name in args.backends.split(","):
        device = open_device(name)
        gpuml.set_device(device)
        print(f"gpuml {name} ({device.adapter}) ...", flush=True)
        results[f"gpuml-{name}"] = gpuml_epoch(device, train, args.steps)
        if device.is_gpu and args.augment:
            print(f"gpuml {name} with on-the-fly augmentation ({args.augment}) ...", flush=True)
            results[f"gpuml-{name}+aug"] = gpuml_epoch(device, train, args.steps, args.augment)
    print("torch cpu ...", flush=True)
    torch_result = torch_epoch(train, args.steps)
    if torch_result:
        results["torch-cpu"] = torch_result
    overhead = None
    if "gpuml-native" in results:
        rows = bench.bench_dispatch(500, ("native",), repeat=3)
        per_dispatch_us = rows[0].extra["gpu_us_per_dispatch"] or rows[0].extra["wall_us_per_dispatch"]
        native = results["gpuml-native"]
        overhead = native["dispatches_per_step"] * per_dispatch_us / 1e3 / native["ms_per_step"]
        native["dispatch_overhead_share"] = overhead
        native["gpu_us_per_dispatch"] = per_dispatch_us
    env = bench.environment(args.backends.split(","))
    print(f"\nLeNet-5, MNIST, batch 64, Adam ({'full epoch' if not args.steps else f'{args.steps} steps'})")
    print(f"{'impl':<14} {'ms/step':>9} {'epoch s':>9} {'img/s':>9} {'infer ms':>9}  vs torch")
    ref = results.get("torch-cpu")
    for name, r in results.items():
        if not isinstance(r, dict):
            continue
        ratio = f"{r['epoch_s'] / ref['epoch_s']:.2f}x" if ref else "-"
        print(f"{name:<14} {r['ms_per_step']:>9.2f} {r['epoch_s']:>9.1f} {r['images_per_s']:>9.0f} "
              f"{r['inference_ms']:>9.2f}  {ratio}")  # fmt: skip
    if overhead is not None:
        n = results["gpuml-native"]
        print(f"native: {n['dispatches_per_step']:.0f} dispatches/step x {n['gpu_us_per_dispatch']:.1f} us "
              f"= {overhead:.0%} of step time")  # fmt: skip
    if "gpuml-native+aug" in results:
        base, aug = results["gpuml-native"]["ms_per_step"], results["gpuml-native+aug"]["ms_per_step"]
        results["augment_cost_share"] = (aug - base) / aug
        print(
            f"on-the-fly augmentation ({args.augment}): {aug - base:.2f} ms/step = {(aug - base) / aug:.0%} of the step"
        )
    for name, info in env["backends"].items():
        print(f"{name}: {info['adapter']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "results": results}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
