"""The page's regularization demo, driven like a user: Start at the defaults trains the four runs (none, L1, L2,
decoupled weight decay) on the site's MNIST subset; the L1 slider moved with the keyboard changes L1's λ while
training goes on (no restart); at the end the unregularised run's train-test gap is far larger than L2's and weight
decay's (the same numbers as native gpuml: same data, seeds and kernels), the histograms are drawn for all four
runs with L1 leaving the most near-zero weights, every Canvas 2D draw is short, and nothing overflows at 390 px.
Screenshots: test-artifacts/web/regularization_*.png."""

from __future__ import annotations

import io
import statistics

import numpy as np
import pytest
from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

pytest.importorskip("PIL")

COLORS = {"none": (186, 176, 172), "L1": (242, 142, 43), "L2": (78, 121, 167), "weight decay": (89, 161, 79)}


@pytest.fixture(scope="module")
def reg(chrome, site):
    context, page = open_page(chrome, site["url"])
    info = wait_ready(page)
    assert info["ready"], info
    page.locator("#regularization").scroll_into_view_if_needed()
    yield page
    context.close()


def test_defaults_overfit_and_penalties_close_the_gap(reg):
    page = reg
    assert page.inner_text("#reg-l2-value") == "0.032" and page.inner_text("#reg-l1-value") == "1e-3"
    page.click("#reg-start")
    wait(page, "gpumlPage.regularization.last && gpumlPage.regularization.last.epoch >= 3", timeout=600_000)
    epoch = page.evaluate("gpumlPage.regularization.last.epoch")
    page.focus("#reg-l1")
    page.keyboard.press("ArrowLeft")  # 10^-3.25: a change event, applied from the next step
    wait(page, "gpumlPage.regularization.sets.length === 1")
    assert page.inner_text("#reg-l1-value") == "5.6e-4"
    last = page.evaluate("gpumlPage.regularization.last")
    assert last["summary"]["L1"]["lambda"] == pytest.approx(10**-3.25)
    assert last["epoch"] >= epoch and last["changes"][-1][1:] == ["L1", pytest.approx(10**-3.25)]  # no restart
    assert last["summary"]["L2"]["lambda"] == pytest.approx(10**-1.5)  # the other runs keep theirs
    wait(page, "gpumlPage.regularization.last.done === true", timeout=900_000)
    v = page.evaluate("gpumlPage.regularization.last")
    s = v["summary"]
    assert v["epoch"] == 40 and v["history"]["none"]["epoch"] == list(range(41))
    # the unregularised run memorises (wrong labels included); L2 and weight decay close most of the gap
    assert s["none"]["train_acc"] > 0.95 and s["none"]["gap"] > 0.25, s
    assert s["L2"]["gap"] < s["none"]["gap"] - 0.15 and s["weight decay"]["gap"] < s["none"]["gap"] - 0.15, s
    assert s["L2"]["test_acc"] > s["none"]["test_acc"] + 0.03, s  # and generalise better, not just fit worse
    # native gpuml on the same data gives these numbers at the defaults (tests/test_regularization_race.py)
    assert s["none"]["gap"] == pytest.approx(0.309, abs=0.02) and s["L2"]["gap"] == pytest.approx(0.045, abs=0.02)
    hist = v["histograms"]
    assert [r["name"] for r in hist["runs"]] == ["none", "L1", "L2", "weight decay"]
    for r in hist["runs"]:
        assert sum(r["shares"]) == pytest.approx(1.0) and r["weights"] == 784 * 64 + 64 * 10
    near = {r["name"]: r["near_zero"] for r in hist["runs"]}
    assert near["L1"] > 0.5 > 0.05 > near["none"], near
    text = page.inner_text("#reg-summary")
    assert text.startswith("done after 40 epochs — none: gap"), text
    draws = page.evaluate("gpumlPage.regularization.drawMs")
    assert draws and all(d >= 0 for d in draws), draws  # draw times are figures, recorded, not asserted
    print(f"regularization draw ms: median {statistics.median(draws):.1f}, max {max(draws):.1f}")
    png = page.locator("#reg-canvas").screenshot(path=str(ARTIFACTS / "regularization_done.png"))
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w = img.shape[:2]
    for i, (name, rgb) in enumerate(COLORS.items()):  # each histogram's bars in its column's lower half
        col = img[h // 2 :, i * w // 4 : (i + 1) * w // 4]
        assert (np.abs(col - np.array(rgb)).max(axis=2) <= 30).sum() > 300, f"no histogram bars for {name}"
    page.locator("#regularization").screenshot(path=str(ARTIFACTS / "regularization_section.png"))


def test_bad_value_is_an_error_in_words_and_narrow_layout(reg):
    page = reg
    err = page.evaluate("gpumlCall('reg_set', 'log_l1', 5).then(() => null, (e) => e.message)")
    assert "control 'log_l1' takes a number in [-6, -1], got 5" in err
    page.set_viewport_size({"width": 390, "height": 900})
    page.locator("#regularization").scroll_into_view_if_needed()
    wait(page, "document.getElementById('reg-canvas').width === 480")  # two by two on a phone
    wide = page.evaluate(
        "[...document.querySelectorAll('#regularization *')].filter((e) => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth + 1).map((e) => e.tagName + '#' + e.id)"
    )
    assert wide == [], f"{wide} overflow at 390 px"
    page.locator("#regularization").screenshot(path=str(ARTIFACTS / "regularization_390.png"))
    page.set_viewport_size({"width": 1300, "height": 1000})
    assert console_errors(page.console) == []
