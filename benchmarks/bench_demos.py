"""Demo frame times and the digit pad's update latency, on the native backend (lavapipe when there is no GPU).

    python benchmarks/bench_demos.py [--frames 300] [--json benchmarks/demos.json]

Rows: k-means demo with 10,000 points offscreen (every frame: one Lloyd iteration, Voronoi background, 10,000
points, panels; includes rendercanvas's readback of the 1280x800 frame), the same in a real glfw window under
Xvfb when Xvfb is installed (frame-to-frame interval), and the digit pad's update (prediction + first-layer
activations + Grad-CAM) as p50/p95. The 1-minute load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")


def pct(values) -> dict:
    a = np.asarray(values, np.float64) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)), "n": len(a)}


def kmeans_offscreen(frames: int) -> dict:
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    app = App(load_demo("kmeans"), {"points": 10_000, "k": 8, "speed": 60}, offscreen=True)
    demo = app.demo
    while len(demo.panel_k) < 10:  # the elbow/silhouette panels fill in during the first frames
        app.canvas.draw()
    times = []
    for _ in range(frames):
        if demo.converged:  # keep iterating: a new k-means++ init, shown at once
            demo.reset()
            demo.revealed = demo.k
        demo._accum = 1.0  # exactly one Lloyd iteration per frame
        t0 = time.perf_counter()
        app.canvas.draw()
        times.append(time.perf_counter() - t0)
    app.close()
    return {"what": "kmeans 10,000 points, offscreen, 1 Lloyd iteration/frame", **pct(times)}


def kmeans_window(frames: int) -> dict | None:
    exe = shutil.which("Xvfb")
    if exe is None:
        return None
    n = next(i for i in range(90, 200) if not os.path.exists(f"/tmp/.X11-unix/X{i}"))
    xvfb = subprocess.Popen(
        [exe, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL
    )
    try:
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            state = os.path.join(tmp, "state.json")
            cmd = [sys.executable, "-m", "gpuml", "demo", "kmeans", "--frames", str(frames), "--state", state]
            subprocess.run(cmd, env=dict(os.environ, DISPLAY=f":{n}"), check=True, capture_output=True, timeout=600)
            s = json.load(open(state))
        return {
            "what": "kmeans 10,000 points, glfw window under Xvfb (frame-to-frame; converges then renders)",
            "p50_ms": s["frame_ms_p50"],
            "p95_ms": s["frame_ms_p95"],
            "n": s["frames"],
        }
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def digits_latency(updates: int) -> dict:
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    app = App(load_demo("digits"), {"sample": True}, offscreen=True)
    demo = app.demo
    demo.predict()  # warm-up: pipelines compiled
    demo.latencies.clear()
    rng = np.random.default_rng(0)
    for _ in range(updates):
        demo.stamp(*rng.uniform(60, 220, 2))  # the drawing changes, as while the mouse moves
        demo.predict()
    app.close()
    return {"what": "digit pad update: prediction + activations + Grad-CAM", **pct(demo.latencies)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--updates", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import gpuml

    device = gpuml.get_device()
    load = os.getloadavg()[0]
    rows = [kmeans_offscreen(args.frames)]
    window = kmeans_window(args.frames)
    if window:
        rows.append(window)
    rows.append(digits_latency(args.updates))
    print(f"adapter: {device.adapter}; load average (1 min) at start: {load:.2f} on {os.cpu_count()} cores")
    print(f"{'what':<88} {'p50 ms':>8} {'p95 ms':>8} {'FPS@p50':>8}")
    for r in rows:
        print(f"{r['what']:<88} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {1e3 / r['p50_ms']:>8.1f}")
    if args.json:
        env = {"adapter": device.adapter, "loadavg_1min": load, "cpus": os.cpu_count()}
        with open(args.json, "w") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
