"""The web page's numbers for issue 9: GPU time per kernel on SwiftShader (headless Chromium, timestamp queries in
the page) next to native lavapipe for the same workload, plus the page's own digit-prediction time and k-means
animation rate.

    .venv/bin/python benchmarks/bench_web_kernels.py [--repeats 3] [--json out.json]

The workload is gpuml.webbuild.workload.profile_workload (LeNet-5 forward at batch 1 and 64, a training step, a
k-means iteration, an augmentation batch): every dispatch runs alone under timestamp queries, so the figures
include each dispatch's fixed cost. Page and native runs alternate (``--repeats`` rounds) and each kernel's time
is the minimum over the rounds, because the machine is shared (the load average is printed). Prediction: the
page's predict_pixels on 60 MNIST test digits, 3 times (forward + one readback of 10 logits per image; median,
the first image of each run left out). Animation: 240 requestAnimationFrame-paced k-means frames
(kmeans_anim_bench), median frame interval and frames per second of wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpuml.webbuild import CHROMIUM_ARGS  # noqa: E402


def _min_rows(runs: list[list]) -> dict[str, list]:
    """{shader: [dispatches, min ms]} over runs of [[shader, dispatches, ms], ...]."""
    out: dict[str, list] = {}
    for rows in runs:
        for path, n, ms in rows:
            if path not in out or ms < out[path][1]:
                out[path] = [n, ms]
    return out


def _merge(runs: list[dict]) -> dict:
    sections = {}
    for name in runs[0]["by_section"]:
        sections[name] = {
            "total_ms": min(r["sections_gpu_ms"][name] for r in runs),
            "kernels": _min_rows([r["by_section"][name] for r in runs]),
        }
    return {"adapter": runs[0]["adapter"], "sections": sections}


def table(web: dict, native: dict) -> str:
    lines = [
        "| workload / kernel | dispatches | SwiftShader ms | lavapipe ms | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, sec in web["sections"].items():
        nat = native["sections"].get(name, {"total_ms": float("nan"), "kernels": {}})
        ratio = sec["total_ms"] / nat["total_ms"] if nat["total_ms"] else float("nan")
        lines.append(f"| **{name}** | | **{sec['total_ms']:.2f}** | **{nat['total_ms']:.2f}** | **{ratio:.1f}x** |")
        for path, (n, ms) in sorted(sec["kernels"].items(), key=lambda kv: -kv[1][1]):
            nms = nat["kernels"].get(path, [0, float("nan")])[1]
            lines.append(f"| {path} | {n} | {ms:.3f} | {nms:.3f} | {ms / nms if nms else float('nan'):.1f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    from playwright.sync_api import sync_playwright

    from gpuml.backends import open_device
    from gpuml.train import load_model
    from gpuml.webbuild import build_site, default_model, make_server
    from gpuml.webbuild.workload import profile_workload

    load0 = os.getloadavg()
    out = Path(tempfile.mkdtemp(prefix="gpuml-bench-web-"))
    info = build_site(out / "site", None, log=lambda *a: None)
    server = make_server(out / "site", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    native = open_device("native")
    model, _ = load_model(str(default_model()), native)
    web_runs, native_runs = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_function("window.gpumlPage && gpumlPage.ready === true", timeout=120_000)
        page.locator("#augment").scroll_into_view_if_needed()  # the gallery starts near the viewport
        page.wait_for_function("gpumlPage.augment !== null && gpumlPage.train !== null", timeout=120_000)
        for _ in range(args.repeats):
            web_runs.append(page.evaluate("gpumlCall('profile_kernels')"))
            native_runs.append(profile_workload(native, model))
        time.sleep(1.0)  # let this process's lavapipe / OpenBLAS threads park before timing the page
        predict = page.evaluate(
            "async () => { const d = await gpumlCall('mnist_test_pixels', 60); const ms = []; "
            "for (let r = 0; r < 3; r++) ms.push((await gpumlCall('predict_pixels', d.pixels)).ms); return ms; }"
        )
        time.sleep(1.0)
        anim = page.evaluate("gpumlCall('kmeans_anim_bench', 'uniform', 10, 240)")
        errors = page.evaluate("gpumlPage.errors")
        browser.close()
    server.shutdown()
    shutil.rmtree(out, ignore_errors=True)
    web, nat = _merge(web_runs), _merge(native_runs)
    frames = anim["frame_ms"]
    result = {
        "load_average_before_after": [load0, os.getloadavg()],
        "cpus": os.cpu_count(),
        "build": info["version"],
        "swiftshader": web,
        "lavapipe": nat,
        "predict_ms_per_image_median": statistics.median([v for run in predict for v in run[1:]]),
        "predict_ms_median_per_run": [statistics.median(run[1:]) for run in predict],
        "predict_ms_all": predict,
        "kmeans_animation": {
            "median_frame_ms": statistics.median(frames),
            "fps_from_median": 1000 / statistics.median(frames),
            "fps_wall": len(frames) / (sum(frames) / 1000),
            "frame_ms_p90": sorted(frames)[int(0.9 * len(frames))],
            "frames_over_20ms": sum(f > 20 for f in frames),
            "call_ms_median": statistics.median(anim["call_ms"]),
            "frames": len(frames),
            "restarts": anim["restarts"],
        },
        "page_errors": errors,
    }
    print(f"SwiftShader: {web['adapter']}\nlavapipe: {nat['adapter']}")
    print(f"load average {load0[0]:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)")
    print(table(web, nat))
    runs = ", ".join(f"{v:.2f}" for v in result["predict_ms_median_per_run"])
    print(f"predict: {result['predict_ms_per_image_median']:.2f} ms per image (median; 3 runs of 60 digits: {runs})")
    a = result["kmeans_animation"]
    print(
        f"k-means animation: median frame {a['median_frame_ms']:.1f} ms ({a['fps_from_median']:.1f} FPS), "
        f"{a['fps_wall']:.1f} frames/s over {a['frames']} frames (p90 {a['frame_ms_p90']:.1f} ms, "
        f"{a['frames_over_20ms']} over 20 ms), Python call {a['call_ms_median']:.1f} ms (median)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
