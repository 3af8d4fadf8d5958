"""k-means and augmentation start their GPU work when their section first comes near the viewport or on the first
interaction with it, not at page start (where it competed with the digit pad's background WebGPU compiles): after
Ready, with the page at the top, neither has called Python; focusing an augmentation control without scrolling
(keyboard / screen-reader users) makes the gallery (k-means still waits); scrolling to k-means starts its first run
(drawn: the first k-means++ centre). The same without WebGPU (?gpu=off). Screenshots: test-artifacts/web/lazy_*.png."""

from __future__ import annotations

import time

import pytest
from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

LAZY = ("kmeans_start", "kmeans_step", "kmeans_sweep_start", "augment_run", "augment_catalog")


def _called(page):
    return [c["fn"] for c in page.evaluate("gpumlCall('worker_calls')")["calls"]]


@pytest.mark.parametrize("query", ["", "?gpu=off"])
def test_demos_start_near_the_viewport(chrome, site, query):
    context, page = open_page(chrome, site["url"] + query)
    try:
        info = wait_ready(page, timeout=300_000)
        assert info["ready"], info
        time.sleep(2.5)  # past the worker's 1 s start grace: eager demos would have called Python by now
        assert page.evaluate("window.scrollY") == 0
        assert [f for f in _called(page) if f in LAZY] == []
        assert page.evaluate("gpumlPage.kmeans === null && gpumlPage.augment === null")
        assert page.inner_text("#km-info") == "The first run starts when this demo comes into view."

        # the augmentation section by keyboard focus alone (the page stays at the top)
        page.evaluate("document.getElementById('aug-seed').focus({preventScroll: true})")
        wait(page, "gpumlPage.augment !== null && gpumlPage.augment.shape[0] === 9", timeout=240_000)
        assert page.evaluate("gpumlPage.augment.seed") == 0
        assert _called(page).count("augment_catalog") == 1
        assert page.evaluate("window.scrollY") == 0 and page.evaluate("gpumlPage.kmeans === null")
        page.locator("#augment").screenshot(path=str(ARTIFACTS / f"lazy_augment{query.replace('?', '_')}.png"))

        page.locator("#kmeans").scroll_into_view_if_needed()
        wait(page, "gpumlPage.kmeans && gpumlPage.kmeans.revealed === 1", timeout=240_000)
        assert page.evaluate("gpumlPage.kmeans.k") == 5
        assert "k = 5" in page.inner_text("#km-info")
        page.locator("#kmeans").screenshot(path=str(ARTIFACTS / f"lazy_kmeans{query.replace('?', '_')}.png"))
        assert _called(page).count("kmeans_start") == 1  # one first run, whichever trigger came first

        assert page.evaluate("gpumlPage.errors") == [] and console_errors(page.console) == []
    finally:
        context.close()
