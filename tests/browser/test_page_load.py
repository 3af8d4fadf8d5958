"""What a first and a repeat visit of the page cost: bytes on the wire (the server's own tally, which includes the
service worker's precache), that the training set is not among them, and the time to "Ready".

Budgets asserted here are sizes (deterministic): first visit <= 6 MB with the precompressed assets. Times are
recorded to test-artifacts/web/load.json (benchmark figures, not asserted).
"""

from __future__ import annotations

import json

from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

FIRST_VISIT_BUDGET = 6_000_000


def _visit(chrome, site, context=None):
    console: list = []
    site["server"].sent.clear()
    if context is None:
        context, page = open_page(chrome, site["url"], console)
    else:
        page = context.new_page()
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.console = console
        page.goto(site["url"])
    state = wait_ready(page)
    assert state["ready"], state
    # the service worker's precache completes the first visit
    wait(page, "navigator.serviceWorker.ready.then(() => true)", timeout=120_000)
    page.wait_for_function(
        "caches.keys().then(async (ks) => ks.length > 0 && (await (await caches.open(ks[0])).keys()).length > 20)",
        timeout=120_000,
    )
    return context, page, state, list(site["server"].sent), console


def test_first_and_repeat_visit(chrome, site):
    context, page, first, sent, console = _visit(chrome, site)
    first_bytes = sum(n for _, n in sent)
    paths = [p for p, _ in sent]
    assert not any("mnist_train_" in p for p in paths), "the training set must be fetched only when training starts"
    assert any(p.endswith("pyodide.asm.wasm") for p in paths)
    page.close()
    _, _, repeat, sent2, _ = _visit(chrome, site, context)
    repeat_bytes = sum(n for _, n in sent2)
    result = {
        "first_visit_bytes": first_bytes,
        "first_visit_requests": len(sent),
        "largest": sorted(sent, key=lambda r: -r[1])[:6],
        "first_tti_ms": first["tti"],
        "repeat_visit_bytes": repeat_bytes,
        "repeat_tti_ms": repeat["tti"],
        "build_estimate": site["info"]["transfer_bytes"],
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(result, indent=1))
    assert console_errors(console) == []
    assert first_bytes <= FIRST_VISIT_BUDGET, result
    assert repeat_bytes < 200_000, result  # the service worker answers; only revalidations reach the server
    context.close()
