# The page's default training run, start to done, in headless Chromium (SwiftShader where there is no GPU): clicks
# Start at the defaults and waits until the run stops by itself. Writes benchmarks/page_train_default.json (setup,
# test accuracy at each evaluation, median ms/step, wall time, load). Takes minutes: run it by hand, not in tests.
# Usage: .venv/bin/python benchmarks/page_train_default.py
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from page_site import build_and_serve, open_page, wait, wait_ready  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from gpuml.webbuild import CHROMIUM_ARGS  # noqa: E402


def main() -> None:
    load = [os.getloadavg()[0]]
    site = build_and_serve()
    info = next(site)
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
        context, page = open_page(chrome, info["url"])
        ready = wait_ready(page, timeout=180_000)
        adapter = ready["adapter"]
        t0 = time.perf_counter()
        page.click("#train-start")
        wait(page, "gpumlPage.train && gpumlPage.train.done === true", timeout=1_500_000)
        wall = time.perf_counter() - t0
        load.append(os.getloadavg()[0])
        run = page.evaluate("gpumlPage.train")
        text = page.inner_text("#train-info")
        page.locator("#train").screenshot(path=str(ROOT / "test-artifacts" / "web" / "train_default_done.png"))
        context.close()
        chrome.close()
    site.close()
    steps = run["steps"]
    out = {
        "wall_s": wall,
        "adapter": adapter,
        "load": [*load, os.getloadavg()[0]],
        "setup": run["setup"],
        "tests": [[s["step"], s["test_acc"]] for s in steps if s["test_acc"] is not None],
        "ms_per_step_median": statistics.median(s["ms_per_step"] for s in steps),
        "n_steps": steps[-1]["step"],
        "info": text,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (ROOT / "benchmarks" / "page_train_default.json").write_text(json.dumps(out))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
