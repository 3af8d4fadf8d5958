"""The page's convolution benchmark panel, run headless: for each layer shape, direct / im2col / Winograd F(2,3) /
F(4,3) on the page's adapter (warm medians of the panel's timed runs, the kernel that ran, max |diff| from direct),
and the speedups over direct. Writes benchmarks/page_convbench.json.

    .venv/bin/python benchmarks/bench_page_convbench.py [--shapes 0,2] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="0,2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "page_convbench.json"))
    args = ap.parse_args()
    from page_site import build_and_serve, open_page, wait, wait_ready
    from playwright.sync_api import sync_playwright

    from gpuml.webbuild import CHROMIUM_ARGS

    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": os.getloadavg(), "shapes": []}
    gen = build_and_serve()
    site = next(gen)
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
        context, page = open_page(chrome, site["url"])
        info = wait_ready(page)
        result["adapter"] = info["adapter"]
        wait(page, "document.querySelectorAll('#cb-shape option').length > 0")
        for i, shape in enumerate(int(s) for s in args.shapes.split(",")):
            page.select_option("#cb-shape", str(shape))
            page.fill("#cb-runs", str(args.runs))
            page.click("#cb-run")
            wait(page, f"gpumlPage.convbench.runs === {i + 1}", timeout=1_200_000)
            d = page.evaluate("gpumlPage.convbench.last")
            direct = d["results"][0]["ms"]
            rows = [{k: r[k] for k in ("algo", "kernel", "ms", "runs", "max_abs_diff", "max_abs_out")}
                    | {"speedup": direct / r["ms"]} for r in d["results"]]  # fmt: skip
            result["shapes"].append({"shape": d["info"]["shapes"][shape], "results": rows})
            line = " ".join(f"{r['algo']} {r['ms']:.1f} ms ({r['speedup']:.2f}x)" for r in rows)
            print(d["info"]["shapes"][shape], line)
        context.close()
        chrome.close()
    result["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"adapter {result['adapter']}; load {result['load_before']} -> {result['load_after']}; wrote {args.out}")
    try:
        next(gen)
    except StopIteration:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
