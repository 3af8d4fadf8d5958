"""LeNet-5 training steps, gpuml native (WebGPU) and numpy backends against PyTorch CPU, in alternating blocks.

On a machine shared with other jobs, a full epoch of each in turn (benchmarks/bench_train.py) compares different
moments of the load; here all run in one process in blocks of ``--block`` steps, rotating ``--blocks`` times,
on the same batches (MNIST, batch 64, Adam), and each block records wall time and process CPU time (lavapipe's threads
and PyTorch's intra-op threads both run inside this process). The minimum block per implementation is the figure
least disturbed by other jobs; the load average is printed with the result.

    python benchmarks/bench_train_interleaved.py [--blocks 8] [--block 50] [--impls native,numpy,torch] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from bench_train import torch_lenet5  # benchmarks/, this script's folder

from gpuml.backends import open_device
from gpuml.datasets import batches, mnist
from gpuml.train import TrainConfig, Trainer

STEPS_PER_EPOCH = 938


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--block", type=int, default=50, help="steps per block")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--impls", default="native,numpy,torch", help="comma-separated: native, numpy, torch")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    train = mnist("train")
    impls = args.impls.split(",")
    trainers = {}
    for impl in ("native", "numpy"):
        if impl in impls:
            device = open_device("native" if impl == "native" else "cpu")
            trainers[f"gpuml-{impl}"] = Trainer(
                TrainConfig(model="lenet5", optimizer="adam", batch_size=64, seed=0), device
            )
    model, opt, lossf = torch_lenet5(torch)

    def gpuml_block(trainer, data):
        loss = None
        for xb, yb in data:
            loss, _ = trainer.train_step(xb, yb)
        float(loss.numpy())  # waits for the device

    def torch_block(data):
        for xb, yb in data:
            opt.zero_grad()
            loss = lossf(model(torch.from_numpy(xb)), torch.from_numpy(yb.astype(np.int64)))
            loss.backward()
            opt.step()

    def block_data(epoch):
        it = batches(train, 64, seed=0, epoch=epoch)
        return [next(it) for _ in range(args.block)]

    blocks = {name: (lambda data, t=t: gpuml_block(t, data)) for name, t in trainers.items()}
    if "torch" in impls:
        blocks["torch-cpu"] = torch_block
    warm = block_data(99)[:5]
    for fn in blocks.values():
        fn(warm)
    rows = {name: [] for name in blocks}
    load0 = os.getloadavg()
    order = list(blocks.items())
    for b in range(args.blocks):
        data = block_data(b)
        for name, fn in order[b % len(order) :] + order[: b % len(order)]:  # rotate who goes first
            for t in trainers.values():
                t.device.sync()
            time.sleep(0.25)  # let OpenBLAS / torch threads park
            t0, c0 = time.perf_counter(), time.process_time()
            fn(data)
            rows[name].append(
                {
                    "wall_ms": (time.perf_counter() - t0) / args.block * 1e3,
                    "cpu_ms": (time.process_time() - c0) / args.block * 1e3,
                }
            )
    load1 = os.getloadavg()
    summary = {}
    for name, rs in rows.items():
        wall = sorted(r["wall_ms"] for r in rs)
        cpu = sorted(r["cpu_ms"] for r in rs)
        summary[name] = {
            "wall_ms_min": wall[0],
            "wall_ms_median": wall[len(wall) // 2],
            "cpu_ms_min": cpu[0],
            "cpu_ms_median": cpu[len(cpu) // 2],
            "epoch_s_from_min": wall[0] * STEPS_PER_EPOCH / 1e3,
        }
    print(
        f"LeNet-5 steps, {args.blocks} rotating blocks of {args.block} (load {load0[0]:.1f} -> {load1[0]:.1f}, "
        f"torch threads {torch.get_num_threads()})"
    )
    print(f"{'impl':<14} {'wall min':>9} {'wall med':>9} {'cpu min':>9} {'cpu med':>9}  ms/step")
    for name, s in summary.items():
        print(
            f"{name:<14} {s['wall_ms_min']:>9.2f} {s['wall_ms_median']:>9.2f} {s['cpu_ms_min']:>9.2f} "
            f"{s['cpu_ms_median']:>9.2f}"
        )
    t = summary.get("torch-cpu")
    for name, g in summary.items():
        if t is not None and name != "torch-cpu":
            print(
                f"{name} / torch: wall min {g['wall_ms_min'] / t['wall_ms_min']:.2f}x, wall median "
                f"{g['wall_ms_median'] / t['wall_ms_median']:.2f}x, cpu min {g['cpu_ms_min'] / t['cpu_ms_min']:.2f}x"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"load": [load0, load1], "blocks": rows, "summary": summary, "torch_threads": torch.get_num_threads()},
                f,
                indent=1,
            )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
