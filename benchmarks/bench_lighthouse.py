"""Lighthouse (npm, pinned in benchmarks/lighthouse/package.json) on the built page, in the machine's headless
Chromium with WebGPU, served by gpuml's own server (precompressed assets) on localhost.

    (cd benchmarks/lighthouse && npm ci)   # once
    .venv/bin/python benchmarks/bench_lighthouse.py [--runs 3] [--preset desktop|mobile]

Writes benchmarks/lighthouse.json: per run the category scores (performance, accessibility, best practices) and
the performance metrics (FCP, LCP, TBT, CLS, Speed Index), the failed audits, the load average and the date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LH = ROOT / "benchmarks" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices")
METRICS = ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift",
           "speed-index", "interactive")  # fmt: skip


def run_lighthouse(url: str, out: Path, preset: str) -> dict:
    from gpuml.webbuild import CHROMIUM_ARGS

    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    cmd = [str(LH), url, "--output=json", f"--output-path={out}", f"--chrome-flags={flags}", "--quiet",
           f"--only-categories={','.join(CATEGORIES)}", "--max-wait-for-load=120000"]  # fmt: skip
    if preset == "desktop":
        cmd.append("--preset=desktop")
    env = dict(os.environ, CHROME_PATH=shutil.which("chromium") or "/usr/bin/chromium")
    subprocess.run(cmd, check=True, env=env, timeout=600)
    report = json.loads(out.read_text())
    cats = {k: round(100 * (report["categories"][k]["score"] or 0)) for k in CATEGORIES}
    metrics = {k: report["audits"][k].get("numericValue") for k in METRICS if k in report["audits"]}
    failed = sorted(
        f"{k}: {a['title']}"
        for k, a in report["audits"].items()
        if a.get("score") is not None and a["score"] < 0.9 and a.get("scoreDisplayMode") in ("binary", "numeric")
    )
    return {"scores": cats, "metrics_ms": metrics, "failed_audits": failed, "lighthouse": report["lighthouseVersion"],
            "user_agent": report["environment"]["hostUserAgent"]}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--preset", choices=("desktop", "mobile"), default="desktop")
    ap.add_argument("--site", help="an already built site folder (default: build one)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "lighthouse.json"))
    args = ap.parse_args(argv)
    if not LH.exists():
        print(f"{LH} is missing: run `npm ci` in benchmarks/lighthouse", file=sys.stderr)
        return 2
    from gpuml.webbuild import build_site, make_server

    tmp = Path(tempfile.mkdtemp(prefix="gpuml-lh-"))
    site = Path(args.site) if args.site else tmp / "site"
    if not args.site:
        build_site(site, log=lambda *a: None)
    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    runs = []
    for i in range(args.runs):
        load = os.getloadavg()
        r = run_lighthouse(url, tmp / f"run{i}.json", args.preset)
        r["load_before"] = [round(v, 2) for v in load]
        runs.append(r)
        print(f"run {i}: {r['scores']}  (load {r['load_before']})", flush=True)
    server.shutdown()
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "preset": args.preset,
        "url": "gpuml serve on localhost (precompressed assets)",
        "runs": runs,
        "median_scores": {k: sorted(r["scores"][k] for r in runs)[len(runs) // 2] for k in CATEGORIES},
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result["median_scores"]))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
