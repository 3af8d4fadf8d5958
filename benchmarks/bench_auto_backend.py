"""The README's main job (``gpuml train mnist --model lenet5``) before and after ``auto`` chose per workload
(issue 20.2), in alternating fresh processes: "before" is today's default on a machine whose only adapter is a
software one (the adapter: ``GPUML_BACKEND=native``, the code path auto took before), "after" is ``auto`` (no
GPUML_BACKEND) with a tune cache that has no auto-backend choice yet, so the first "after" run includes the one-time
measurement and later ones reuse it. Each run records its per-epoch seconds (the Trainer's own timer), its process
wall time, its test accuracy, the backend it printed and the load average before and after.

    python benchmarks/bench_auto_backend.py [--epochs 2] [--pairs 3] [--subset N] [--blas1] [--json FILE]

``--subset N`` trains on N images per epoch (per-epoch figures are then also given scaled to the 60,000-image epoch);
``--blas1`` adds a third side, "after, 1 BLAS thread" (auto with OPENBLAS_NUM_THREADS=1, its own tune cache): numpy's
two OpenBLAS threads stall when other processes hold the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh_cache(path: Path) -> None:
    """A copy of the user's tune cache (the same kernel variant choices) without any auto-backend choice."""
    src = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gpuml" / "tune.json"
    data = json.loads(src.read_text()) if src.exists() else {}
    data = {scope: {k: v for k, v in ch.items() if "auto-backend" not in k} for scope, ch in data.items()}
    path.write_text(json.dumps(data))


SIDES = {
    "before": {"GPUML_BACKEND": "native"},
    "after": {},
    "after, 1 BLAS thread": {"OPENBLAS_NUM_THREADS": "1"},
}


def run(label: str, epochs: int, out: Path, cache: Path, subset: int | None) -> dict:
    env = {**os.environ, "GPUML_TUNE_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("GPUML_BACKEND", None)
    env.update(SIDES[label])
    cmd = [sys.executable, "-m", "gpuml", "train", "mnist", "--model", "lenet5", "--epochs", str(epochs)]
    cmd += ["--out", str(out), "--no-progress"] + (["--subset", str(subset)] if subset else [])
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{label}: {proc.stderr.strip()[-500:]}")
    history = json.loads((out / "history.json").read_text())["history"]
    backend = re.search(r"^backend (\w+)", proc.stdout, re.M).group(1)
    row = {
        "label": label,
        "backend": backend,
        "epoch_s": [round(h["seconds"], 2) for h in history],
        "process_wall_s": round(wall, 1),
        "test_accuracy": history[-1]["test_accuracy"],
        "load_before": round(load0, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "notice": proc.stderr.strip(),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--blas1", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    labels = [k for k in SIDES if args.blas1 or "BLAS" not in k]
    with tempfile.TemporaryDirectory(prefix="gpuml-auto-") as tmp:
        caches = {label: Path(tmp) / f"tune{i}.json" for i, label in enumerate(labels)}
        for cache in caches.values():
            fresh_cache(cache)
        rows = []
        for i in range(args.pairs):
            order = labels[i % len(labels) :] + labels[: i % len(labels)]  # rotate who goes first
            for label in order:
                rows.append(run(label, args.epochs, Path(tmp) / f"run{i}-{len(rows)}", caches[label], args.subset))
        auto = {}
        for label, cache in caches.items():
            for _scope, ch in json.loads(cache.read_text()).items():
                found = {k: v for k, v in ch.items() if "auto-backend" in k}
                if found:
                    auto[label] = found

    def per_epoch(label, first):  # first=1: epochs after the first (which includes the shader compiles)
        return [e for r in rows if r["label"] == label for e in r["epoch_s"][first:]]

    summary = {}
    scale = 60_000 / args.subset if args.subset else 1.0
    for label in labels:
        epochs, later = per_epoch(label, 0), per_epoch(label, 1) or per_epoch(label, 0)
        summary[label] = {
            "median_epoch_s": sorted(epochs)[len(epochs) // 2],
            "median_later_epoch_s": sorted(later)[len(later) // 2],
            "min_epoch_s": min(epochs),
            "median_later_epoch_s_full_epoch": round(sorted(later)[len(later) // 2] * scale, 1),
            "process_wall_s": [r["process_wall_s"] for r in rows if r["label"] == label],
            "test_accuracy": [r["test_accuracy"] for r in rows if r["label"] == label],
        }
    for label in labels[1:]:
        summary[f"speedup {label}"] = round(summary["before"]["median_epoch_s"] / summary[label]["median_epoch_s"], 2)
    result = {
        "command": f"gpuml train mnist --model lenet5 --epochs {args.epochs} --no-progress"
        + (f" --subset {args.subset}" if args.subset else ""),
        "sides": {k: SIDES[k] for k in labels},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "runs": rows,
        "summary": summary,
        "auto_choices_stored": auto,
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
