"""The page's time to "Ready" (first and repeat visit: service-worker cache) and the time from "Ready" to the first
drawn digit's prediction, for two ways of starting the digit pad, alternating fresh browser contexts in one run:

- ``cpu-first`` (the default on a software adapter): Ready without any GPU warm-up; the pad computes on gpuml's
  python backend until its WebGPU kernels have compiled in the background, then switches (the time of the switch
  after Ready is recorded: ``pad_gpu_after_ready_ms``);
- ``before`` (``?warm=before``, the page before this change): the pad's WebGPU path is warmed before Ready.

Main-thread long tasks after Ready are recorded too, and the worker's Python calls up to the first prediction
(which calls the first digit waited for).

    .venv/bin/python benchmarks/bench_page_responsive.py [--rounds 3] [--out benchmarks/page_responsive.json]
        [--query snapshot=0]   (extra page parameters for every load)

Headless Debian chromium (gpuml.webbuild.CHROMIUM_ARGS; SwiftShader where there is no GPU); one site build and
one local server for the whole run. The load average is recorded beside every figure (the VM is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

# The pen path of a "7" in pad CSS pixels (280 x 280).
SEVEN = [(70, 60), (140, 60), (210, 60), (180, 130), (150, 200), (130, 250)]
FIRST_PREDICTION = """() => new Promise((resolve) => {
  const poll = () => gpumlPage.lastPrediction ? resolve(performance.now()) : setTimeout(poll, 5);
  poll();
})"""


def load() -> float:
    return os.getloadavg()[0]


def draw(page, pts):
    box = page.locator("#pad-canvas").bounding_box()
    s = box["width"] / 280

    def at(p):
        return box["x"] + p[0] * s, box["y"] + p[1] * s

    page.mouse.move(*at(pts[0]))
    page.mouse.down()
    for p in pts[1:]:
        page.mouse.move(*at(p), steps=3)
    page.mouse.up()


MODES = {"cpu-first": "", "before": "?warm=before"}


def _with(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query if query else url


def first_digit(chrome, url, mode: str, switch_timeout_s: float = 180, query: str = "") -> dict:
    """A fresh context: TTI, then a "7" drawn with the mouse at once; ms from Ready to its prediction; then (mode
    cpu-first) the ms from Ready until the pad has switched to WebGPU."""
    context = chrome.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.goto(_with(url + MODES[mode], query))
    page.wait_for_function("window.gpumlPage && gpumlPage.tti_ms !== null", timeout=300_000, polling=5)
    page.locator("#pad-canvas").scroll_into_view_if_needed()
    draw(page, SEVEN)
    up = page.evaluate("performance.now()")  # the pen is up: what is left is the page's own work
    t = page.evaluate(FIRST_PREDICTION)
    out = page.evaluate(
        "({tti: gpumlPage.tti_ms, worker: gpumlPage.worker.timings, warm: gpumlPage.worker.timings.warm_ms ?? null,"
        " label: gpumlPage.lastPrediction.label, text: gpumlPage.lastPrediction.verdict.text,"
        " device: gpumlPage.lastPrediction.device,"
        " long: gpumlPage.longTasks.filter((r) => r.start > gpumlPage.tti_ms).map((r) => r.ms)})"
    )
    out.update(mode=mode, first_prediction_after_ready_ms=t - out["tti"], load=load())
    out.update(drawing_ms=up - out["tti"], prediction_after_pen_up_ms=t - up)
    timeline = page.evaluate("gpumlCall('worker_calls')")
    first = next((c for c in timeline["calls"] if c["fn"] == "pad_predict"), None)
    r = timeline["ready"]
    out["calls_before_first_prediction"] = [
        {"fn": c["fn"], "start": round(c["start"] - r), "ms": round(c["end"] - c["start"])}
        for c in timeline["calls"]
        if first and c.get("end") and c["start"] <= first["start"]
    ]
    out["pad_gpu_after_ready_ms"] = None
    if mode == "cpu-first":
        try:
            page.wait_for_function("gpumlPage.padDevice === 'browser'", timeout=switch_timeout_s * 1000, polling=50)
            out["pad_gpu_after_ready_ms"] = page.evaluate("performance.now()") - out["tti"]
        except Exception:  # not switched within the timeout (a loaded VM): recorded as None
            pass
    context.close()
    return out


def visits(chrome, url, query: str = "") -> dict:
    """First visit (fresh context) and repeat visit (same context: the service worker's cache) TTI."""
    context = chrome.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.goto(_with(url, query))
    page.wait_for_function("window.gpumlPage && gpumlPage.tti_ms !== null", timeout=300_000, polling=5)
    first, l1 = page.evaluate("gpumlPage.tti_ms"), load()
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)", timeout=120_000)
    page.wait_for_function(
        "caches.keys().then(async (ks) => ks.length > 0 && (await (await caches.open(ks[0])).keys()).length > 20)",
        timeout=120_000,
    )
    page.close()
    page = context.new_page()
    page.goto(_with(url, query))
    page.wait_for_function("window.gpumlPage && gpumlPage.tti_ms !== null", timeout=300_000, polling=5)
    repeat = page.evaluate("gpumlPage.tti_ms")
    context.close()
    return {"first_tti_ms": first, "first_load": l1, "repeat_tti_ms": repeat, "repeat_load": load()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "page_responsive.json"))
    ap.add_argument("--query", default="", help="extra page parameters for every load, e.g. snapshot=0")
    args = ap.parse_args(argv)
    from page_site import model_path
    from playwright.sync_api import sync_playwright

    from gpuml.webbuild import CHROMIUM_ARGS, build_site, make_server

    tmp = Path(tempfile.mkdtemp(prefix="gpuml-web-bench-"))
    build_site(tmp / "site", model_path(), log=lambda *a: None)
    server = make_server(tmp / "site", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "query": args.query, "first_digit": []}
    result["visits"] = []
    try:
        with sync_playwright() as pw:
            chrome = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
            for r in range(args.rounds):
                for mode in list(MODES)[:: 1 if r % 2 == 0 else -1]:  # alternate which goes first
                    row = first_digit(chrome, url, mode, query=args.query)
                    keys = ("mode", "tti", "first_prediction_after_ready_ms", "prediction_after_pen_up_ms", "device")
                    keys += ("pad_gpu_after_ready_ms",)
                    keys += ("load", "long")
                    print(json.dumps({k: row[k] for k in keys}))
                    result["first_digit"].append(row)
                row = visits(chrome, url, args.query)
                print(json.dumps(row))
                result["visits"].append(row)
            chrome.close()
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
