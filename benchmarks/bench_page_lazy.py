"""The page's k-means / augmentation start and k-means' main-thread work, A/B in one run: the page files of a base
commit ("before": web/site/{demos/kmeans.js, demos/augment.js, style.css}; index.html is the working tree's in
both: its edits in this work are text only, and others' edits there would confound the A/B) against the working
tree ("after"), alternating fresh pages on two local servers. Per page: time to Ready; ms from Ready until the digit pad
has switched to WebGPU (page left at the top; the calls made meanwhile); then a Chromium trace of the renderer main
thread for (A) scrolling to k-means + 4 s (its first run and the elbow/silhouette sweep) and (B) Play at 60 steps/s
for 3 s + Pause: tasks, frames (BeginMainFrame) and their thread-CPU ms, the largest task, and long tasks.

    .venv/bin/python benchmarks/bench_page_lazy.py --base fd6b6c6~1 [--rounds 2] [--out benchmarks/page_lazy_ab.json]

Headless Debian chromium (gpuml.webbuild.CHROMIUM_ARGS; SwiftShader where there is no GPU). The load average is
recorded beside every row (the VM is shared)."""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from page_site import build_and_serve  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from gpuml.webbuild import CHROMIUM_ARGS  # noqa: E402

RUN = ("RunTask", "ThreadControllerImpl::RunTask")


def tasks_of(raw, t_from=None):
    ev = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    ev = ev["traceEvents"] if isinstance(ev, dict) else ev
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e.get("name") == "thread_name"}
    mains = [k for k, v in names.items() if v == "CrRendererMain"]
    tasks = []
    rafs = collections.Counter()
    for key in mains:
        evs = sorted((e for e in ev if (e["pid"], e["tid"]) == key and e.get("ph") == "X"), key=lambda e: e["ts"])
        ts = [e["ts"] for e in evs]
        for r in (e for e in evs if e["name"] in RUN):
            s, d = r["ts"], r.get("dur", 0)
            kids = collections.Counter()
            i = bisect.bisect_left(ts, s)
            while i < len(evs) and evs[i]["ts"] < s + d:
                e = evs[i]
                i += 1
                if e is r or e["name"] in RUN:
                    continue
                nm = e["name"]
                data = e.get("args", {}).get("data", {}) or {}
                if nm == "FunctionCall":
                    nm += (
                        ":"
                        + str(data.get("functionName", ""))
                        + "@"
                        + str(data.get("url", "")).split("/")[-1]
                        + ":"
                        + str(data.get("lineNumber", ""))
                    )
                if nm == "EventDispatch":
                    nm += ":" + str(data.get("type", ""))
                if nm == "TimerFire" or nm == "FireAnimationFrame":
                    nm += ":" + str(data.get("id", data.get("timerId", "")))
                kids[nm] += e.get("tdur", e.get("dur", 0)) / 1e3
            tasks.append(
                {
                    "pid": key[0],
                    "ts": s,
                    "ms": d / 1e3,
                    "cpu_ms": r.get("tdur", 0) / 1e3,
                    "top": [(k, round(v, 1)) for k, v in kids.most_common(8)],
                }
            )
        for e in evs:
            if e["name"] == "FunctionCall":
                data = e.get("args", {}).get("data", {}) or {}
                rafs[
                    (data.get("functionName", ""), str(data.get("url", "")).split("/")[-1], data.get("lineNumber"))
                ] += 1
    return tasks, rafs


FILES = ["demos/kmeans.js", "demos/augment.js", "style.css"]
CATS = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "toplevel",
    "disabled-by-default-devtools.timeline.frame",
    "blink",
    "cc",
]
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--base", required=True, help="git ref whose page files are the 'before' tree")
ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--out", default=str(ROOT / "benchmarks" / "page_lazy_ab.json"))
args = ap.parse_args()
BASE, rounds, out_path = args.base, args.rounds, args.out
sites, gens = {}, []
for tag in ("before", "after"):
    g = build_and_serve()
    site = next(g)
    gens.append(g)
    sites[tag] = site
    if tag == "before":
        for f in FILES:
            old = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{BASE}:web/site/{f}"], capture_output=True, check=True
            ).stdout
            (site["dir"] / f).write_bytes(old)
            for twin in (".br", ".gz"):
                (site["dir"] / (f + twin)).unlink(missing_ok=True)
        (site["dir"] / "demos" / "lazy.js").unlink(missing_ok=True)


