"""The page's digit pad (the CNN explorer), driven like a user with the mouse: digits drawn from MNIST test images
read as sure and right while seeded random scribbles mostly read "unsure — looks most like …"; the explanation
methods (Grad-CAM, saliency, occlusion) and the class selector (a click on a digit's bar) redraw the overlay and
its colour scale; every conv / ReLU / pooling layer is selectable and its maps are square tiles; the filters of
both convolutions are drawn on a diverging scale; Clear resets every panel; switching models re-classifies (an
untrained model is an error in words next to the select); nothing overflows at 390 px. Screenshots:
test-artifacts/web/pad_*.png."""

from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest
from page_site import ARTIFACTS, console_errors, open_page, wait, wait_ready

pytest.importorskip("PIL")
PAD_CSS = 280


def short_number(v: float) -> str:
    from gpuml.demos.render import short_number as native

    return native(v)


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


@pytest.fixture(scope="module")
def pad(chrome, site):
    context, page = open_page(chrome, site["url"])
    # before the worker is ready the pad says so (a stroke then would be lost: review17d D4)
    early = page.evaluate("""(() => { const e = document.getElementById('pad-loading');
        return {ready: !!(window.gpumlPage && gpumlPage.ready), text: e.hidden ? '' : e.textContent,
                loading: document.getElementById('pad-canvas').classList.contains('loading')}; })()""")
    info = wait_ready(page)
    assert info["ready"], info
    assert early["ready"] or (early["loading"] and early["text"].startswith("loading the model")), early
    # calibrated; the worker also runs the other demos' first work (k-means sweeps, gallery), queued before this
    wait(page, "document.getElementById('pad-rule').textContent.length > 0", timeout=300_000)
    assert page.evaluate("document.getElementById('pad-loading').hidden")
    assert not page.evaluate("document.getElementById('pad-canvas').classList.contains('loading')")
    page.locator("#pad").scroll_into_view_if_needed()
    page.locator("#pad-live").uncheck()
    yield page
    # this demo's errors (other demos' are their tests' business: they load on the same page)
    ours = [e for e in console_errors(page.console) + page.evaluate("gpumlPage.errors") if "pad" in e or "predict" in e]
    assert ours == []
    context.close()


def _to_screen(page, x, y):
    box = page.locator("#pad-canvas").bounding_box()
    s = box["width"] / PAD_CSS
    return box["x"] + x * s, box["y"] + y * s


def _stroke(page, pts):
    page.mouse.move(*_to_screen(page, *pts[0]))
    page.mouse.down()
    for p in pts[1:]:
        page.mouse.move(*_to_screen(page, *p), steps=3)
    page.mouse.up()


def _draw_digit(page, image: np.ndarray, cell: float = 9.0):
    """One stroke per run of inked pixels in each row of a 28x28 digit."""
    x0 = (PAD_CSS - 28 * cell) / 2
    ink = image > 0.35
    for r in range(28):
        c = 0
        while c < 28:
            if not ink[r, c]:
                c += 1
                continue
            start = c
            while c < 28 and ink[r, c]:
                c += 1
            y = x0 + (r + 0.5) * cell
            _stroke(page, [(x0 + (start + 0.5) * cell, y), (x0 + (c - 0.5) * cell, y)])


def _predict(page) -> dict:
    """Press Predict and wait for its result (the prediction counter moves)."""
    n = page.evaluate("gpumlPage.predictions || 0")
    page.click("#pad-predict")
    wait(page, f"(gpumlPage.predictions || 0) > {n}", timeout=60_000)
    return page.evaluate("gpumlPage.padResult")


def _set(page, select: str, value: str) -> dict:
    n = page.evaluate("gpumlPage.predictions || 0")
    page.select_option(select, value)
    wait(page, f"(gpumlPage.predictions || 0) > {n}", timeout=60_000)
    return page.evaluate("gpumlPage.lastPrediction")


