"""The page's optimizer race, driven like a user: a surface typed by name (an invalid name gives a one-line error
in words next to the field, listing the valid names, and the page keeps working), Play until the race finishes
(every runner at the minimum or the step budget reached, a ranking shown), every point inside the plotted area
throughout, the learning-rate slider restarting the race, and the layout at 390 px.
Screenshots: test-artifacts/web/race_*.png."""

from __future__ import annotations

import statistics

import pytest
from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def race(chrome, site):
    context, page = open_page(chrome, site["url"])
    info = wait_ready(page)
    assert info["ready"], info
    page.locator("#race").scroll_into_view_if_needed()
    wait(page, "gpumlPage.race && gpumlPage.race.setups >= 1", timeout=600_000)
    yield page
    context.close()


def _type_surface(page, name):
    field = page.locator("#race-surface")
    field.fill("")
    field.type(name)
    field.press("Enter")
    field.blur()


def test_invalid_surface_error_next_to_field(race):
    page = race
    before = page.evaluate("gpumlPage.race.setups")
    _type_surface(page, "bowl2")
    wait(page, "document.querySelector('.field-error[data-for=\"race-surface\"]') !== null", timeout=600_000)
    text = page.inner_text('.field-error[data-for="race-surface"]')
    assert text == "unknown surface 'bowl2'; choose one of: rosenbrock, beale, saddle, bowl", text
    assert page.get_attribute("#race-surface", "aria-invalid") == "true"
    assert page.evaluate("gpumlPage.race.setups") == before
    page.locator("#race").screenshot(path=str(ARTIFACTS / "race_invalid_surface.png"))
    _type_surface(page, "beale")  # the page keeps working: a valid name clears the error
    wait(page, f"gpumlPage.race.setups === {before + 1}")
    assert page.locator('.field-error[data-for="race-surface"]').count() == 0
    assert page.evaluate("gpumlPage.race.surface") == "beale"


@pytest.mark.parametrize("surface", ["beale", "rosenbrock"])
def test_race_finishes_with_markers_in_view(race, surface):
    page = race
    before = page.evaluate("gpumlPage.race.setups")
    _type_surface(page, surface)
    wait(page, f"gpumlPage.race.setups === {before + 1}", timeout=600_000)
    page.click("#race-play")
    wait(page, "gpumlPage.race.finished === true", timeout=600_000)
    view = page.evaluate("gpumlPage.race.view")
    paths = page.evaluate("gpumlPage.race.paths")
    (x0, x1), (y0, y1) = view["x_range"], view["y_range"]
    assert len(paths) == 6
    for path in paths:  # every point of every path (so every marker, all along) inside the plot
        assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in path)
    board = view["leaderboard"]
    statuses = {r["name"]: r["status"] for r in board}
    assert "running" not in statuses.values() and "out" not in statuses.values(), statuses
    finishers = [r for r in board if r["status"] == "finished"]
    assert [r["rank"] for r in board] == [1, 2, 3, 4, 5, 6]
    assert [r["steps"] for r in finishers] == sorted(r["steps"] for r in finishers)
    if surface == "beale":  # every optimizer reaches the minimum on Beale at the defaults
        assert len(finishers) == 6 and view["steps"] == max(r["steps"] for r in finishers)
    else:  # Rosenbrock: the race ends at its step budget, four of six at the minimum
        assert len(finishers) == 4 and view["steps"] == view["budget"], statuses
    for r in finishers:
        assert r["distance"] <= view["tol"] + 1e-6
    status = page.inner_text("#race-status")
    assert status.startswith(f"finished at step {view['steps']}"), status
    rows = page.locator("#race-board tbody tr")
    assert rows.count() == 6 and rows.nth(0).inner_text().startswith("1.")
    draws = page.evaluate("gpumlPage.race.drawMs")
    assert draws and all(d >= 0 for d in draws), draws  # draw times are figures (not asserted: timed tests flake)
    print(f"race draw ms: median {statistics.median(draws):.1f}, max {max(draws):.1f}")
    page.locator("#race").screenshot(path=str(ARTIFACTS / f"race_{surface}_finished.png"))


def test_lr_slider_restarts_and_narrow_layout(race):
    page = race
    page.focus("#race-lr")
    page.keyboard.press("ArrowLeft")  # 10^-0.25 of the defaults: a change event restarts the race
    wait(page, "gpumlPage.race.view.steps === 0 && gpumlPage.race.view.lr_scale < 0.6")
    assert page.inner_text("#race-lr-value") == "0.56"
    page.set_viewport_size({"width": 390, "height": 900})
    page.locator("#race").scroll_into_view_if_needed()
    wide = page.evaluate(
        "[...document.querySelectorAll('#race *')].filter((e) => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth + 1).map((e) => e.tagName + '#' + e.id)"
    )
    assert wide == [], f"{wide} overflow at 390 px"
    page.locator("#race").screenshot(path=str(ARTIFACTS / "race_390.png"))
    page.set_viewport_size({"width": 1300, "height": 1000})
    assert console_errors(page.console) == []
