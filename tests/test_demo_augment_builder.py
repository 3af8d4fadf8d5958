"""The native augmentation window's pipeline builder, driven with the mouse offscreen: pointer events go through the
App's event handler (as rendercanvas delivers them) at the places the controls were drawn; the model's steps and
text spec change as a user would expect, errors show beside the control that caused them, and the gallery keeps
showing the original and 9 variants. Screenshots: test-artifacts/augment_builder_*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rendercanvas")
pytest.importorskip("PIL")

from test_demos import XTest, xvfb  # noqa: F401 (xvfb: the fixture that starts an X server)

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture
def app(native_device):
    import gpuml
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    previous = gpuml.get_device()
    gpuml.set_device(native_device)
    app = App(load_demo("augment"), {}, offscreen=True)
    yield app
    app.close()
    gpuml.set_device(previous)


def draw(app, shot: str | None = None) -> np.ndarray:
    img = np.asarray(app.canvas.draw())[:, :, :3]
    if shot:
        from gpuml.demos.app import save_png

        save_png(img, ARTIFACTS / f"augment_builder_{shot}.png")
    return img


def where(app, key: str, fx: float = 0.5) -> tuple[float, float]:
    """Design coordinates of a point on the control ``key`` as drawn in the last frame (fx: across it)."""
    box = next(b for b in app.demo.widgets.boxes if b.key == key)
    if box.kind == "slider":
        tx, tw = box.track
        return tx + fx * tw, box.y + box.h / 2
    return box.x + fx * box.w, box.y + box.h / 2


def pointer(app, kind: str, x: float, y: float, down: bool = True) -> None:
    app.feed({"event_type": kind, "x": x, "y": y, "buttons": (1,) if down else (), "modifiers": ()})


def click(app, key: str, fx: float = 0.5) -> dict:
    x, y = where(app, key, fx)
    pointer(app, "pointer_move", x, y, down=False)
    pointer(app, "pointer_down", x, y)
    pointer(app, "pointer_up", x, y, down=False)
    draw(app)  # the next frame: the controls' new places
    return app.demo.state()


def type_keys(app, text: str) -> None:
    for k in [*text] if not isinstance(text, list) else text:
        app.feed({"event_type": "key_down", "key": k, "modifiers": ()})


def gallery_cells(img: np.ndarray) -> list[np.ndarray]:
    """The builder layout's original (cell 0) and 9 variant cells (156-pixel cells at x 270, y 100)."""
    cells = [img[100:270, 50:230]]
    for i in range(9):
        y, x = 100 + (i // 3) * 156, 270 + (i % 3) * 156
        cells.append(img[y : y + 148, x : x + 148])
    return cells


def test_builder_with_the_mouse(app):
    demo, model = app.demo, app.demo.model
    draw(app)
    s = click(app, "tab:builder")
    assert s["builder"] and [st["name"] for st in s["steps"]] == ["rotate", "translate", "zoom", "brightness", "noise"]
    assert s["spec"] == "rotate 25, translate 3, zoom 0.2, brightness 0.3, noise 0.08"
    img = draw(app, "0_open")
    cells = gallery_cells(img)
    assert all((c.max(axis=2) > 150).sum() > 100 for c in cells), "the original or a variant cell is empty"
    assert model.variants.shape == (9, 1, 28, 28)
    assert not all(np.array_equal(cells[1], c) for c in cells[2:]), "the variants are identical"

    # add: pick "cutout" from the list; it goes at the end with its defaults (size 8 pixels, 1 hole)
    s = click(app, "add:cutout")
    assert s["spec"] == "rotate 25, translate 3, zoom 0.2, brightness 0.3, noise 0.08, cutout 8 1"
    draw(app, "1_added")
    # remove the first step
    s = click(app, "remove0")
    assert s["spec"] == "translate 3, zoom 0.2, brightness 0.3, noise 0.08, cutout 8 1"
    # move cutout (now step 5) up, above noise; the first step's "up" is disabled (no control there)
    s = click(app, "up4")
    assert s["spec"] == "translate 3, zoom 0.2, brightness 0.3, cutout 8 1, noise 0.08"
    assert "up0" not in [b.key for b in demo.widgets.boxes]
    s = click(app, "down0")
    assert s["spec"] == "zoom 0.2, translate 3, brightness 0.3, cutout 8 1, noise 0.08"
    draw(app, "2_reordered")

    # drag translate's shift slider (step 2, pixels 0..16, whole numbers) to the end, then back to the middle
    before = draw(app)
    x0, y = where(app, "s1:0", 3 / 16)
    pointer(app, "pointer_down", x0, y)
    x1, _ = where(app, "s1:0", 1.0)
    pointer(app, "pointer_move", (x0 + x1) / 2, y)
    pointer(app, "pointer_move", x1 + 40, y)  # past the end: clamped
    pointer(app, "pointer_up", x1 + 40, y, down=False)
    assert model.steps[1]["values"] == [16] and model.spec().startswith("zoom 0.2, translate 16,")
    after = draw(app, "3_dragged")
    assert not np.array_equal(before[100:560, 260:750], after[100:560, 260:750]), "the gallery did not change"
    above_track = after[int(y) - 7 : int(y) - 3]  # the knob is taller than the track
    assert (above_track[:, int(x1) - 3 : int(x1) + 3].max(axis=2) > 190).all(), "no knob at the slider's end"
    assert (above_track[:, int(x0) - 3 : int(x0) + 3].max(axis=2) < 120).all(), "the knob is still at the start"
    x, y = where(app, "s1:0", 0.5)
    pointer(app, "pointer_down", x, y)
    pointer(app, "pointer_up", x, y, down=False)
    assert model.steps[1]["values"] == [8]
    draw(app)

    # a probability slider: zoom (step 1) applies to a quarter of the images
    s = click(app, "s0:None", 0.25)
    assert s["spec"] == "zoom 0.2 p=0.25, translate 8, brightness 0.3, cutout 8 1, noise 0.08"
    assert s["errors"] == {}

    # a value the model refuses: a crop larger than the 28 x 28 image; the error shows beside that step and the
    # pipeline stays as it was
    click(app, "add:crop")
    assert model.spec().endswith(", crop 24 24")
    x, y = where(app, "s5:0", 1.0)
    pointer(app, "pointer_down", x, y)
    pointer(app, "pointer_up", x, y, down=False)
    s = demo.state()
    assert s["errors"] == {"step5": "step 6 (crop): size is at most 28 (image 28 x 28), got 48"}
    assert s["spec"].endswith(", crop 24 24") and model.variants.shape == (9, 1, 24, 24)
    draw(app, "4_error")
    s = click(app, "remove5")
    assert s["errors"] == {} and model.variants.shape == (9, 1, 28, 28)

    # the text spec: edits there become steps (and the steps' edits show there, above)
    click(app, "spec", 0.9)
    assert demo.state()["editing_spec"]
    type_keys(app, ["End", *", blur 3", "Enter"])
    s = demo.state()
    assert s["errors"]["spec"].startswith("unknown augmentation 'blur'") and s["editing_spec"]
    assert s["spec"] == "zoom 0.2 p=0.25, translate 8, brightness 0.3, cutout 8 1, noise 0.08"
    draw(app, "5_spec_error")
    type_keys(app, ["Backspace"] * len("blur 3") + [*"vflip 1", "Enter"])
    s = demo.state()
    assert not s["editing_spec"] and s["errors"] == {}
    assert s["spec"] == "zoom 0.2 p=0.25, translate 8, brightness 0.3, cutout 8 1, noise 0.08, vflip 1"
    assert [st["name"] for st in s["steps"]][-1] == "vflip" and s["steps"][-1]["p"] == 1.0
    img = draw(app, "6_spec_typed")
    cells = gallery_cells(img)
    assert all((c.max(axis=2) > 150).sum() > 50 for c in cells), "the original or a variant cell is empty"
    assert model.variants.shape == (9, 1, 28, 28)

    # the gallery follows the spec: one step, vflip with probability 1, gives 9 mirrored copies of the original
    click(app, "spec", 0.5)
    type_keys(app, ["End", *["Backspace"] * 200, *"vflip 1", "Enter"])
    assert model.spec() == "vflip 1" and len(model.steps) == 1
    draw(app, "7_vflip")
    v = model.variants.numpy()
    np.testing.assert_allclose(v[:, 0], np.repeat(demo.image[None, ::-1], 9, axis=0), atol=1e-6)
    # and back to the switches tab: the switches' pipeline again
    s = click(app, "tab:switches")
    assert not s["builder"] and s["spec"] == "rotate 25, translate 3, zoom 0.2, brightness 0.3, noise 0.08"


def test_switches_with_the_mouse(app):
    model = app.demo.model
    draw(app)
    s = click(app, "on:cutout")  # a click on a transform's name switches it on
    assert s["spec"].endswith(", cutout 7")
    x, y = where(app, "strength:rotate", 1.0)
    pointer(app, "pointer_down", x, y)
    pointer(app, "pointer_up", x, y, down=False)
    assert model.get("rotate_strength") == 180.0 and model.spec().startswith("rotate 180,")
    s = click(app, "new")
    assert s["seed"] == 1
    draw(app, "8_switches")


def test_long_pipeline_scrolls(app):
    draw(app)
    click(app, "tab:builder")
    for name in ("elastic", "cutout", "hflip", "hue", "contrast"):
        click(app, "add:" + name)
    model = app.demo.model
    assert len(model.steps) == 10
    keys = [b.key for b in app.demo.widgets.boxes]
    assert "remove9" in keys and "remove0" not in keys and "scroll_up" in keys  # the new step is in view
    while "scroll_up" in [b.key for b in app.demo.widgets.boxes]:
        click(app, "scroll_up")
    keys = [b.key for b in app.demo.widgets.boxes]
    assert "remove0" in keys and "remove9" not in keys and "scroll_down" in keys
    draw(app, "9_scrolled")
    # the mouse wheel over the list scrolls it too
    pointer(app, "pointer_move", 1000, 400, down=False)
    app.feed({"event_type": "wheel", "x": 1000, "y": 400, "dx": 0, "dy": 100, "modifiers": ()})
    draw(app)
    assert app.demo.steps.first == 1 and "remove0" not in [b.key for b in app.demo.widgets.boxes]


def test_real_window_under_xvfb(xvfb, native_device, tmp_path):  # noqa: F811
    """`gpuml demo augment` in a glfw window under Xvfb, driven with real X mouse and key events (XTest): open the
    builder, add cutout, remove the first step, drag translate's slider to its end, type a step into the spec."""
    pytest.importorskip("glfw")
    import json
    import os
    import subprocess
    import sys
    import time

    state, shot = tmp_path / "state.json", ARTIFACTS / "augment_builder_xvfb.png"
    env = dict(os.environ, DISPLAY=xvfb, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    cmd = [sys.executable, "-m", "gpuml", "demo", "augment", "--frames", "100000", "--state", str(state)]
    cmd += ["--screenshot", str(shot)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "first frame drawn" in line:
                break
        assert any("first frame drawn" in ln for ln in lines), "".join(lines)
        x = XTest(xvfb)
        try:  # the window sits at (0, 0) in the design size: screen pixels are design pixels

            def click(px, py):
                x.move(px, py)
                x.button(1, True)
                x.button(1, False)
                time.sleep(0.4)  # a frame or two: the next click sees the new layout

            click(962, 27)  # the "builder" tab
            click(187, 498)  # add: cutout
            click(1215, 116)  # step 1's remove (rotate)
            x.move(900, 141)  # translate's shift slider, now step 1
            x.button(1, True)
            for px in range(900, 1120, 20):
                x.move(px, 141)
            x.button(1, False)
            time.sleep(0.4)
            click(500, 650)  # the spec field
            for k in ["End", "comma", "space", "v", "f", "l", "i", "p", "space", "1", "Return"]:
                x.key(k)
            time.sleep(0.5)
            x.key("Escape")
        finally:
            x.close()
        out, _ = proc.communicate(timeout=60)
        lines.append(out)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines)
    s = json.loads(state.read_text())["state"]
    assert s["builder"] and s["errors"] == {}, s
    assert s["spec"] == "translate 16, zoom 0.2, brightness 0.3, noise 0.08, cutout 8 1, vflip 1", s
