"""The page's time to interactive (gpumlPage.tti_ms: navigation start -> the worker's "ready"), first visit and
repeat visits (service-worker cache), with and without the Pyodide memory snapshot (web/site/snapshot.js),
alternating fresh browser contexts in one run:

- ``snapshot`` (the default): the first visit imports gpuml_web and snapshots Python's memory (stored after Ready
  in the service worker's cache); a repeat visit restores it instead of booting CPython and importing gpuml;
- ``no-snapshot`` (``?snapshot=0``): every visit boots Pyodide and imports gpuml.

Issue 17.9's budget: <= 5 s first visit, <= 3 s repeat visit on localhost (headless chromium, SwiftShader).

    .venv/bin/python benchmarks/bench_page_tti.py [--rounds 3] [--repeats 2] [--query warm=0]
        [--out benchmarks/page_tti.json]

Headless Debian chromium (gpuml.webbuild.CHROMIUM_ARGS; SwiftShader where there is no GPU); one site build and
one local server for the whole run. The load average is recorded beside every figure (the VM is shared).
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
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT))

MODES = {"snapshot": "", "no-snapshot": "snapshot=0"}
SNAPSHOT_STORED = "caches.match('./__pyodide_snapshot__').then((r) => !!r)"
PRECACHED = "caches.keys().then(async (ks) => ks.length > 0 && (await (await caches.open(ks[0])).keys()).length > 20)"


def visit(context, url: str) -> dict:
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.gpumlPage && gpumlPage.tti_ms !== null", timeout=300_000, polling=5)
    r = page.evaluate(
        "({tti: gpumlPage.tti_ms, ok: gpumlPage.ready, errors: gpumlPage.errors, adapter: gpumlPage.adapter, "
        "w: gpumlPage.worker, dom: performance.getEntriesByType('navigation')[0].domInteractive})"
    )
    out = {
        "tti_ms": round(r["tti"]),
        "ok": r["ok"],
        "snapshot": r["w"].get("snapshot"),
        "worker": {k: round(v) for k, v in r["w"]["timings"].items() if isinstance(v, (int, float))},
        "dom_interactive_ms": round(r["dom"]),
        "load": round(os.getloadavg()[0], 2),
        "adapter": r["adapter"],
    }
    if r["errors"]:
        out["errors"] = r["errors"]
    return page, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="repeat visits per fresh context")
    ap.add_argument("--query", default="", help="extra page parameters for every load, e.g. warm=0")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "page_tti.json"))
    args = ap.parse_args(argv)

    from page_site import model_path
    from playwright.sync_api import sync_playwright

    from gpuml.webbuild import CHROMIUM_ARGS, build_site, make_server

    tmp = Path(tempfile.mkdtemp(prefix="gpuml-tti-"))
    info = build_site(tmp / "site", model_path(), log=lambda *a: None)
    server = make_server(tmp / "site", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    runs = {m: [] for m in MODES}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        with sync_playwright() as pw:
            chrome = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
            for rnd in range(args.rounds):
                order = list(MODES) if rnd % 2 == 0 else list(MODES)[::-1]
                for mode in order:
                    query = "&".join(q for q in (MODES[mode], args.query) if q)
                    url = base + (f"?{query}" if query else "")
                    context = chrome.new_context(viewport={"width": 1300, "height": 1000})
                    for v in range(1 + args.repeats):
                        page, out = visit(context, url)
                        out.update(round=rnd, visit="first" if v == 0 else "repeat")
                        if v == 0:  # the service worker's precache (and the snapshot) complete the first visit
                            page.wait_for_function("navigator.serviceWorker.ready.then(() => true)", timeout=120_000)
                            page.wait_for_function(PRECACHED, timeout=120_000)
                            if mode == "snapshot":
                                page.wait_for_function(SNAPSHOT_STORED, timeout=120_000, polling=200)
                        page.close()
                        runs[mode].append(out)
                        print(mode, json.dumps(out), flush=True)
                    context.close()
            chrome.close()
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    summary = {}
    for mode, rs in runs.items():
        for kind in ("first", "repeat"):
            t = [r["tti_ms"] for r in rs if r["visit"] == kind]
            p = [r["worker"].get("pyodide_ms") for r in rs if r["visit"] == kind]
            summary[f"{mode}/{kind}"] = {
                "tti_median_ms": statistics.median(t),
                "tti_ms": t,
                "pyodide_median_ms": statistics.median(p),
            }
    result = {
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "query": args.query,
        "build": info["version"],
        "adapter": next((r["adapter"] for rs in runs.values() for r in rs if r.get("adapter")), None),
        "budget_ms": {"first": 5000, "repeat": 3000},
        "summary": summary,
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    for k, s in summary.items():
        print(
            f"{k:24s} TTI median {s['tti_median_ms'] / 1000:.2f} s  (all {s['tti_ms']}), "
            f"Pyodide median {s['pyodide_median_ms'] / 1000:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
