"""The page's architecture builder, driven like a user: adding, removing and reordering rows changes the shapes
and parameter counts shown (the numbers of gpuml.nn's summary); an invalid stack is explained next to the row that
breaks it; a tiny training run reports progress and a test accuracy; Export downloads a model file that gpuml.load
reads natively and `gpuml predict` classifies a test digit as the page does. Screenshots:
test-artifacts/web/builder_*.png."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

import gpuml
from gpuml.playground import builder as B

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def bpage(chrome, site):
    context, page = open_page(chrome, site["url"])
    info = wait_ready(page)
    assert info["ready"], info
    page.locator("#builder").scroll_into_view_if_needed()
    wait(page, "gpumlPage.builder && gpumlPage.builder.analysis !== null")
    yield page
    context.close()


def rows(page):
    return [page.inner_text(f"#builder-out-{i}") for i in range(page.locator(".builder-row").count())]


def settle(page, n):
    wait(page, f"gpumlPage.builder.analyses >= {n}")
    return page.evaluate("gpumlPage.builder.analysis")


def test_edits_update_shapes_and_counts(bpage):
    page = bpage
    n = page.evaluate("gpumlPage.builder.analyses")
    shown = rows(page)
    assert shown[0] == "→ 8×28×28 · 80 params" and shown[-1] == "→ 10 · 7,850 params", shown
    expect = B.build(page.evaluate("gpumlPage.builder.stack"), device="cpu").summary().trainable_params
    assert page.evaluate("gpumlPage.builder.analysis.params") == expect
    # add: a dropout goes before the final fc; shapes unchanged, one row more
    page.select_option("#builder-add-type", "dropout")
    page.click("#builder-add")
    a = settle(page, n + 1)
    assert [r["label"] for r in a["rows"]][-2:] == ["dropout 0.25", "fc 10"] and a["ok"]
    # reorder: move the first pool above the first relu (same shapes after it), then the conv count change
    page.click("#builder-up-2")
    a = settle(page, n + 2)
    assert [r["label"] for r in a["rows"]][:3] == ["conv 8 3×3 pad1", "maxpool 2", "relu"]
    assert page.inner_text("#builder-out-1") == "→ 8×14×14 · 0 params"
    page.fill("#builder-3-out", "4")  # second conv: 16 -> 4 outputs
    page.press("#builder-3-out", "Enter")
    a = settle(page, n + 3)
    assert page.inner_text("#builder-out-3") == f"→ 4×14×14 · {4 * 8 * 9 + 4} params"
    assert a["rows"][-1]["params"] == 4 * 7 * 7 * 10 + 10
    # remove the second pool: the fc now sees 4×14×14
    page.click("#builder-remove-5")
    a = settle(page, n + 4)
    assert a["ok"] and a["rows"][-1]["params"] == 4 * 14 * 14 * 10 + 10
    assert f"{a['params']:,} parameters" in page.inner_text("#builder-summary") and a["params"] == 8222
    page.screenshot(path=str(ARTIFACTS / "builder_edit.png"), full_page=False)


def test_invalid_stack_is_explained_next_to_the_row(bpage):
    page = bpage
    n = page.evaluate("gpumlPage.builder.analyses")
    page.click("#builder-reset")
    settle(page, n + 1)
    n += 1
    for k in range(4):  # four more pools before the flatten: 7 -> 3 -> 1 -> too small
        page.select_option("#builder-add-type", "pool")
        page.click("#builder-add")
        settle(page, n + k + 1)
    a = page.evaluate("gpumlPage.builder.analysis")
    assert not a["ok"]
    bad = next(r for r in a["rows"] if r["error"])
    assert bad["index"] == 8  # conv, relu, pool, conv, relu, pool, then pools 7 -> 3 -> 1 -> this one
    assert bad["error"] == f"layer {bad['index'] + 1} (maxpool 2): input 1×1 is smaller than the window"
    box = page.locator(f"#builder-row-{bad['index']} .field-error")
    assert box.inner_text() == bad["error"]
    assert page.is_disabled("#builder-train")
    page.locator(f"#builder-row-{bad['index']}").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "builder_invalid.png"))
    page.click("#builder-reset")
    a = settle(page, n + 5)
    assert a["ok"] and page.locator("#builder-stack .field-error").count() == 0


def test_train_export_and_predict_natively(bpage, site, tmp_path):
    page = bpage
    page.fill("#builder-steps", "30")
    page.click("#builder-train")
    wait(page, "gpumlPage.builder.result !== null", timeout=600_000)
    r = page.evaluate("gpumlPage.builder.result")
    prog = page.evaluate("gpumlPage.builder.progress")
    assert r["step"] == 30 and len(prog) >= 6 and prog[-1]["step"] == 30
    assert 0.3 < r["test_acc"] <= 1.0 and np.isfinite(r["loss"]), r  # 30 steps of Adam: well above chance
    assert "test accuracy" in page.inner_text("#builder-train-status")
    page.click("#builder-export")
    wait(page, "gpumlPage.builder.exported !== null")
    with page.expect_download() as dl:
        page.click("#builder-download")
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.name == "gpuml_builder_model.npz"
    model = gpuml.load(path, device="cpu")
    assert model.summary().trainable_params == page.evaluate("gpumlPage.builder.analysis.params")
    # a test digit: the page's prediction, then natively from a PNG of the same image
    images = np.frombuffer((site["dir"] / "data" / "mnist_test_images.u8").read_bytes(), np.uint8).reshape(-1, 28, 28)
    for i in (0, 5):
        page.fill("#builder-digit", str(i))
        page.click("#builder-predict")
        wait(page, f"gpumlPage.builder.prediction && gpumlPage.builder.prediction.index === {i}")
        p = page.evaluate("gpumlPage.builder.prediction")
        native = model.forward(images[i][None, None].astype(np.float32) / 255).numpy()[0]
        assert int(native.argmax()) == p["class"], (native, p)
        from PIL import Image

        png = tmp_path / f"digit{i}.png"
        Image.fromarray(images[i]).save(png)
        out = subprocess.run([sys.executable, "-m", "gpuml", "predict", str(path), str(png)], capture_output=True,
                             text=True, timeout=300, env={**os.environ, "GPUML_BACKEND": "cpu"})  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"{png}: {p['class']} "), (out.stdout, p)
    page.locator("#builder-prediction").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "builder_trained.png"))
    assert not [e for e in console_errors(page.console) if "builder" in e]


def test_narrow_layout(chrome, site):
    context, page = open_page(chrome, site["url"], width=390, height=900)
    try:
        assert wait_ready(page)["ready"]
        page.locator("#builder").scroll_into_view_if_needed()  # its first analysis starts near the viewport
        wait(page, "gpumlPage.builder && gpumlPage.builder.analysis !== null")
        page.locator("#convbench").scroll_into_view_if_needed()
        wait(page, "document.querySelectorAll('#cb-shape option').length === 3")
        page.locator("#builder").scroll_into_view_if_needed()
        over = page.evaluate(
            "[...document.querySelectorAll('#builder *, #convbench *')].filter(e => e.getBoundingClientRect().right"
            " > document.documentElement.clientWidth + 1).map(e => e.id || e.tagName)"
        )
        page.screenshot(path=str(ARTIFACTS / "builder_390.png"))
        assert over == [], over
    finally:
        context.close()
