"""The page's augmentation demo, driven like a user: the builder's add / remove / reorder change the text spec and
the images (and the spec rebuilds the builder); a step at probability 0 leaves the images unchanged; the download
is a zip of the original + 9 PNGs and a labels.csv of 10 rows; an out-of-range typed value or a bad spec shows a
one-line error next to its control; a text spec beyond the builder's ranges is refused in the builder's words; every
step shows at 390 and 1300 px (no inner scroll box). Screenshots: test-artifacts/web/augment_*.png."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest
from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def aug(chrome, site):
    context, page = open_page(chrome, site["url"])
    info = wait_ready(page)
    assert info["ready"], info
    page.locator("#augment").scroll_into_view_if_needed()  # the gallery starts near the viewport, as a user scrolls
    wait(
        page,
        "gpumlPage.augment !== null && document.querySelectorAll('#aug-steps .aug-step').length > 0",
        timeout=120_000,
    )
    yield page
    context.close()


def _spec(page):
    return page.input_value("#aug-spec")


def _means(page):
    return np.array(page.evaluate("gpumlCall('augment_means')"))


def _names(page):
    return page.evaluate("[...document.querySelectorAll('#aug-steps .aug-step')].map((li) => li.dataset.name)")


def _after(page, action, old_spec):
    """Do ``action`` and wait for the gallery to show a spec other than ``old_spec``."""
    action()
    wait(page, f"gpumlPage.augment && gpumlPage.augment.spec !== {old_spec!r}")


def test_builder_edits_spec_and_images(aug):
    page = aug
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    spec0 = _spec(page)
    assert spec0 == "rotate 20, crop 24 24, brightness 0.3, noise 0.05"
    assert _names(page) == ["rotate", "crop", "brightness", "noise"]
    assert page.evaluate("gpumlPage.augment.shape") == [9, 1, 24, 24]
    assert page.evaluate("gpumlPage.augment.original") == [1, 1, 28, 28]
    page.locator("#augment").screenshot(path=str(ARTIFACTS / "augment_default.png"))
    m0 = _means(page)
    assert np.ptp(m0) > 1e-3  # 9 different variants

    # remove "noise" (step 4)
    _after(page, lambda: page.click("#aug-s3-remove"), spec0)
    spec1 = _spec(page)
    assert spec1 == "rotate 20, crop 24 24, brightness 0.3" and _names(page) == ["rotate", "crop", "brightness"]
    m1 = _means(page)
    assert not np.allclose(m0, m1)

    # add hflip, then move it up to the top
    page.select_option("#aug-add", "hflip")
    _after(page, lambda: page.click("#aug-add-btn"), spec1)
    spec2 = _spec(page)
    assert spec2 == "rotate 20, crop 24 24, brightness 0.3, hflip 0.5"
    for i in (3, 2, 1):
        old = _spec(page)
        _after(page, lambda i=i: page.click(f"#aug-s{i}-up"), old)
    assert _spec(page) == "hflip 0.5, rotate 20, crop 24 24, brightness 0.3"
    assert _names(page) == ["hflip", "rotate", "crop", "brightness"]
    assert not np.allclose(_means(page), m1)

    # rotate's degrees typed in the box next to its slider
    old = _spec(page)
    page.fill("#aug-s1-p0-n", "45")
    _after(page, lambda: page.press("#aug-s1-p0-n", "Tab"), old)
    assert _spec(page).startswith("hflip 0.5, rotate 45,")

    # the same slider with the mouse: a click at three quarters of its track (0-180 degrees)
    old = _spec(page)
    box = page.locator("#aug-s1-p0").bounding_box()
    _after(page, lambda: page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2), old)
    degrees = float(_spec(page).split(", ")[1].split()[1])
    assert 120 < degrees < 150, _spec(page)
    assert float(page.input_value("#aug-s1-p0-n")) == degrees  # the box follows the slider

    # the text spec rebuilds the builder
    old = _spec(page)
    page.fill("#aug-spec", "zoom 0.3, contrast 0.5 p=0.5, affine 10 2 0.1 5")
    _after(page, lambda: page.click("#aug-run"), old)
    assert _names(page) == ["zoom", "contrast", "affine"]
    assert page.input_value("#aug-s1-prob-n") == "0.5"
    assert page.evaluate("gpumlPage.augment.shape") == [9, 1, 28, 28]
    page.locator("#augment").screenshot(path=str(ARTIFACTS / "augment_builder.png"))
    assert console_errors(page.console) == []


def test_probability_zero_leaves_images_unchanged(aug):
    page = aug
    old = _spec(page)
    page.fill("#aug-spec", "rotate 40")
    _after(page, lambda: page.click("#aug-run"), old)
    rotated = _means(page)
    old = _spec(page)
    page.fill("#aug-s0-prob-n", "0")
    _after(page, lambda: page.press("#aug-s0-prob-n", "Tab"), old)
    assert _spec(page) == "rotate 40 p=0"
    same = _means(page)
    assert np.ptp(same) == 0.0  # nine identical copies
    assert not np.allclose(rotated, same)
    # the copies are the original: the same mean as the digit itself (28 x 28, no transform)
    old = _spec(page)
    page.fill("#aug-spec", "")
    _after(page, lambda: page.click("#aug-run"), old)
    np.testing.assert_allclose(_means(page), same, atol=1e-6)


def test_download_zip(aug):
    page = aug
    old = _spec(page)
    page.fill("#aug-spec", "rotate 20, crop 24 24, brightness 0.3, noise 0.05")
    _after(page, lambda: page.click("#aug-run"), old)
    with page.expect_download(timeout=60_000) as info:
        page.click("#aug-download")
    download = info.value
    assert download.suggested_filename == "gpuml-augment-digit0-seed0.zip"
    data = open(download.path(), "rb").read()
    z = zipfile.ZipFile(io.BytesIO(data))
    pngs = sorted(n for n in z.namelist() if n.endswith(".png"))
    assert len(pngs) == 10 and "digit0_original.png" in pngs
    rows = list(csv.DictReader(io.StringIO(z.read("labels.csv").decode())))
    assert len(rows) == 10 and [r["variant"] for r in rows] == ["original", *map(str, range(9))]
    assert {r["file"] for r in rows} == set(pngs)
    assert '"angle"' in rows[1]["params"] and rows[0]["params"] == ""
    from PIL import Image

    orig = np.asarray(Image.open(io.BytesIO(z.read("digit0_original.png"))))
    v0 = np.asarray(Image.open(io.BytesIO(z.read("digit0_0.png"))))
    assert orig.shape == (28, 28) and v0.shape == (24, 24)
    assert orig.max() == 255 and 0.05 < orig.mean() / 255 < 0.4  # a digit: ink on black
    means = _means(page)
    assert abs(v0.mean() / 255 - means[0]) < 0.01  # the PNG is the variant shown
    assert page.is_visible("#aug-download-link")


def test_errors_next_to_controls(aug):
    page = aug
    # a typed value beyond the slider's range
    page.fill("#aug-s0-p0-n", "500")
    page.press("#aug-s0-p0-n", "Tab")
    box = page.locator('.field-error[data-for="aug-s0-p0-n"]')
    box.wait_for(timeout=30_000)
    assert box.inner_text() == "step 1 (rotate): degrees takes a number in [0, 180], got 500"
    # a spec item out of its documented range: one line naming the item, next to the spec field
    page.fill("#aug-spec", "rotate 10, brightness 2")
    page.click("#aug-run")
    box = page.locator('.field-error[data-for="aug-spec"]')
    box.wait_for(timeout=30_000)
    text = box.inner_text()
    assert text.startswith("augmentation spec item 'brightness 2': Brightness: factor must stay >= 0"), text
    assert "\n" not in text and "Traceback" not in text
    page.locator("#augment").screenshot(path=str(ARTIFACTS / "augment_errors.png"))
    # fixed: the error goes away
    page.fill("#aug-spec", "rotate 10, brightness 0.5")
    page.click("#aug-run")
    wait(page, "!document.querySelector('.field-error[data-for=\"aug-spec\"]')")
    # a digit number outside the data, a negative seed: in words, next to their own boxes (not the spec's)
    for value, words in (("-1", "got -1"), ("1000000000", "got 1000000000"), ("", "got nothing")):
        page.fill("#aug-index", value)
        page.press("#aug-index", "Enter")
        box = page.locator('.field-error[data-for="aug-index"]')
        box.wait_for(timeout=30_000)
        assert box.inner_text() == f"digit # takes a whole number from 0 to 99, {words}"
    page.fill("#aug-index", "3")
    page.press("#aug-index", "Enter")
    wait(page, "!document.querySelector('.field-error[data-for=\"aug-index\"]')")
    page.fill("#aug-seed", "-1")
    page.press("#aug-seed", "Enter")
    box = page.locator('.field-error[data-for="aug-seed"]')
    box.wait_for(timeout=30_000)
    assert "'seed'" in box.inner_text() and "got -1" in box.inner_text()
    assert page.locator('.field-error[data-for="aug-spec"]').count() == 0
    page.fill("#aug-seed", "0")
    page.press("#aug-seed", "Enter")
    wait(page, "!document.querySelector('.field-error[data-for=\"aug-seed\"]')")
    assert console_errors(page.console) == []


def test_spec_holds_the_builder_ranges(aug):
    """The text spec is held to the builder's ranges (one table): rotate 1e9 is refused as the degrees slider and
    box refuse it, in one line next to the spec field naming the step, parameter, value and range; the gallery
    keeps the pipeline it had; a value in range then runs."""
    page = aug
    old = _spec(page)
    page.fill("#aug-spec", "rotate 20")
    _after(page, lambda: page.click("#aug-run"), old)
    before = _means(page)
    for spec, words in (
        ("rotate 1e9", "step 1 (rotate): degrees takes a number in [0, 180], got 1e9 (text spec item 'rotate 1e9')"),
        (
            "hflip, translate 40",
            "step 2 (translate): shift takes a whole number in [0, 16], got 40 (text spec item 'translate 40')",
        ),
    ):
        page.fill("#aug-spec", spec)
        page.press("#aug-spec", "Enter")
        box = page.locator('.field-error[data-for="aug-spec"]')
        wait(page, f"(document.querySelector('.field-error[data-for=\"aug-spec\"]') || {{}}).textContent === {words!r}")
        assert box.inner_text() == words
        assert page.evaluate("gpumlPage.augment.spec") == "rotate 20"  # the gallery kept its pipeline
        assert _names(page) == ["rotate"]
    page.locator("#augment").screenshot(path=str(ARTIFACTS / "augment_spec_range_error.png"))
    np.testing.assert_array_equal(_means(page), before)
    # the builder's box refuses the same value in the same words (its range from the same table)
    page.fill("#aug-s0-p0-n", "1e9")
    page.press("#aug-s0-p0-n", "Tab")
    wait(page, "!!document.querySelector('.field-error[data-for=\"aug-s0-p0-n\"]')")
    text = page.inner_text('.field-error[data-for="aug-s0-p0-n"]')
    assert text == "step 1 (rotate): degrees takes a number in [0, 180], got 1000000000", text
    # in range: runs, the error goes
    page.fill("#aug-spec", "rotate 180")
    _after(page, lambda: page.press("#aug-spec", "Enter"), "rotate 20")
    assert _spec(page) == "rotate 180" and page.locator('.field-error[data-for="aug-spec"]').count() == 0
    assert console_errors(page.console) == []


def _steps_in_flow(page):
    """The step list's layout: its inner scroll (none: every step in the page's flow), each step's box, the add row's
    top, and what sticks out to the right of the viewport in the section."""
    return page.evaluate(
        """(() => {
      const list = document.getElementById('aug-steps');
      const rows = [...list.querySelectorAll('.aug-step')].map((li) => li.getBoundingClientRect());
      return {
        inner_scroll: list.scrollHeight - list.clientHeight,
        overflow_y: getComputedStyle(list).overflowY,
        steps: rows.map((r) => [r.top, r.bottom]),
        list_bottom: list.getBoundingClientRect().bottom,
        add_top: document.getElementById('aug-add').getBoundingClientRect().top,
        over: [...document.querySelectorAll('#augment *')].filter((e) => e.getBoundingClientRect().right >
          document.documentElement.clientWidth + 1).map((e) => e.tagName + '#' + e.id),
        scroll_width: document.documentElement.scrollWidth,
      };
    })()"""
    )


def _check_all_steps_shown(lay, n):
    assert len(lay["steps"]) == n, lay
    assert lay["inner_scroll"] <= 1 and lay["overflow_y"] == "visible", lay  # no scroll box hiding steps
    assert lay["steps"][-1][1] <= lay["list_bottom"] + 1 <= lay["add_top"] + 1, lay  # the last one above "Add"
    assert all(b[0] >= a[1] - 1 for a, b in zip(lay["steps"], lay["steps"][1:], strict=False)), lay  # no overlap
    assert lay["over"] == [], lay


def test_long_pipeline_shows_every_step_wide(aug):
    """At 1300 px a 6-step pipeline shows all 6 steps, one under the other (no inner scroll box)."""
    page = aug
    old = _spec(page)
    page.fill("#aug-spec", "rotate 20, crop 24 24, brightness 0.3, noise 0.05, cutout 6, hflip")
    _after(page, lambda: page.click("#aug-run"), old)
    _check_all_steps_shown(_steps_in_flow(page), 6)
    page.locator("#augment").screenshot(path=str(ARTIFACTS / "augment_1280_steps.png"))


def test_narrow_page(chrome, site):
    context, page = open_page(chrome, site["url"], width=390, height=900)
    try:
        assert wait_ready(page)["ready"]
        sec = page.locator("#augment")
        sec.scroll_into_view_if_needed()  # the gallery starts near the viewport
        wait(page, "document.querySelectorAll('#aug-steps .aug-step').length > 0", timeout=120_000)
        wait(page, "document.querySelectorAll('#aug-steps .aug-step').length === 4")
        sec.screenshot(path=str(ARTIFACTS / "augment_390.png"))
        lay = _steps_in_flow(page)
        _check_all_steps_shown(lay, 4)  # the default's 4th step (noise) is in view, not below a scroll fold
        assert lay["scroll_width"] <= 390, lay
        # two more steps with the Add button, as a phone user would: all 6 shown, nothing sticks out
        for name in ("cutout", "hflip"):
            n = page.locator("#aug-steps .aug-step").count()
            page.select_option("#aug-add", name)
            page.click("#aug-add-btn")
            wait(page, f"document.querySelectorAll('#aug-steps .aug-step').length === {n + 1}")
        lay = _steps_in_flow(page)
        _check_all_steps_shown(lay, 6)
        assert lay["scroll_width"] <= 390, lay
        # each parameter's name sits above its slider and box: slider and box on one line, inside the step
        rows = page.evaluate(
            "[...document.querySelectorAll('#aug-steps .aug-param')].map((p) => { const [r, n] = "
            "[p.querySelector('input[type=range]'), p.querySelector('input[type=number]')].map((e) => "
            "e.getBoundingClientRect()); const s = p.closest('.aug-step').getBoundingClientRect(); "
            "return [Math.abs(r.top - n.top), n.right - s.right]; })"
        )
        assert rows and all(dy < 4 and right <= 0 for dy, right in rows), rows
        sec.screenshot(path=str(ARTIFACTS / "augment_390_6steps.png"))
    finally:
        context.close()
