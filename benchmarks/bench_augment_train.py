"""Cost of on-the-fly augmentation in LeNet-5 MNIST training (native backend), measured so that machine load
cancels out: two Trainers in one process, one with ``augment=SPEC``, run alternating blocks of steps; the share is
(augmented - plain) / augmented ms per step, from the fastest block of each (and from the medians).

Also: GPU time per step by kernel (``device.profile()``: each dispatch alone) — the augmentation kernels' share of
the step's GPU time — and the host time of ``apply_batch`` (parameter draw, packing, upload, recording).

    python benchmarks/bench_augment_train.py [--spec "rotate 15, translate 2"] [--blocks 8] [--block 25] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

import gpuml
from gpuml import bench
from gpuml.backends import open_device
from gpuml.datasets import batches, mnist
from gpuml.train import TrainConfig, Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="rotate 15, translate 2")
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--block", type=int, default=25, help="steps per block")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    load0 = os.getloadavg()
    device = open_device("native")
    gpuml.set_device(device)
    train = mnist("train")
    trainers = {
        k: Trainer(TrainConfig(model="lenet5", optimizer="adam", batch_size=64, seed=0, augment=a), device)
        for k, a in (("plain", None), ("augmented", args.spec))
    }
    its = {k: batches(train, 64, seed=0, epoch=e) for e, k in enumerate(trainers)}

    def step(k):
        xb, yb = next(its[k])
        return trainers[k].train_step(xb, yb)[0]

    for k in trainers:  # warm-up: pipelines, pool
        for _ in range(3):
            step(k)
    device.sync()
    per_step = {k: [] for k in trainers}
    for _ in range(args.blocks):
        for k in trainers:
            time.sleep(0.05)
            device.sync()
            t0 = time.perf_counter()
            for _ in range(args.block):
                loss = step(k)
            float(loss.numpy())  # waits for the device
            per_step[k].append((time.perf_counter() - t0) / args.block * 1e3)
    with device.profile() as prof:
        step("augmented")
    kernels = prof.by_kernel()
    gpu_total = sum(r[2] for r in kernels) * 1e3
    gpu_aug = sum(t for path, _, t, _ in kernels if path.startswith("augment/")) * 1e3
    aug = trainers["augmented"].augment
    x = trainers["plain"]._upload(*next(its["plain"]))[0]
    host = []
    for i in range(50):
        t0 = time.perf_counter()
        aug.apply_batch(x, seed=0, step=i)
        host.append((time.perf_counter() - t0) * 1e3)
        device.sync()
    plain, augd = min(per_step["plain"]), min(per_step["augmented"])
    mp, ma = statistics.median(per_step["plain"]), statistics.median(per_step["augmented"])
    result = {
        "spec": args.spec,
        "ms_per_step": {k: {"min": min(v), "median": statistics.median(v), "blocks": v} for k, v in per_step.items()},
        "augment_ms_per_step_min": augd - plain,
        "augment_share_min": (augd - plain) / augd,
        "augment_ms_per_step_median": ma - mp,
        "augment_share_median": (ma - mp) / ma,
        "gpu_ms_per_step": gpu_total,
        "gpu_ms_augment": gpu_aug,
        "gpu_share_augment": gpu_aug / gpu_total,
        "host_ms_apply_batch_median": statistics.median(host),
        "load_average": [load0[0], os.getloadavg()[0]],
        "environment": bench.environment(["native"]),
    }
    print(f"LeNet-5, MNIST, batch 64, Adam; on-the-fly augmentation '{args.spec}'; {device.adapter}")
    print(f"{'':10} {'min ms/step':>12} {'median':>8}   ({args.blocks} alternating blocks of {args.block} steps)")
    for k, v in per_step.items():
        print(f"{k:10} {min(v):12.2f} {statistics.median(v):8.2f}")
    print(f"augmentation: {augd - plain:.2f} ms/step = {(augd - plain) / augd:.1%} of the step (fastest blocks); "
          f"{ma - mp:.2f} ms = {(ma - mp) / ma:.1%} (medians)")  # fmt: skip
    print(f"GPU time per augmented step {gpu_total:.2f} ms, augmentation kernels {gpu_aug:.2f} ms = "
          f"{gpu_aug / gpu_total:.1%}; apply_batch host time {statistics.median(host):.2f} ms")  # fmt: skip
    print(f"load average {load0[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
