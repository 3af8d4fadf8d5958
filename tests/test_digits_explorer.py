"""The CNN explorer (issue #17 point 1), natively: the "unsure" verdict on real MNIST test digits against random
scribbles (real rates), the explanation methods, layer selector, class selector, Predict and Clear on the demo
model; the native window's panels offscreen; and under Xvfb, the first stroke after launch captured whole while
the first prediction compiles its kernels (it used to be merged into one straight line)."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "native")


@pytest.fixture(scope="module")
def lenet(native_device):
    from gpuml.demos.digits import default_model_path
    from gpuml.train import load_model

    path = default_model_path()
    if path is None:
        pytest.skip("no shipped model")
    return load_model(path, native_device)[0]


@pytest.fixture(scope="module")
def test_digits():
    from gpuml.datasets import data_dir, mnist

    if not (data_dir() / "mnist").exists():
        pytest.skip("MNIST is not on disk")
    return mnist("test")


def scribble(m, rng: random.Random) -> None:
    """A random pen path over the pad: 4-12 points in one stroke (what a user doodles instead of a digit)."""
    from gpuml.playground.digits import PAD

    m.press("clear")
    pts = [(rng.uniform(0.1, 0.9) * PAD, rng.uniform(0.1, 0.9) * PAD) for _ in range(rng.randint(4, 12))]
    m.stroke(pts)


def test_pad_drawn_digits_read_sure_and_right(lenet, test_digits):
    """Digits drawn on the pad as users draw them (gpuml.playground.scribbles.pad_digits, default brush): the
    outlier-exposed model must not have learned to doubt them."""
    from gpuml.playground.digits import BRUSH, DigitsModel
    from gpuml.playground.scribbles import pad_digits

    m = DigitsModel(lenet, name="lenet5", host_ink=True)
    m.calibrate(test_digits.images[:512].reshape(512, -1).tolist())
    wrong = []
    for digit, ways in pad_digits().items():
        for strokes in ways:
            m.press("clear")
            for stroke in strokes:
                m.stroke(stroke.tolist())
            m.predict()
            v = m.result["verdict"]
            if v["label"] != digit or v["unsure"]:
                wrong.append((digit, v["text"]))
    assert m.values["brush"] == BRUSH
    # measured: 19/20, the European 1 (a flag on top) reads "unsure — looks most like 1": MNIST's 1s have none
    assert len(wrong) <= 2, wrong


def test_unsure_reads_scribbles_not_mnist_digits(lenet, test_digits):
    from gpuml.playground.digits import INK, DigitsModel
    from gpuml.playground.digits_explain import verdict
    from gpuml.playground.mnist import ink_to_mnist

    m = DigitsModel(lenet, name="lenet5", host_ink=True)
    floor = m.calibrate(test_digits.images[:512].reshape(512, -1).tolist())
    assert 4.0 < floor < 10.0, floor  # the shipped LeNet-5's evidence, 5th percentile of real digits (~7.1)
    held_out = test_digits.images[1000:1300].reshape(300, -1)
    import gpuml

    logits = lenet.forward(gpuml.tensor(held_out.reshape(300, 1, 28, 28), device=lenet.device)).tolist()
    digits = [verdict(row, floor) for row in logits]
    digit_unsure = sum(v["unsure"] for v in digits) / len(digits)
    rng = random.Random(0)
    scribbles = []
    from gpuml.demos.digits import default_model_path
    from gpuml.explain import _forward
    from gpuml.playground.novelty import from_file

    cue = from_file(default_model_path())  # the feature cue the window and the page read with this model
    for _ in range(120):
        scribble(m, rng)
        outs = _forward(lenet, m.image(ink_to_mnist(m.ink_values(), INK)))
        scribbles.append(verdict(outs[-1].tolist()[0], floor, m.weak_line, outs[cue["layer"]].tolist()[0], cue))
    scribble_unsure = sum(v["unsure"] for v in scribbles) / len(scribbles)
    confident = sum(v["prob"] > 0.95 for v in scribbles) / len(scribbles)
    print(f"unsure: MNIST test digits {digit_unsure:.1%}, scribbles {scribble_unsure:.1%} "
          f"(scribbles with top probability > 95%: {confident:.1%}); floor {floor:.2f}")  # fmt: skip
    # the shipped model saw scribbles in training (outlier exposure); benchmarks/scribble_ood_probe.py measures
    # ~5% of MNIST test digits and ~88% of random scribbles unsure (here: 8.3% of these 300 digits, 90.8%)
    assert digit_unsure <= 0.10, digit_unsure
    assert scribble_unsure >= 0.85, scribble_unsure
    # the weak line (10th percentile): sure, but "weak evidence" said in the text
    weak_line = m.weak_line
    assert floor < weak_line < 12.0, (floor, weak_line)
    digits = [verdict(row, floor, weak_line) for row in logits]
    sure_digits = [v for v in digits if not v["unsure"]]
    digit_weak = sum(v["weak"] for v in sure_digits) / len(sure_digits)
    print(f"weak line {weak_line:.2f}: sure digits weak {digit_weak:.1%}")
    assert 0.01 <= digit_weak <= 0.12, digit_weak  # ~6% of real digits: unusual ones
    from gpuml.playground.digits_explain import _apart

    def low(ev):  # one decimal, more where one would read "8.4 < 8.4" (review19)
        return "evidence {} < {} (90% of real test digits score higher)".format(*_apart(ev, weak_line, 1))

    for v in digits:
        second = sorted(range(10), key=lambda i: v["probs"][i])[-2]
        maybe = f"or maybe {second} ({v['probs'][second] * 100:.0f}%)"  # sure under 90%: the runner-up is named
        if v["weak"] and v["evidence"] < weak_line:
            tail = f", {maybe}" if v["prob"] < 0.9 else ""
            assert v["text"] == f"{v['label']} ({v['prob'] * 100:.1f}%), weak evidence{tail}", v
            assert v["reason"].split("; ")[0] == low(v["evidence"]), v
        elif v["weak"]:
            assert v["prob"] < 0.9, v
            assert v["text"] == f"{v['label']} ({v['prob'] * 100:.1f}%), {maybe}", v
            assert v["reason"] == f"top probability {v['prob'] * 100:.1f}% < 90%", v  # as the headline prints it
        elif not v["unsure"]:
            assert v["prob"] >= 0.9 and v["evidence"] >= weak_line, v
    for v in scribbles:
        if v["unsure"] and v["prob"] < 0.3:  # ten near-equal bars: no class is named as "looks most like"
            assert v["text"] == f"unsure — no digit stands out ({v['label']}: {v['prob'] * 100:.0f}%)", v
        elif v["unsure"] and v["prob"] < 0.7:  # two or more classes compete: the probability says so
            assert v["text"] == f"unsure — looks most like {v['label']} ({v['prob'] * 100:.0f}%)", v
        elif v["unsure"]:  # a high probability on little evidence: no "unsure ... (100%)"
            assert v["text"] == f"unsure — looks most like {v['label']}, but on very little evidence", v
            assert "evidence" in v["reason"] and "top probability" not in v["reason"], v
    assert {v["prob"] < 0.7 for v in scribbles if v["unsure"]} == {True, False}  # both kinds of unsure occur
    # of the doodles that pass the unsure rule, some get a hint ("weak evidence", "unlike the 7s it learned from");
    # the rest read plainly sure (measured 6 of 120 with the feature cue, 7 without: strokes shaped like a 4, 7, 8 or
    # 6 when looked at)
    sure = [v for v in scribbles if not v["unsure"]]
    print("sure scribbles:", [v["text"] for v in sure])
    assert any(v["weak"] for v in sure) and sum(not v["weak"] for v in sure) <= 8, [v["text"] for v in sure]


def test_explorer_methods_layers_classes_and_clear(lenet, test_digits):
    from gpuml.playground.digits import DigitsModel

    m = DigitsModel(lenet, name="lenet5")
    m.calibrate(test_digits.images[:256].reshape(256, -1).tolist())
    m.sample()
    m.step()
    assert m.label == 2 and not m.result["verdict"]["unsure"] and m.result["verdict"]["text"].startswith("2 (")
    assert [e["name"] for e in m.layers] == ["conv 1", "relu 1", "max-pool 1", "conv 2", "relu 2", "max-pool 2"]
    shapes = {}
    for e in m.layers:  # every conv / activation / pool layer, its maps at their own (square) shape
        m.set("layer", e["name"])
        m.step()
        shapes[e["name"]] = (len(m.activations), *m.activations[0][:2])
    assert shapes == {"conv 1": (6, 28, 28), "relu 1": (6, 28, 28), "max-pool 1": (6, 14, 14),
                      "conv 2": (16, 10, 10), "relu 2": (16, 10, 10), "max-pool 2": (16, 5, 5)}  # fmt: skip
    m.set("layer", "relu 1")
    m.step()
    relu1 = np.asarray([a[2] for a in m.activations])
    m.set("layer", "conv 1")
    m.step()
    np.testing.assert_allclose(relu1, np.maximum(np.asarray([a[2] for a in m.activations]), 0), atol=1e-6)
    peaks = {}
    for method in ("gradcam", "hirescam", "saliency", "occlusion"):
        m.set("explain", method)
        m.step()
        ex = m.result["explain"]
        assert len(ex["map"]) == 784 and max(ex["map"]) == pytest.approx(1.0) and min(ex["map"]) >= 0
        assert ex["peak"] > 0 and m.result["target"] == 2
        peaks[method] = ex["peak"]
        # saliency and occlusion weigh the ink: most of their mass on or next to inked pixels
        ink = np.asarray(m.pixels).reshape(28, 28) > 0.1
        near = np.zeros_like(ink)
        for dy in (-2, -1, 0, 1, 2):
            for dx in (-2, -1, 0, 1, 2):
                near |= np.roll(np.roll(ink, dy, 0), dx, 1)
        heat = np.asarray(ex["map"]).reshape(28, 28)
        if method == "gradcam":  # as gpuml.explain.grad_cam computes it (numpy, receptive-field centred)
            from gpuml.explain import grad_cam

            ref = grad_cam(lenet, np.asarray(m.pixels, np.float32).reshape(1, 28, 28), target_class=2)[0]
            np.testing.assert_allclose(heat, ref, atol=1e-4)
        elif method == "hirescam":  # the same, gradients not averaged; on the strokes
            from gpuml.explain import grad_cam

            ref = grad_cam(lenet, np.asarray(m.pixels, np.float32).reshape(1, 28, 28), target_class=2, hires=True)[0]
            np.testing.assert_allclose(heat, ref, atol=1e-4)
            assert heat[near].sum() > 0.6 * heat.sum() and ex["what"].startswith("HiResCAM at layer 4"), ex["what"]
        else:
            assert heat[near].sum() > 0.6 * heat.sum(), method
    m.set("explain", "gradcam")
    m.set("target", "7")  # the class selector: Grad-CAM of another digit than the predicted one
    m.step()
    assert m.result["target"] == 7 and m.label == 2 and "class 7" in m.result["explain"]["what"]
    updates = m.updates
    m.press("predict")
    m.step()
    assert m.updates == updates + 1
    m.press("clear")  # every panel resets at once, before any prediction
    assert m.label is None and m.result["verdict"] is None and m.activations == [] and max(m.cam_image) == 0
    assert m.state()["ink"] == 0
    with pytest.raises(ValueError, match=r"^control 'layer' takes one of 'conv 1', .*got 'conv 9'$"):
        m.set("layer", "conv 9")
    methods = "'gradcam', 'hirescam', 'saliency', 'occlusion'"
    with pytest.raises(ValueError, match=rf"^control 'explain' takes one of {methods}"):
        m.set("explain", "lime")


def test_clear_drops_a_prediction_under_way(lenet):
    from gpuml.playground.digits import DigitsModel

    m = DigitsModel(lenet, host_ink=True)
    m.sample()
    real = m.ink_values
    m.ink_values = lambda: (m.clear(), real())[1]  # Clear lands while the prediction reads the ink
    m.predict()
    assert m.label is None and m.result["verdict"] is None


# --- the native window -------------------------------------------------------------------------------------------


@pytest.fixture
def app(native_device):
    pytest.importorskip("rendercanvas")
    import gpuml
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    previous = gpuml.get_device()
    gpuml.set_device(native_device)
    a = App(load_demo("digits"), {"sample": True}, offscreen=True)
    yield a
    a.demo.predictor.close()
    a.close()
    gpuml.set_device(previous)


def _click(app, x, y, buttons=(1,)):
    app.feed({"event_type": "pointer_down", "x": x, "y": y, "buttons": buttons, "modifiers": ()})
    app.feed({"event_type": "pointer_up", "x": x, "y": y, "buttons": (), "modifiers": ()})
    app.demo.predictor.wait_idle()


def test_native_panels_tabs_and_clear(app):
    from gpuml.demos.app import save_png
    from gpuml.demos.digits import CLEAR_BUTTON, PROBS

    demo = app.demo
    img = np.asarray(app.canvas.draw())[:, :, :3]
    os.makedirs(ARTIFACTS, exist_ok=True)
    save_png(img, os.path.join(ARTIFACTS, "digits_explorer_sample.png"))
    s = demo.state()
    assert s["prediction"] == 2 and s["unsure"] is False and s["explain"] == "gradcam"
    # filters panel: both convolutions drawn in the diverging map (saturated red and blue pixels)
    filt = img[660:770, 500:1240].astype(int)
    red = ((filt[..., 0] > 200) & (filt[..., 2] < 120)).sum()
    blue = ((filt[..., 2] > 200) & (filt[..., 0] < 120)).sum()
    assert red > 200 and blue > 200, (red, blue)
    for name, box in list(demo._method_tabs()):
        _click(app, box[0] + 5, box[1] + 5)
        assert demo.state()["explain"] == name
    layers = list(demo._layer_tabs())
    _click(app, layers[5][1][0] + 5, layers[5][1][1] + 5)
    assert demo.state()["layer"] == "max-pool 2" and len(demo.model.activations) == 16
    _click(app, PROBS[0] + 20, PROBS[1] + 30 + 7 * 25 + 5)  # the row of digit 7: explain class 7
    assert demo.state()["target"] == 7
    img = np.asarray(app.canvas.draw())[:, :, :3]
    save_png(img, os.path.join(ARTIFACTS, "digits_explorer_tabs.png"))
    _click(app, CLEAR_BUTTON[0] + 10, CLEAR_BUTTON[1] + 10)
    s = demo.state()
    assert s["ink"] == 0 and s["prediction"] is None and s["verdict"] is None and demo.model.activations == []


def test_native_scribble_reads_unsure(app):
    if app.demo.model.floor is None:
        pytest.skip("MNIST is not on disk: no evidence floor")
    demo = app.demo
    _click(app, 100, 520, buttons=(2,))  # right button: clear
    pts = [(60, 100), (440, 460), (70, 450), (430, 90), (250, 480), (120, 200)]
    app.feed({"event_type": "pointer_down", "x": pts[0][0], "y": pts[0][1], "buttons": (1,), "modifiers": ()})
    for x, y in pts[1:]:
        app.feed({"event_type": "pointer_move", "x": x, "y": y, "buttons": (1,), "modifiers": ()})
    app.feed({"event_type": "pointer_up", "x": 120, "y": 200, "buttons": (), "modifiers": ()})
    app.canvas.draw()
    demo.predictor.wait_idle()
    from gpuml.demos.app import save_png

    save_png(np.asarray(app.canvas.draw()), os.path.join(ARTIFACTS, "digits_explorer_scribble.png"))
    s = demo.state()
    assert s["unsure"] is True and s["verdict"].startswith("unsure — "), s


def test_first_stroke_after_launch_is_whole_under_xvfb(tmp_path):
    """Launch the window and draw an L at once, while the first prediction compiles its kernels: the ink has
    the corner of the L and nothing on the straight line between the stroke's ends."""
    pytest.importorskip("glfw")
    from test_demos import XTest, _free_display

    if not shutil_which("Xvfb"):
        pytest.skip("Xvfb is not installed")
    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1400x1000x24"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{n}"):
                break
            time.sleep(0.05)
        env = dict(os.environ, DISPLAY=f":{n}", XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
        state = tmp_path / "state.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "gpuml", "demo", "digits", "--frames", "100000", "--state", str(state)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            lines = []
            while True:
                line = proc.stdout.readline()
                if not line:
                    pytest.fail("the demo window did not draw a frame:\n" + "".join(lines))
                lines.append(line)
                if "first frame drawn" in line:
                    break
            x = XTest(f":{n}")
            try:
                # pad 40..460 x 70..490 (420 px for 28 cells): down from (120, 120) to (120, 400), right to 400
                x.move(120, 120)
                x.button(1, True)
                for y in range(130, 401, 10):
                    x.move(120, y)
                for xx in range(130, 401, 10):
                    x.move(xx, 400)
                x.button(1, False)
                time.sleep(1.0)
                x.key("Escape")
            finally:
                x.close()
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, "".join(lines) + out
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    result = json.loads(state.read_text())
    ink = np.asarray(result["state"]["ink28"])
    print("\n".join("".join("#" if v > 0.3 else "." for v in row) for row in ink), result.get("frame_ms_max"))

    def inked(px, py):  # ink within one pad cell of screen point (px, py); frames merge a few moves into chords
        r, c = int((py - 70) / 15), int((px - 40) / 15)
        return ink[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].max() > 0.3

    assert all(inked(120, y) for y in (160, 260, 360)), "the down stroke is missing"
    assert inked(120, 400), "the corner of the L is missing"
    assert all(inked(x, 400) for x in (160, 260, 360)), "the right stroke is missing"
    assert not inked(260, 260), "ink on the straight line between the ends: the stroke was merged"


def shutil_which(name):
    import shutil

    return shutil.which(name)


def test_empty_grad_cam_falls_back_to_hires_cam(lenet, test_digits):
    """Grad-CAM's ReLU can leave nothing: the spatially averaged gradients of every channel cancel against its
    activations (6 of 1,000 test digits, all 9s, with the shipped model, and a third of hand-drawn 9s). The explorer
    then shows HiResCAM (the same gradients, not averaged: gradient x activation at each position) and says so in
    its caption, also where Grad-CAM is nearly empty (peak under 1% of HiResCAM's: most of this model's 9s); only
    when HiResCAM is empty too does it say "empty" in words (page caption, native overlay)."""
    from gpuml import explain as gx
    from gpuml import nn
    from gpuml.playground.digits_explain import HIRES_BELOW, explain
    from gpuml.tensor import tensor

    images = test_digits.images[:1000]
    cams = gx.grad_cam(lenet, images, return_parts=True)
    empty = [i for i, cam in enumerate(cams["cam_lowres"]) if cam.max() <= 0]
    assert 0 < len(empty) <= 20, len(empty)  # measured 6 of 1,000 (all 9s) with the shipped model
    for i in empty:
        cls = int(cams["classes"][i])
        ex = explain(lenet, tensor(images[i : i + 1], device=lenet.device), "gradcam", cls)
        assert ex["what"] == f"HiResCAM, class {cls} (Grad-CAM empty)", ex["what"]
        assert ex["peak"] > 0 and ex["note"] == "", ex
        heat = np.asarray(ex["map"]).reshape(28, 28)
        ink = np.asarray(images[i]).reshape(28, 28) > 0.3
        assert heat[ink].mean() > 2 * heat[~ink].mean()  # on the strokes, not the background
    ex = explain(lenet, tensor(images[0:1], device=lenet.device), "gradcam", int(cams["classes"][0]))
    assert ex["what"].startswith("Grad-CAM at layer 4") and ex["peak"] > 0 and ex["note"] == ""
    # nearly empty: Grad-CAM's peak under HIRES_BELOW of HiResCAM's (measured 84 of 1,000, 70 of them 9s)
    hires = gx.grad_cam(lenet, images, hires=True, return_parts=True)["cam_lowres"]
    ratio = cams["cam_lowres"].reshape(1000, -1).max(1) / hires.reshape(1000, -1).max(1)
    weak = [i for i in np.flatnonzero(ratio < HIRES_BELOW) if i not in empty]
    strong = np.flatnonzero(ratio > 2 * HIRES_BELOW)
    assert 20 <= len(weak) <= 150 and len(strong) >= 800, (len(weak), len(strong))
    for i in (weak[0], strong[0]):
        cls = int(cams["classes"][i])
        ex = explain(lenet, tensor(images[i : i + 1], device=lenet.device), "gradcam", cls)
        want = f"HiResCAM, class {cls} (Grad-CAM nearly empty)" if i in weak else "Grad-CAM at layer 4"
        assert ex["what"].startswith(want), (i, ex["what"])
        low_peak = (hires if i in weak else cams["cam_lowres"])[i].max()  # the map is upsampled between cells
        assert 0.3 * low_peak < ex["peak"] <= low_peak * (1 + 1e-5), (ex["peak"], low_peak)
    # off the ink: under HIRES_OFF_INK of Grad-CAM's heat on the strokes (a review's bicycle: 0.4%) -> HiResCAM,
    # said in the caption; measured 2 of the first 300 digits (182, 261); the map shown then lies on the strokes
    from gpuml.playground.digits_explain import HIRES_OFF_INK, _on_ink

    rng = np.random.default_rng(0)
    heat, px = rng.normal(size=784), rng.uniform(size=784)
    want = heat[(heat > 0) & (px > 0.1)].sum() / heat[heat > 0].sum()
    assert _on_ink(heat.tolist(), px.tolist()) == pytest.approx(want, rel=1e-9)
    off = []
    for i in range(300):
        ex = explain(lenet, tensor(images[i : i + 1], device=lenet.device), "gradcam", int(cams["classes"][i]))
        if ex["what"].endswith("(Grad-CAM off the ink)"):
            off.append(i)
            share = _on_ink(ex["map"], np.asarray(images[i], np.float64).ravel().tolist())
            assert share > 10 * HIRES_OFF_INK, (i, share)
    assert 1 <= len(off) <= 10, off
    # HiResCAM was never empty on the shipped model (500 digit/class pairs tried); a model whose class score only
    # falls with every activation leaves both maps empty, and then the caption says so in words
    tiny = nn.from_spec("conv 2 3 pad1 relu | flatten | fc 10", input_shape=(1, 28, 28), device=lenet.device, seed=1)
    state = tiny.state_dict()
    tiny.load_state_dict({**state, "3.weight": -np.abs(np.asarray(state["3.weight"]))})
    ex = explain(tiny, tensor(images[0:1], device=lenet.device), "gradcam", 3)
    assert ex["peak"] == 0 and max(ex["map"]) == 0
    assert ex["note"].startswith("empty: no region raises this class's score"), ex["note"]


def _arc(cx, cy, rx, ry, a0=0.0, a1=360.0, n=24):
    angles = [math.radians(a0 + (a1 - a0) * i / n) for i in range(n + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _heart():
    t = [2 * math.pi * i / 40 for i in range(41)]
    y = [13 * math.cos(a) - 5 * math.cos(2 * a) - 2 * math.cos(3 * a) - math.cos(4 * a) for a in t]
    return [[(140 + 96 * math.sin(a) ** 3, 130 - 6 * v) for a, v in zip(t, y, strict=True)]]


# drawings a reviewer made on the pad that the model before the drawn-shape outliers read sure ("0 (100.0%)" for
# the heart, "7 (99.5%)" for the grid), and other shapes people draw instead of a digit
DRAWN_SHAPES = {
    "heart": _heart(),
    "tic-tac-toe": [[(105, 40), (105, 240)], [(175, 40), (175, 240)], [(40, 105), (240, 105)], [(40, 175), (240, 175)]],
    "face": [_arc(140, 140, 105, 115, n=40), _arc(100, 105, 14, 10, n=10), _arc(180, 105, 14, 10, n=10),
             [(140, 120), (130, 160), (145, 162)], _arc(140, 175, 45, 30, 20, 160, 14)],
    "crown": [[(50, 220), (40, 70), (95, 150), (140, 50), (185, 150), (240, 70), (230, 220), (50, 220)]],
    "house": [[(60, 240), (60, 120), (140, 45), (220, 120), (220, 240), (60, 240)],
              [(115, 240), (115, 170), (165, 170), (165, 240)]],
    "letter E": [[(200, 45), (75, 45), (75, 235), (205, 235)], [(75, 140), (180, 140)]],
    "letter H": [[(70, 40), (70, 240)], [(210, 40), (210, 240)], [(70, 140), (210, 140)]],
}  # fmt: skip


def test_drawn_shapes_read_unsure(lenet, test_digits):
    from gpuml.playground.digits import DigitsModel

    m = DigitsModel(lenet, name="lenet5", host_ink=True)
    m.calibrate(test_digits.images[:512].reshape(512, -1).tolist())
    shown = {}
    for name, strokes in DRAWN_SHAPES.items():
        m.press("clear")
        for stroke in strokes:
            m.stroke(stroke)
        m.predict()
        shown[name] = m.result["verdict"]["text"]
    print(shown)
    assert all(text.startswith("unsure — ") for text in shown.values()), shown
