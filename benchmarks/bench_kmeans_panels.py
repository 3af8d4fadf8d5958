"""Native k-means window: frame times while the elbow/silhouette panels (k = 1..10 on a 2,000-point sample) are
computed, three ways in one process, alternating: "worker" (the demo's worker thread, gpuml cpu backend),
"render-thread" (one panel k fitted per frame on the render thread, the demo's former behaviour, on the WebGPU
device) and "none" (panels off: the frame cost alone). Offscreen frames (each includes the 1280x800 readback).
Writes benchmarks/kmeans_panels.json.

    .venv/bin/python benchmarks/bench_kmeans_panels.py [--rounds 2] [--points 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def run_mode(mode: str, points: int, max_frames: int = 400) -> dict:
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    app = App(load_demo("kmeans"), {"k": 5, "points": points, "speed": 10}, offscreen=True)
    demo, model = app.demo, app.demo.model
    if mode == "none":
        model.panels = False
        model.panel_generation += 1
    elif mode == "render-thread":
        last = [time.perf_counter()]

        def update():  # the former update: one panel k per frame, here
            now = time.perf_counter()
            model.advance(now - last[0], panels=True)
            last[0] = now

        demo.update = update
    times = []
    t_start = time.perf_counter()
    while len(times) < max_frames:
        t0 = time.perf_counter()
        app.canvas.draw()
        times.append(time.perf_counter() - t0)
        if mode != "none" and model.panel_next() is None:
            break
        if mode == "none" and len(times) >= 40:
            break
    wall = time.perf_counter() - t_start
    app.close()
    demo.close()
    t = np.asarray(times[1:]) * 1e3
    return {
        "mode": mode,
        "frames": len(times),
        "panels_done": model.panel_next() is None if mode != "none" else None,
        "panels_wall_s": wall if mode != "none" else None,
        "frame_ms_p50": float(np.percentile(t, 50)),
        "frame_ms_p90": float(np.percentile(t, 90)),
        "frame_ms_max": float(t.max()),
        "frames_over_50ms": int((t > 50).sum()),
        "suggested_k": model.suggested_k,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--out", default=str(Path(__file__).with_name("kmeans_panels.json")))
    args = ap.parse_args()
    import gpuml

    rows = []
    for r in range(args.rounds):
        for mode in ("none", "worker", "render-thread"):
            row = run_mode(mode, args.points)
            row["round"] = r
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "adapter": gpuml.get_device().adapter,
        "load_avg": os.getloadavg(),
        "points": args.points,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
