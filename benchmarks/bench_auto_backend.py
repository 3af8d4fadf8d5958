"""The README's main job (``gpuml train mnist --model lenet5``) before and after ``auto`` chose per workload
(issue 20.2), in alternating fresh processes: "before" is today's default on a machine whose only adapter is a
software one (the adapter: ``GPUML_BACKEND=native``, the code path auto took before), "after" is ``auto`` (no
GPUML_BACKEND) with a tune cache that has no auto-backend choice yet, so the first "after" run includes the one-time
measurement and later ones reuse it. Each run records its per-epoch seconds (the Trainer's own timer), its process
wall time, its test accuracy, the backend it printed and the load average before and after.

    python benchmarks/bench_auto_backend.py [--epochs 2] [--pairs 3] [--json benchmarks/auto_backend.json]
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


def run(label: str, epochs: int, out: Path, cache: Path) -> dict:
    env = {**os.environ, "GPUML_TUNE_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("GPUML_BACKEND", None)
    if label == "before":
        env["GPUML_BACKEND"] = "native"
    cmd = [sys.executable, "-m", "gpuml", "train", "mnist", "--model", "lenet5", "--epochs", str(epochs)]
    cmd += ["--out", str(out), "--no-progress"]
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
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gpuml-auto-") as tmp:
        cache = Path(tmp) / "tune.json"
        fresh_cache(cache)
        rows = []
        for i in range(args.pairs):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for label in order:
                rows.append(run(label, args.epochs, Path(tmp) / f"{label}{i}", cache))
        choices = json.loads(cache.read_text())
    auto = {s: {k: v for k, v in ch.items() if "auto-backend" in k} for s, ch in choices.items()}

    def per_epoch(label):  # epochs after the first (the first includes compiles / the one-time measurement)
        return [e for r in rows if r["label"] == label for e in r["epoch_s"]]

    summary = {}
    for label in ("before", "after"):
        epochs = per_epoch(label)
        summary[label] = {
            "median_epoch_s": sorted(epochs)[len(epochs) // 2],
            "min_epoch_s": min(epochs),
            "test_accuracy": [r["test_accuracy"] for r in rows if r["label"] == label],
        }
    summary["speedup_median"] = round(summary["before"]["median_epoch_s"] / summary["after"]["median_epoch_s"], 2)
    result = {
        "command": f"gpuml train mnist --model lenet5 --epochs {args.epochs} --no-progress",
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
