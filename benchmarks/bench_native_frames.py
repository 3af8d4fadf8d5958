"""Frame times of every native demo window, offscreen: each demo in its own process draws N frames at its defaults
(each frame: update + draw + render + rendercanvas's readback of the 1280x800 frame) and reports p50/p95/max and
the frames over 50 ms after the first, with what the demo got done meanwhile (training steps, epochs, race steps).
The digit pad is drawn on while it runs (a stroke every frame, so predictions run on its worker thread).

    .venv/bin/python benchmarks/bench_native_frames.py [--frames 150] [--demos train,regularization]
        [--json benchmarks/native_frames.json] [--tree DIR --rounds 2] [--also-native]

``--tree DIR`` runs each demo from that source tree too (an older commit: ``git archive <commit> gpuml | tar -x -C
DIR``), alternating with the working tree ``--rounds`` times, so a before/after comparison sees the same load.
``--also-native`` also runs the working tree with ``GPUML_BACKEND=native`` (the training windows then train on
WebGPU, as on a GPU), alternating too. Each row names the backend the window trained on (``train_backend``).

The 1-minute load average is recorded before and after each demo: the machine may be shared, and a loaded
machine stretches every frame.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEMOS = ("digits", "kmeans", "augment", "train", "regularization", "optimizers")
OPTIONS = {"digits": {"sample": True, "live": True}}  # live: frames do not wait for predictions

CHILD = r"""
import json, math, sys, time
from gpuml.demos import load_demo
from gpuml.demos.app import App
name, frames, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
app = App(load_demo(name), json.loads(sys.argv[4]), offscreen=True)
times = []
for i in range(frames):
    if name == "digits":  # a pen stroke in progress: the ink changes every frame
        x, y = 250 + 120 * math.cos(i / 9), 280 + 150 * math.sin(i / 7)
        kind = "pointer_down" if i % 40 == 0 else "pointer_move"
        app.feed({"event_type": kind, "x": x, "y": y, "buttons": (1,), "modifiers": ()})
    t0 = time.perf_counter()
    app.canvas.draw()
    times.append(time.perf_counter() - t0)
state = app.demo.state()
app.close()
json.dump({"times": times, "state": state, "adapter": app.device.adapter}, open(out, "w"), default=float)
"""


def progress(name: str, state: dict) -> str:
    """What the demo got done in its frames, in words."""
    if name == "train":
        acc = state.get("test_accuracy")
        return (
            f"{state['step']} training steps, test accuracy {acc:.1%}" if acc is not None else f"{state['step']} steps"
        )
    if name == "regularization":
        return f"{state['epoch']} epochs of 4 runs"
    if name == "optimizers":
        return f"race step {state['steps']}" + (" (finished)" if state["finished"] else "")
    if name == "kmeans":
        return f"{state.get('iterations', state.get('n_iter'))} Lloyd iterations"
    if name == "digits":
        return f"{state.get('updates')} predictions"
    return ""


def run_demo(name: str, frames: int, tree: str | None = None, backend: str | None = None) -> dict:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    if backend:
        env["GPUML_BACKEND"] = backend
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "frames.json")
        load = os.getloadavg()[0]
        cmd = [sys.executable, "-c", CHILD, name, str(frames), str(out), json.dumps(OPTIONS.get(name, {}))]
        subprocess.run(cmd, check=True, timeout=1200, env=env, cwd=tmp)
        got = json.loads(out.read_text())
    t = np.asarray(got["times"], np.float64) * 1e3
    rest = t[1:]
    return {
        "demo": name,
        "tree": tree or "working tree",
        "gpuml_backend": backend or os.environ.get("GPUML_BACKEND", ""),
        "train_backend": got["state"].get("train_backend", "native" if name in ("train", "regularization") else None),
        "frames": len(t),
        "first_frame_ms": float(t[0]),
        "p50_ms": float(np.percentile(rest, 50)),
        "p95_ms": float(np.percentile(rest, 95)),
        "max_ms": float(rest.max()),
        "over_50ms": int((rest > 50).sum()),
        "progress": progress(name, got["state"]),
        "loadavg_1min_before": load,
        "loadavg_1min_after": os.getloadavg()[0],
        "adapter": got["adapter"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--demos", default=",".join(DEMOS))
    ap.add_argument("--json", default=str(Path(__file__).with_name("native_frames.json")))
    ap.add_argument("--tree", default=None, help="also run the demos from this source tree (before/after)")
    ap.add_argument("--rounds", type=int, default=1, help="runs per demo (and tree), alternating")
    ap.add_argument("--also-native", action="store_true", help="also run the working tree with GPUML_BACKEND=native")
    args = ap.parse_args()
    names = [n for n in args.demos.split(",") if n]
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        ap.error(f"unknown demo(s) {', '.join(unknown)}: choose from {', '.join(DEMOS)}")
    rows = []
    print(f"{'demo':<24} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'>50ms':>6} {'first':>7}  load   progress")
    variants = [(args.tree, None)] if args.tree else []
    variants += [(None, None)] + ([(None, "native")] if args.also_native else [])
    for name in names:
        for _ in range(args.rounds):
            for tree, backend in variants:
                row = run_demo(name, args.frames, tree, backend)
                rows.append(row)
                label = name + (" (before)" if tree else "") + (f" ({backend})" if backend else "")
                ms = f"{row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} {row['max_ms']:>7.1f} {row['over_50ms']:>6}"
                trained = f" [trains on {row['train_backend']}]" if row["train_backend"] else ""
                tail = f"{row['first_frame_ms']:>7.0f}  {row['loadavg_1min_before']:.1f}  {row['progress']}{trained}"
                print(f"{label:<24} {ms} {tail}", flush=True)
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "adapter": rows[0]["adapter"] if rows else None,
        "cpus": os.cpu_count(),
        "frames": args.frames,
        "before_tree": args.tree,
        "rows": rows,
    }
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
