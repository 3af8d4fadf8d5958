"""Headless Chromium + Pyodide + navigator.gpu (SwiftShader where there is no GPU), driven by Playwright.

One browser session serves the whole module: web/ and the gpuml wheel over http.server on 127.0.0.1, Pyodide
loaded by web/test.html, gpuml installed with pyodide.unpackArchive and the browser device created through
gpuml's own selection (``gpuml.get_device()`` inside Pyodide, blocking with JSPI run_sync).

Skips (with the reason) where chromium, Playwright or web/node_modules/pyodide is missing, unless
GPUML_EXPECT_GPU=1, where the same reason fails the run. Results and timings go to test-artifacts/browser/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from gpuml.webbuild import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
PYODIDE = WEB / "node_modules" / "pyodide"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
HARNESS = Path(__file__).with_name("page_harness.py")
EXPECT_GPU = os.environ.get("GPUML_EXPECT_GPU") == "1"
# Setup code run in the page: gpuml's own backend selection picks "browser" inside Pyodide.
INIT = """
import json, gpuml
dev = gpuml.get_device()
json.dumps(dev.summary())
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def unavailable_reason() -> str | None:
    if not shutil.which("chromium"):
        return "chromium is not installed (Debian package `chromium`)"
    if not (PYODIDE / "pyodide.mjs").is_file():
        return f"{PYODIDE.relative_to(ROOT)} is missing: run `npm ci` in web/"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright; no browser download needed)"
    return None


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves web/ at / and the built wheel at /dist/."""

    dist: Path

    def translate_path(self, path):
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean.startswith("/dist/"):
            return str(self.dist / Path(clean).name)
        return super().translate_path(path)

    def log_message(self, *args):
        pass


class BrowserSession:
    """The page with Pyodide + gpuml loaded; ``run`` executes Python in it (runPythonAsync)."""

    def __init__(self, page, console: list[str]):
        self.page, self.console = page, console
        self.timings: dict[str, float] = {}
        self.info: dict = {}
        self.records: dict[str, object] = {}

    def run(self, code: str, input: str = "", timeout_s: float = 120):
        """Value of the last expression of ``code`` (a JSON string is decoded); Python errors raise here."""
        self.page.set_default_timeout(timeout_s * 1000)
        try:
            result = self.page.evaluate("([c, i]) => gpuml.run(c, i)", [code, input])
        except Exception as exc:
            raise RuntimeError(f"{exc}\n--- browser console (last 20) ---\n" + "\n".join(self.console[-20:])) from None
        value = result["value"]
        if isinstance(value, str) and value[:1] in "{[":
            value = json.loads(value)
        return value

    def run_plain(self, code: str):
        """Run under plain runPython, where JSPI (run_sync) is not allowed."""
        return self.page.evaluate("(c) => gpuml.runPlain(c)", code)


def require_browser() -> None:
    """Skip (or fail under GPUML_EXPECT_GPU=1) where the browser tests cannot run."""
    reason = unavailable_reason()
    if reason:
        if EXPECT_GPU:
            pytest.fail(f"GPUML_EXPECT_GPU=1 but the browser tests cannot run: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright driver for the whole session (a second sync_playwright() in one process fails)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def chromium_args() -> list[str]:
    return list(CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser(playwright_session):
    from gpuml.bundle import build_bundle

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dist = Path(tempfile.mkdtemp(prefix="gpuml-dist-"))
    t0 = time.perf_counter()
    wheel = build_bundle(dist)
    bundle_s = time.perf_counter() - t0
    handler = type("Handler", (SiteHandler,), {"dist": dist})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(WEB)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    console: list[str] = []
    pw = playwright_session
    session = None
    try:
        t0 = time.perf_counter()
        # Playwright gives every launch a fresh temporary user-data-dir.
        chrome = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
        page = chrome.new_page()
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        page.goto(f"{base}/test.html")
        page.wait_for_function("window.gpumlReady === true", timeout=30_000)
        session = BrowserSession(page, console)
        session.timings["browser_launch_s"] = time.perf_counter() - t0
        session.timings["bundle_build_s"] = bundle_s
        session.timings["bundle_bytes"] = wheel.stat().st_size
        loaded = page.evaluate("gpuml.load()")
        if not loaded["webgpu"]:
            raise RuntimeError("navigator.gpu is undefined in headless Chromium (needs --enable-unsafe-webgpu)")
        session.timings["pyodide_load_s"] = loaded["ms"] / 1e3
        session.timings["pyodide_version"] = loaded["version"]
        installed = page.evaluate("(u) => gpuml.install(u)", f"{base}/dist/{wheel.name}")
        session.timings["gpuml_install_s"] = installed["ms"] / 1e3
        t0 = time.perf_counter()
        session.info = session.run(INIT)
        session.timings["device_init_s"] = time.perf_counter() - t0
        session.run(HARNESS.read_text())
    except Exception as exc:
        server.shutdown()
        message = f"browser session setup failed: {exc}\n" + "\n".join(console[-20:])
        if EXPECT_GPU:
            pytest.fail(message)
        raise
    yield session
    try:
        page.screenshot(path=str(ARTIFACTS / "page.png"))
    except Exception:  # a crashed page still gets its JSON
        pass
    record = {"timings": session.timings, "device": session.info, **session.records, "console": console[-200:]}
    (ARTIFACTS / "results.json").write_text(json.dumps(record, indent=2, default=str))
    chrome.close()
    server.shutdown()
    shutil.rmtree(dist, ignore_errors=True)


@pytest.fixture(scope="session")
def site():
    """The built page, served on 127.0.0.1 for the whole session: {url, dir, info} (see page_site.py)."""
    require_browser()
    from page_site import build_and_serve

    yield from build_and_serve()


@pytest.fixture(scope="session")
def chrome(playwright_session, chromium_args):
    b = playwright_session.chromium.launch(executable_path=shutil.which("chromium"), args=chromium_args, headless=True)
    yield b
    b.close()