def summary(raw):
    tasks, _ = tasks_of(raw)
    seen = set()
    u = []
    for t in tasks:
        if t["ts"] in seen:
            continue
        seen.add(t["ts"])
        u.append(t)
    frames = [t["cpu_ms"] for t in u if any(k == "ProxyMain::BeginMainFrame" for k, _ in t["top"])]
    return {
        "tasks": len(u),
        "frames": len(frames),
        "frame_cpu_median": round(statistics.median(frames), 2) if frames else None,
        "task_cpu_max": round(max(t["cpu_ms"] for t in u), 2),
        "task_wall_max": round(max(t["ms"] for t in u), 1),
        "main_cpu_ms": round(sum(t["cpu_ms"] for t in u), 1),
    }


rows = []
with sync_playwright() as pw:
    b = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
    for r in range(rounds):
        for tag in ("before", "after") if r % 2 == 0 else ("after", "before"):
            ctx = b.new_context(viewport={"width": 1300, "height": 1000})
            page = ctx.new_page()
            page.goto(sites[tag]["url"])
            page.wait_for_function("window.gpumlPage && gpumlPage.tti_ms !== null", timeout=300_000, polling=100)
            row = {
                "tree": tag,
                "round": r,
                "load_start": round(os.getloadavg()[0], 2),
                "tti_ms": round(page.evaluate("gpumlPage.tti_ms")),
            }
            try:
                page.wait_for_function("gpumlPage.padDevice === 'browser'", timeout=180_000, polling=100)
                row["pad_webgpu_after_ready_ms"] = round(page.evaluate("performance.now() - gpumlPage.tti_ms"))
            except Exception:
                row["pad_webgpu_after_ready_ms"] = None
            calls = page.evaluate("gpumlCall('worker_calls')")["calls"]
            row["calls_until_switch"] = {f: sum(c["fn"] == f for c in calls) for f in sorted({c["fn"] for c in calls})}
            n0 = page.evaluate("gpumlPage.longTasks.length")
            b.start_tracing(page=page, categories=CATS)
            page.locator("#kmeans").scroll_into_view_if_needed()
            time.sleep(4)
            row["A_scroll_4s"] = summary(b.stop_tracing())
            page.wait_for_function(
                "gpumlPage.kmeans && gpumlPage.kmeans.revealed === 1 && gpumlPage.kmeansSweep && "
                "gpumlPage.kmeansSweep.done",
                timeout=300_000,
                polling=200,
            )
            page.evaluate(
                "() => { const s = document.getElementById('km-speed'); s.value = '6'; "
                "s.dispatchEvent(new Event('input')); }"
            )
            time.sleep(0.5)
            s0 = page.evaluate("gpumlPage.kmeans.steps.length")
            b.start_tracing(page=page, categories=CATS)
            page.click("#km-play")
            time.sleep(3)
            page.click("#km-play")
            time.sleep(0.5)
            row["B_play60_3s"] = summary(b.stop_tracing())
            row["B_play60_3s"]["steps"] = page.evaluate("gpumlPage.kmeans.steps.length") - s0
            row["longtasks_ms"] = page.evaluate(f"gpumlPage.longTasks.slice({n0}).map(t => Math.round(t.ms))")
            row["load_end"] = round(os.getloadavg()[0], 2)
            print(json.dumps(row), flush=True)
            rows.append(row)
            ctx.close()
    b.close()
for g in gens:
    g.close()
json.dump(
    {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "base": BASE, "rows": rows},
    open(out_path, "w"),
    indent=1,
)
