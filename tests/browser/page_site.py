"""The built gpuml page (web/site via gpuml.webbuild) for browser tests: one site build and one HTTP server per
test session (fixtures ``site`` and ``chrome`` in conftest.py), and helpers to open the page and wait on it.

A demo's test module opens its own page with ``open_page(chrome, site)`` (a fresh context: no shared state with
other demos' tests), waits with ``wait(page, "<js condition>")`` and saves screenshots under ``ARTIFACTS``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"


def model_path() -> Path:
    from gpuml.webbuild import default_model

    shipped = default_model()
    if shipped is not None:
        return shipped
    out = Path(tempfile.mkdtemp(prefix="gpuml-web-model-"))  # no shipped model: a quick one
    from gpuml.cli import main

    main(["train", "mnist", "--epochs", "2", "--subset", "20000", "--out", str(out), "--no-progress"])
    return out / "model.npz"


def build_and_serve():
    """Build the site into a temp folder and serve it on a free port; yields {url, dir, info}."""
    from gpuml.webbuild import build_site, make_server

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="gpuml-web-"))
    info = build_site(out / "site", model_path(), log=lambda *a: None)
    server = make_server(out / "site", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        yield {"url": url, "dir": out / "site", "info": info, "server": server}
    finally:
        server.shutdown()
        shutil.rmtree(out, ignore_errors=True)


def open_page(chrome, url, console=None, width=1300, height=1000):
    """A fresh browser context and page on ``url`` (console messages collected in ``page.console``)."""
    console = [] if console is None else console
    context = chrome.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
    page.console = console
    page.goto(url)
    return context, page


def wait_ready(page, timeout=90_000):
    page.wait_for_function(
        "window.gpumlPage && (window.gpumlPage.tti_ms !== null || !!window.gpumlPage.worker)", timeout=timeout
    )
    return page.evaluate(
        "({tti: gpumlPage.tti_ms, ready: gpumlPage.ready, errors: gpumlPage.errors, "
        "adapter: gpumlPage.adapter, worker: gpumlPage.worker})"
    )


def wait(page, condition: str, timeout: float = 60_000):
    """wait_for_function that reports the page's errors and console tail when it times out. Polls every 100 ms
    (Playwright's default, every animation frame, is a main-thread callback ~60 times a second of its own)."""
    try:
        page.wait_for_function(condition, timeout=timeout, polling=100)
    except Exception as exc:
        errors = page.evaluate("gpumlPage.errors")
        tail = "\n".join(f"[{t}] {m}" for t, m in page.console[-15:])
        raise AssertionError(f"{condition!r} not reached: {exc}\npage errors: {errors}\nconsole:\n{tail}") from None


def console_errors(console):
    return [f"{t}: {m}" for t, m in console if t in ("error", "pageerror")]
