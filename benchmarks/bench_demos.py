"""Demo frame times and the digit pad's update latency, on the native backend (lavapipe when there is no GPU).

    python benchmarks/bench_demos.py [--frames 300] [--json benchmarks/demos.json]

Rows: k-means demo with 10,000 points, k = 8, in its benchmark mode (every frame: one Lloyd iteration, Voronoi
background, 10,000 points, panels; a converged run restarts from a new k-means++ init at once) offscreen
(includes rendercanvas's readback of the 1280x800 frame) and in a real glfw window under Xvfb when Xvfb is
installed (frame-to-frame interval, "glfw window/Xvfb"); the first frames, which also fit the elbow/silhouette
panels, are a row of their own. Then the digit pad's update (prediction + first-layer activations + Grad-CAM).
Times are p50/p95/max in ms. The 1-minute load average is printed at start and end: the machine may be shared.
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
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "max_ms": float(a.max()),
        "n": len(a),
    }


# Benchmark mode of the k-means demo: one Lloyd iteration every frame; on convergence a new k-means++ init starts
# with all centroids shown (so every frame iterates, never "converged, only rendering").
KMEANS = {"points": 10_000, "k": 8, "bench": True}
WINDOW_SCRIPT = """
import json, sys
from gpuml.demos import load_demo
from gpuml.demos.app import App
app = App(load_demo("kmeans"), json.loads(sys.argv[1]))
app.run(int(sys.argv[2]))
d = app.demo.model
out = {"frame_times": app.frame_times, "panel_frames": d.panel_frames, "iterations": d.state()["iterations"],
       "frames": app.frames, "resets": d.resets}
json.dump(out, open(sys.argv[3], "w"))
"""


def kmeans_rows(where: str, times: list[float], panel_frames: int, iterations: int, resets: int) -> list[dict]:
    """Steady frames (every one a Lloyd iteration) and, separately, the first frames, each of which also fits one
    k of the elbow/silhouette panels (k-means + silhouette on a 2,000-point sample)."""
    steady, first = times[panel_frames:], times[:panel_frames]
    if iterations < panel_frames + len(steady):
        raise RuntimeError(f"k-means bench: {iterations} Lloyd iterations in {panel_frames + len(steady)} frames")
    what = f"kmeans 10,000 points k=8, {where}, 1 Lloyd iteration/frame"
    rows = [{"what": f"{what} ({resets - 1} restarts)", **pct(steady)}]
    if first:
        rows.append({"what": f"{what}, first {len(first)} frames (+ panel fits)", **pct(first)})
    return rows


def kmeans_offscreen(frames: int) -> list[dict]:
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    app = App(load_demo("kmeans"), KMEANS, offscreen=True)
    times = []
    while len(times) < frames + app.demo.model.panel_frames or len(app.demo.model.panel_k) < 10:
        t0 = time.perf_counter()
        app.canvas.draw()  # update + draw + render + rendercanvas's readback of the 1280x800 frame
        times.append(time.perf_counter() - t0)
    d = app.demo.model
    iterations = d.state()["iterations"]
    app.close()
    return kmeans_rows("offscreen", times, d.panel_frames, iterations, d.resets)


def kmeans_window(frames: int) -> list[dict]:
    exe = shutil.which("Xvfb")
    if exe is None:
        return []
    n = next(i for i in range(90, 200) if not os.path.exists(f"/tmp/.X11-unix/X{i}"))
    xvfb = subprocess.Popen(
        [exe, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL
    )
    try:
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "frames.json")
            cmd = [sys.executable, "-c", WINDOW_SCRIPT, json.dumps(KMEANS), str(frames + 11), out]
            subprocess.run(cmd, env=dict(os.environ, DISPLAY=f":{n}"), check=True, capture_output=True, timeout=600)
            s = json.load(open(out))
        # frame_times[i] = start of frame i + 1 - start of frame i (the frame-to-frame interval)
        return kmeans_rows("glfw window/Xvfb", s["frame_times"], s["panel_frames"], s["iterations"], s["resets"])
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def digits_latency(updates: int) -> dict:
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    app = App(load_demo("digits"), {"sample": True}, offscreen=True)
    demo = app.demo.model
    demo.predict()  # warm-up: pipelines compiled
    demo.latencies.clear()
    rng = np.random.default_rng(0)
    for _ in range(updates):
        demo.stroke([tuple(rng.uniform(60, 220, 2))])  # the drawing changes, as while the mouse moves
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
    rows = kmeans_offscreen(args.frames) + kmeans_window(args.frames)
    rows.append(digits_latency(args.updates))
    load_end = os.getloadavg()[0]
    print(f"adapter: {device.adapter}; load average (1 min) {load:.2f} at start, {load_end:.2f} at end")
    print(f"{'what':<90} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'n':>4} {'FPS@p50':>8}")
    for r in rows:
        print(
            f"{r['what']:<90} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['max_ms']:>7.2f} {r['n']:>4} "
            f"{1e3 / r['p50_ms']:>8.1f}"
        )
    if args.json:
        env = {"adapter": device.adapter, "loadavg_1min": load, "loadavg_1min_end": load_end, "cpus": os.cpu_count()}
        with open(args.json, "w") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
