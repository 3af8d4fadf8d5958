"""Where the Trainer's per-step time goes next to bench_train.py's own step loop: the same model, optimizer, batch
and data in one process, in alternating blocks (rotating which goes first), each side with its own warmed-up
Trainer.

Sides: "loop" is bench_train.py's loop (``Trainer.train_step`` on numpy batches, one readback at the end);
"train_epoch" is ``Trainer.train_epoch`` (the epoch of ``fit``/``gpuml train``: device-side loss and accuracy sums,
a checked readback every 50 steps); "fit_steps" is ``Trainer.fit_steps`` advanced as the web page does (one
readback per ``--page-every`` steps). Each reports ms/step, dispatches/step and readbacks/step.

    python benchmarks/bench_train_overhead.py [--subset 6400] [--blocks 3] [--backend native] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

import gpuml
from gpuml import bench, ops
from gpuml.backends import open_device
from gpuml.datasets import batches, mnist
from gpuml.train import TrainConfig, Trainer


def trainer(device, epochs: int = 1000) -> Trainer:
    cfg = TrainConfig(model="lenet5", optimizer="adam", batch_size=64, seed=0, epochs=epochs, schedule="none")
    return Trainer(cfg, device)


def side_loop(tr: Trainer, data) -> int:
    loss, n = None, 0
    for xb, yb in batches(data, 64, seed=0, epoch=tr.step_count):
        loss, _ = tr.train_step(xb, yb)
        n += 1
    float(loss.numpy())  # waits for the device
    return n


def side_epoch(tr: Trainer, data) -> int:
    tr.train_epoch(data)
    tr.epoch += 1
    return -(-len(data) // 64)


def make_fit_steps(page_every: int):
    def side(tr: Trainer, data) -> int:
        if not hasattr(tr, "_bench_run"):
            tr._bench_run = tr.fit_steps(data, progress=False, log=None)
        n, loss = 0, None
        for event in tr._bench_run:
            if event.record is not None:
                break
            loss = event.loss if loss is None else ops.add(loss, event.loss)
            n += 1
            if n % page_every == 0:
                loss.item()  # the page's readback per frame batch
                loss = None
        if loss is not None:
            loss.item()
        return n

    return side


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subset", type=int, default=6400)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--backend", default="native")
    ap.add_argument("--page-every", type=int, default=8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = open_device(args.backend)
    gpuml.set_device(device)
    data = mnist("train").subset(args.subset, seed=0)
    sides = {"loop": side_loop, "train_epoch": side_epoch, "fit_steps": make_fit_steps(args.page_every)}
    trainers = {name: trainer(device) for name in sides}
    for tr in trainers.values():  # warm-up: pipelines, pool
        for k, (xb, yb) in enumerate(batches(data, 64, seed=1, epoch=0)):
            tr.train_step(xb, yb)
            if k == 2:
                break
    device.sync()
    rows = {name: [] for name in sides}
    names = list(sides)
    for b in range(args.blocks):
        for name in names[b % len(names) :] + names[: b % len(names)]:
            stats0 = dict(device.memory_stats())
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            n = sides[name](trainers[name], data)
            seconds = time.perf_counter() - t0
            stats = device.memory_stats()
            row = {
                "block": b,
                "ms_per_step": seconds / n * 1e3,
                "steps": n,
                "dispatches_per_step": (stats.get("dispatches", 0) - stats0.get("dispatches", 0)) / n,
                "readbacks_per_step": (stats.get("readbacks", 0) - stats0.get("readbacks", 0)) / n,
                "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
            }
            rows[name].append(row)
            ms, dps, rps = row["ms_per_step"], row["dispatches_per_step"], row["readbacks_per_step"]
            print(f"block {b} {name:<12} {ms:7.2f} ms/step  {dps:.2f} dispatches/step  {rps:.3f} readbacks/step  "
                  f"load {row['load']}", flush=True)  # fmt: skip
    summary = {}
    for name, rs in rows.items():
        ms = [r["ms_per_step"] for r in rs]
        summary[name] = {"median_ms_per_step": statistics.median(ms), "min_ms_per_step": min(ms)}
    base = summary["loop"]["median_ms_per_step"]
    for name in names[1:]:
        summary[name]["vs_loop"] = summary[name]["median_ms_per_step"] / base
    print(json.dumps(summary, indent=1))
    if args.json:
        env = bench.environment([args.backend])
        out = {"environment": env, "args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "rows": rows, "summary": summary}  # fmt: skip
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