def _arc(cx, cy, rx, ry, a0, a1, n):
    angles = [math.radians(a0 + (a1 - a0) * i / n) for i in range(n + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# review17c's face: an outline, two eyes, a nose and a mouth (the last two are the strokes a stale pad missed)
FACE = [
    _arc(140, 140, 105, 115, 0, 360, 40),
    _arc(100, 105, 14, 10, 0, 360, 10),
    _arc(180, 105, 14, 10, 0, 360, 10),
    [(140, 120), (130, 160), (145, 162)],
    _arc(140, 175, 45, 30, 20, 160, 14),
]
FACE_PARTS = {"left eye": (85, 95, 115, 115), "right eye": (165, 95, 195, 115), "nose": (125, 125, 150, 165),
              "mouth": (110, 190, 170, 210)}  # fmt: skip


def _input_image(pixels, heat, size=168) -> np.ndarray:
    """web_image.wgsl's input panel in numpy: the 28 x 28 input (nearest) under the heat overlay (bilinear,
    premultiplied, transparent where cold)."""
    px = np.clip(np.asarray(pixels, float).reshape(28, 28), 0, 1)
    hm = np.asarray(heat, float).reshape(28, 28)
    c = (np.arange(size) + 0.5) / size * 28
    g = px[np.floor(c).astype(int)[:, None], np.floor(c).astype(int)[None, :]]
    q = c - 0.5
    i0 = np.floor(q).astype(int)
    f = q - i0
    lo, hi = np.clip(i0, 0, 27), np.clip(i0 + 1, 0, 27)
    rows = hm[lo] * (1 - f)[:, None] + hm[hi] * f[:, None]
    t = np.clip(rows[:, lo] * (1 - f)[None, :] + rows[:, hi] * f[None, :], 0, 1)
    e = np.clip((t - 0.05) / 0.45, 0, 1)
    a = 0.65 * e * e * (3 - 2 * e)
    s = 3 * (0.35 + 0.65 * t)
    rgb = np.stack([np.clip(s - k, 0, 1) for k in range(3)], axis=-1) * a[..., None] + (g * (1 - a))[..., None]
    return np.round(255 * rgb)


def test_pad_and_input_show_the_drawing_the_verdict_is_of(pad):
    """review17c D2 / review17b D4: a face drawn quickly with live prediction on (right after Ready the pad
    predicts on the CPU). The moment the verdict of the whole face is shown, the pad shows every stroke (its nose
    and mouth were missing for seconds when the worker drew the pad) and the input panel is the input that
    verdict is of, with its explanation (web_image.wgsl's drawing, recomputed here)."""
    page = pad
    page.locator("#pad-live").check()
    page.locator("#pad-brush").fill("11")
    try:
        for attempt in range(2):
            page.click("#pad-clear")
            for stroke in FACE:
                _stroke(page, stroke)
            n = page.evaluate("gpumlPage.predictions || 0")  # the last pen-up's prediction is queued or running
            wait(page, f"(gpumlPage.predictions || 0) > {n} && gpumlPage.lastPrediction !== null", timeout=120_000)
            shot = page.locator("#pad-canvas").screenshot(path=str(ARTIFACTS / f"pad_face_at_result_{attempt}.png"))
            page.locator("#pad").screenshot(path=str(ARTIFACTS / f"pad_face_{attempt}.png"))
            from PIL import Image

            ink = np.asarray(Image.open(io.BytesIO(shot)).convert("L").resize((PAD_CSS, PAD_CSS))) / 255
            parts = {k: float(ink[y0:y1, x0:x1].max()) for k, (x0, y0, x1, y1) in FACE_PARTS.items()}
            assert min(parts.values()) > 0.5, (attempt, parts)  # every stroke on the pad
            # one main-thread task: the result on show and the input panel's pixels
            got = page.evaluate(
                "(() => { const c = document.getElementById('input-canvas'); const p = gpumlPage.lastPrediction;"
                " return {out: p, text: document.getElementById('pad-prediction').textContent, w: c.width,"
                " rgba: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)}; })()"
            )
            out = got["out"]
            assert got["text"] == out["verdict"]["text"]
            w = got["w"]
            shown = np.asarray(got["rgba"], float).reshape(w, w, 4)[..., :3]
            want = _input_image(out["pixels"], out["explain"]["map"], w)
            assert np.abs(shown - want).max() <= 2, (attempt, np.abs(shown - want).max())
            # the input is the face's: its mouth (input rows ~19-21) is inked
            assert np.asarray(out["pixels"]).reshape(28, 28)[17:23, 9:19].max() > 0.5
    finally:
        page.locator("#pad-live").uncheck()
        page.click("#pad-clear")


def test_digits_sure_and_scribbles_unsure(pad):
    from gpuml.datasets import mnist

    page = pad
    test = mnist("test")
    page.locator("#pad-brush").fill("6")
    picks = [int(np.flatnonzero(test.labels == d)[1]) for d in range(10)]
    digits = []
    for idx in picks:
        page.click("#pad-clear")
        _draw_digit(page, test.images[idx, 0])
        out = _predict(page)
        digits.append((int(test.labels[idx]), out["label"], out["verdict"]["unsure"], out["verdict"]["text"]))
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_digit_sure.png"))
    right_and_sure = sum(want == got and not unsure for want, got, unsure, _ in digits)
    page.locator("#pad-brush").fill("11")
    rng = random.Random(3)
    scribbles = []
    for _ in range(12):
        page.click("#pad-clear")
        _stroke(page, [(rng.uniform(30, 250), rng.uniform(30, 250)) for _ in range(rng.randint(4, 12))])
        out = _predict(page)
        scribbles.append((out["verdict"]["unsure"], out["verdict"]["text"], max(out["probs"])))
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_scribble_unsure.png"))
    unsure = sum(u for u, _, _ in scribbles)
    print(f"digits right and sure: {right_and_sure}/10 {digits}\nscribbles unsure: {unsure}/12 {scribbles}")
    assert right_and_sure >= 8, digits
    # the shipped model saw scribbles in training (outlier exposure): these 12 read 11 unsure natively
    assert unsure >= 10, scribbles
    shown = page.inner_text("#pad-prediction")
    assert shown == scribbles[-1][1]
    if scribbles[-1][0]:
        assert shown.startswith("unsure — ") and page.inner_text("#pad-reason").startswith("why: ")
    assert page.get_attribute("#pad-prediction", "aria-live") == "polite"


# a reviewer's hash (review17b) and drawn 9 (review17b's 9_curved): the hash reads "7" on weak evidence, and the 9's
# Grad-CAM is nearly empty (its channel-averaged gradients cancel), so the explorer shows HiResCAM and says so
HASH = [[(105, 45), (95, 235)], [(185, 45), (175, 235)], [(45, 105), (235, 100)], [(45, 180), (235, 175)]]
NINE = [[*_arc(140, 95, 52, 48, 10, 370, 30), (192, 120), (175, 200), (130, 245)]]


def test_weak_evidence_and_hires_cam(pad):
    page = pad
    page.locator("#pad-brush").fill("11")
    if page.input_value("#pad-explain") != "gradcam":
        _set(page, "#pad-explain", "gradcam")
    rule = page.inner_text("#pad-rule")
    assert 'says "weak evidence"' in rule and 'names the runner-up ("or maybe 3")' in rule, rule
    assert 'it says "unlike the 9s it learned from"' in rule, rule  # the shipped model's feature cue is loaded
    page.click("#pad-clear")
    for stroke in HASH:
        _stroke(page, stroke)
    out = _predict(page)
    v = out["verdict"]
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_weak_hash.png"))
    assert v["weak"] and not v["unsure"], v  # measured: 7 (99.1%), evidence 6.9 between 6.31 and 8.39
    assert page.inner_text("#pad-prediction") == f"{out['label']} ({v['prob'] * 100:.1f}%), weak evidence"
    assert page.inner_text("#pad-reason") == f"why: {v['reason']}"
    assert "(90% of real test digits score higher)" in v["reason"]
    # and its hidden features are far from the training 7s' (measured natively 0.22 > 0.16: test_digits_novelty)
    assert (
        "features 0.2" in v["reason"]
        and "away from the training 7s (98% of real test digits are nearer than 0.16)" in v["reason"]
    ), v
    assert 0.19 < v["novelty"] < 0.25, v
    # its Grad-CAM lies mostly off the strokes (measured natively: 12% of the heat, the strokes cover 25%): said
    what = page.inner_text("#pad-explain-what")
    assert what.startswith("Grad-CAM at layer 4") and "% of its heat on the strokes, which cover " in what, what
    assert out["explain"]["aside"] in what and out["explain"]["aside"].startswith("only "), out["explain"]
    assert "unsure" in (page.get_attribute("#pad-prediction", "class") or "")  # the unsure colour
    assert "unsure" in page.get_attribute("#pad-probs .bar.top", "class")  # its bar too, as natively
    page.click("#pad-clear")
    for stroke in NINE:
        _stroke(page, stroke)
    out = _predict(page)
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_hires_nine.png"))
    assert out["label"] == 9 and not out["verdict"]["weak"] and not out["verdict"]["unsure"], out["verdict"]
    what = page.inner_text("#pad-explain-what")
    assert what.startswith("HiResCAM, class 9, the predicted one (Grad-CAM nearly empty)"), what
    assert out["explain"]["peak"] > 0.5 and page.inner_text("#pad-heat-units") == "ReLU(Σ g·A)"


def test_explanations_class_selector_layers_filters(pad):
    from gpuml.datasets import mnist

    page = pad
    test = mnist("test")
    page.locator("#pad-brush").fill("6")
    page.click("#pad-clear")
    # the second 3 of the test set (the first one's open loops nearly close: "unsure — looks most like 8")
    _draw_digit(page, test.images[int(np.flatnonzero(test.labels == 3)[1]), 0])
    out = _predict(page)
    assert out["label"] == 3 and out["explain"]["method"] == "gradcam" and out["explain"]["target"] == 3
    assert page.eval_on_selector_all("#pad-explain option", "os => os.map(o => o.value)") == [
        "gradcam", "hirescam", "saliency", "occlusion"]  # fmt: skip
    for method in ("saliency", "occlusion", "hirescam", "gradcam"):
        out = _set(page, "#pad-explain", method)
        assert out["explain"]["method"] == method and out["explain"]["peak"] > 0
        shot = _pixels(page.locator("#input-canvas").screenshot(path=str(ARTIFACTS / f"pad_explain_{method}.png")))
        warm = ((shot[..., 0] > 150) & (shot[..., 2] < 90)).sum()  # the heat overlay's red..yellow
        assert warm > 100, (method, warm)
        # the scale's numbers as the native window prints them (gpuml.demos.render.short_number)
        assert page.inner_text("#pad-heat-hi") == short_number(out["explain"]["peak"]), out["explain"]["peak"]
        assert page.inner_text("#pad-heat-lo") == "0"
        assert out["explain"]["units"] == page.inner_text("#pad-heat-units")
    # the class selector: a click on digit 8's bar explains 8 while the prediction stays 3
    n = page.evaluate("gpumlPage.predictions")
    page.locator("#pad-probs .bar").nth(8).click()
    wait(page, f"gpumlPage.predictions > {n}")
    out = page.evaluate("gpumlPage.lastPrediction")
    assert out["label"] == 3 and out["explain"]["target"] == 8 and "class 8" in page.inner_text("#pad-explain-what")
    assert page.input_value("#pad-target") == "8"
    _set(page, "#pad-target", "predicted")
    # every conv / activation / pooling layer, drawn as square tiles
    layers = page.eval_on_selector_all("#pad-layer option", "os => os.map(o => o.value)")
    assert layers == ["conv 1", "relu 1", "max-pool 1", "conv 2", "relu 2", "max-pool 2"]
    shapes = {}
    for name in layers:
        out = _set(page, "#pad-layer", name)
        c, h, w = out["layer"]["shape"]
        cols, (_, _, bw, bh) = out["tiles"]["cols"], out["tiles"]["box"]
        rows = -(-c // cols)
        tw, th = (bw - 2 * (cols - 1)) / cols, (bh - 2 * (rows - 1)) / rows
        assert abs(tw - th) < 1.0 and bw <= 360 and bh <= 280, (name, out["tiles"])
        shapes[name] = (c, h, w)
        shot = _pixels(
            page.locator("#acts-canvas").screenshot(path=str(ARTIFACTS / f"pad_layer_{name.replace(' ', '_')}.png"))
        )
        assert shot.std() > 10, name
    assert shapes["max-pool 1"] == (6, 14, 14) and shapes["relu 2"] == (16, 10, 10)
    assert "each map scaled to its max" in page.inner_text("#pad-acts-caption")
    filt = _pixels(page.locator("#filters-canvas").screenshot(path=str(ARTIFACTS / "pad_filters.png")))
    red = ((filt[..., 0] > 200) & (filt[..., 2] < 120)).sum()
    blue = ((filt[..., 2] > 200) & (filt[..., 0] < 120)).sum()
    assert red > 300 and blue > 300, (red, blue)
    assert "conv 2, 16 filters (columns) × 6 input channels (rows)" in page.inner_text("#pad-filters-caption")
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_explorer.png"))


def test_clear_resets_every_panel_and_model_switch(pad):
    page = pad
    page.click("#pad-clear")
    _stroke(page, [(140, 40), (142, 240)])  # a 1
    out = _predict(page)
    assert out["label"] == 1
    page.click("#pad-clear")
    wait(page, "gpumlPage.lastPrediction === null")
    assert page.inner_text("#pad-prediction") == "—" and page.inner_text("#pad-probs") == ""
    assert page.inner_text("#pad-explain-what") == "" and page.inner_text("#pad-acts-caption") == ""
    for canvas in ("#input-canvas", "#acts-canvas", "#pad-canvas"):  # the worker's blank frames, once presented
        for _ in range(40):
            shot = _pixels(page.locator(canvas).screenshot())[4:-4, 4:-4]
            inked = (np.abs(shot - np.median(shot, axis=(0, 1))).max(axis=2) > 16).mean()  # share off background
            if inked < 0.01:
                break
            page.wait_for_timeout(250)
        assert inked < 0.01, (canvas, inked)
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_cleared.png"))
    assert _predict(page)["empty"] is True
    # switching models re-classifies: no page-trained model yet is an error in words next to the select
    _stroke(page, [(140, 40), (142, 240)])
    _predict(page)
    n = page.evaluate("gpumlPage.predictions")
    page.select_option("#pad-model", "trained")
    wait(page, "document.querySelector('.field-error[data-for=\"pad-model\"]') !== null")
    err = page.inner_text('.field-error[data-for="pad-model"]')
    assert err.startswith("no model has been trained on this page yet") and "Traceback" not in err, err
    page.evaluate("gpumlPage.errors.length = 0")  # shown next to the select, as it should be
    page.select_option("#pad-model", "default")
    wait(page, f"gpumlPage.predictions > {n}")
    assert page.locator('.field-error[data-for="pad-model"]').count() == 0
    assert page.evaluate("gpumlPage.lastPrediction.label") == 1


def test_clear_during_a_prediction_keeps_the_panels_empty(pad):
    """Predict, then Clear at once while the worker still computes (occlusion: the slowest method): the result
    that arrives afterwards is of a drawing that is gone, so nothing of it is shown."""
    page = pad
    page.click("#pad-clear")
    page.select_option("#pad-explain", "occlusion")
    _stroke(page, [(70, 60), (210, 60), (130, 250)])  # a 7
    n = page.evaluate("gpumlPage.predictions || 0")
    page.click("#pad-predict")
    page.click("#pad-clear")
    wait(page, f"(gpumlPage.predictions || 0) > {n}", timeout=60_000)
    page.wait_for_timeout(500)
    page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_clear_during_prediction.png"))
    assert page.inner_text("#pad-prediction") == "—" and page.inner_text("#pad-probs") == ""
    assert page.inner_text("#pad-explain-what") == "" and page.evaluate("gpumlPage.lastPrediction") is None
    page.select_option("#pad-explain", "gradcam")


def test_pad_fits_390px(chrome, site):
    context, page = open_page(chrome, site["url"], width=390, height=900)
    try:
        assert wait_ready(page)["ready"]
        page.locator("#pad").scroll_into_view_if_needed()
        over = page.evaluate(
            "[...document.querySelectorAll('#pad, #pad *')].filter(e => e.getBoundingClientRect().right > 391)"
            ".map(e => e.id || e.tagName)"
        )
        page.locator("#pad").screenshot(path=str(ARTIFACTS / "pad_390.png"))
        assert over == [], over
    finally:
        context.close()


def test_first_digit_on_cpu_then_same_on_webgpu(chrome, site):
    """On a software adapter the pad starts on gpuml's python backend at Ready (its WebGPU kernels compile in the
    background) and switches to WebGPU once they are warm: a digit drawn right after Ready is classified on the
    CPU, and the same ink classified again after the switch gives the same label, verdict and probabilities (the
    same weights and evidence floor on both devices). The class selector and saliency work in both phases (on the
    CPU unless the switch came first: the warm-up may finish at any time)."""
    context, page = open_page(chrome, site["url"])
    try:
        info = wait_ready(page, timeout=300_000)
        assert info["ready"], info
        if info["worker"]["pad_device"] != "python":
            pytest.skip(f"the pad starts on {info['worker']['pad_device']} on this adapter ({info['adapter']})")
        page.locator("#pad").scroll_into_view_if_needed()
        page.locator("#pad-live").uncheck()
        _stroke(page, [(70, 60), (140, 60), (210, 60), (180, 130), (150, 200), (130, 250)])  # a 7, at once
        results, occlusion = {}, {}
        for phase in ("python", "browser"):
            if phase == "browser":
                wait(page, "gpumlPage.padDevice === 'browser'", timeout=600_000)
                assert "WebGPU" in page.inner_text("#facts")
            out = _predict(page)
            assert out["device"] == phase and out["label"] == 7 and not out["verdict"]["unsure"], out["verdict"]
            assert page.inner_text("#pad-timing").startswith("on CPU:" if phase == "python" else "on WebGPU:")
            page.locator("#pad").screenshot(path=str(ARTIFACTS / f"pad_phase_{phase}.png"))
            results[phase] = out
            # the class selector and saliency on this device
            n = page.evaluate("gpumlPage.predictions")
            page.locator("#pad-probs .bar").nth(8).click()
            wait(page, f"gpumlPage.predictions > {n}")
            sel = page.evaluate("gpumlPage.lastPrediction")
            assert sel["device"] in (phase, "browser") and sel["label"] == 7 and sel["explain"]["target"] == 8
            sal = _set(page, "#pad-explain", "saliency")
            assert sal["device"] in (phase, "browser") and sal["explain"]["method"] == "saliency"
            assert sal["explain"]["peak"] > 0
            _set(page, "#pad-target", "predicted")
            if phase == "browser":  # occlusion's batch compiled and tuned in the background once on WebGPU
                wait(page, "!!gpumlPage.padOcclusionWarm", timeout=600_000)
            occlusion[phase] = _set(page, "#pad-explain", "occlusion")
            assert occlusion[phase]["device"] in (phase, "browser") and occlusion[phase]["explain"]["peak"] > 1
            _set(page, "#pad-explain", "gradcam")
        cpu, gpu = results["python"], results["browser"]
        assert cpu["verdict"]["text"] == gpu["verdict"]["text"] and cpu["floor"] == gpu["floor"]
        diff = max(abs(a - b) for a, b in zip(cpu["probs"], gpu["probs"], strict=True))
        assert diff < 1e-4, (cpu["probs"], gpu["probs"])
        assert abs(cpu["explain"]["peak"] - gpu["explain"]["peak"]) < 1e-3 * max(1.0, cpu["explain"]["peak"])
        # occlusion: the CPU skips blank patches (their drop is 0), WebGPU classifies every copy: the same map
        a, b = (np.asarray(occlusion[p]["explain"]["map"]) * occlusion[p]["explain"]["peak"] for p in occlusion)
        assert np.abs(a - b).max() < 1e-3 * max(1.0, float(a.max())), np.abs(a - b).max()
        print("occlusion ms (explanation + maps):", {p: o["gradcam_and_draw_ms"] for p, o in occlusion.items()},
              "warm-up:", page.evaluate("gpumlPage.padOcclusionWarm"))  # fmt: skip
        page.click("#pad-clear")
        wait(page, "gpumlPage.lastPrediction === null")
        assert _predict(page)["empty"] is True
        ours = [e for e in page.evaluate("gpumlPage.errors") if "pad" in e or "predict" in e or "warm" in e]
        assert ours == [] and console_errors(page.console) == [], (ours, console_errors(page.console))
    finally:
        context.close()
