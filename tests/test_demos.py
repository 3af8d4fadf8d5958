"""Demo windows: every demo renders offscreen and its screenshot has the expected content; input events change
demo state; one test opens a real glfw window under Xvfb and drives it with X input events (XTest)."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from gpuml.demos.render import PALETTE, rgba

pytest.importorskip("rendercanvas")
pytest.importorskip("PIL")

EXPECT_GPU = os.environ.get("GPUML_EXPECT_GPU") == "1"


def frame(app, n: int = 2) -> np.ndarray:
    image = None
    for _ in range(n):
        image = app.canvas.draw()
    return np.asarray(image)[:, :, :3]


def color_pixels(img: np.ndarray, color, tol: int = 12) -> int:
    """Number of pixels within ``tol`` (per channel) of ``color``."""
    target = np.array([round(v * 255) for v in rgba(color)[:3]])
    return int((np.abs(img.astype(np.int32) - target).max(axis=2) <= tol).sum())


def assert_not_blank(img: np.ndarray) -> None:
    assert img.shape == (800, 1280, 3)
    assert img.std() > 10, "frame is (nearly) uniform"
    assert len(np.unique(img.reshape(-1, 3) // 16, axis=0)) > 20, "frame has too few distinct colors"


def test_kmeans_frame_has_k_cluster_colors(app_for, tmp_path):
    app = app_for("kmeans", points=3000, k=5, speed=60, steps_per_frame=4)
    img = frame(app, 12)
    assert_not_blank(img)
    scatter = img[44:734, 20:840]
    from gpuml.demos.kmeans import KMEANS_PALETTE

    present = [j for j in range(15) if color_pixels(scatter, KMEANS_PALETTE[j], 6) > 150]
    assert present == list(range(5)), f"cluster colors present: {present}"
    state = app.demo.state()
    assert state["revealed"] == 5 and state["n_iter"] >= 1
    from gpuml.demos.app import save_png

    save_png(np.asarray(app.canvas.draw()), tmp_path / "kmeans.png")
    assert (tmp_path / "kmeans.png").stat().st_size > 10_000


def test_kmeans_keys_change_state(app_for):
    app = app_for("kmeans", points=2000, k=3, paused=True)
    frame(app, 1)
    s0 = app.demo.state()
    assert not s0["playing"] and s0["revealed"] == 1
    for key in ("s", "s", "s", "s"):  # two more init steps, then two Lloyd iterations
        app.feed({"event_type": "key_down", "key": key, "modifiers": ()})
    assert app.demo.state()["revealed"] == 3 and app.demo.state()["n_iter"] == 2
    for key in ("ArrowUp", "2", "v", "+", " "):
        app.feed({"event_type": "key_down", "key": key, "modifiers": ()})
    s1 = app.demo.state()
    assert (s1["k"], s1["dataset"], s1["voronoi"], s1["playing"]) == (4, "moons", False, True)
    assert s1["speed"] > s0["speed"] and s1["n_iter"] == 0
    img = frame(app, 2)
    assert_not_blank(img)


def _kmeans_expected(app, img):
    """(centre pixel of each data point, its label's color) and (background pixels, their expected color) for the
    k-means demo's current state, computed with numpy from the engine's buffers (the frame may be HiDPI)."""
    from gpuml.demos.kmeans import KMEANS_PALETTE, PLOT
    from gpuml.demos.render import PANEL

    demo, model = app.demo, app.demo.model
    h, w = img.shape[:2]
    sx, sy = w / 1280, h / 800
    pal = np.array([[round(v * 255) for v in rgba(c)[:3]] for c in KMEANS_PALETTE])
    a, b, c, d = demo.xform
    xy = np.asarray(model.run.points(), np.float64)[:, :2]
    px, py = (xy[:, 0] * a + c) * sx, (xy[:, 1] * b + d) * sy
    centres = np.asarray(model.centers(), np.float64)[: model.revealed, :2]
    cx, cy = (centres[:, 0] * a + c) * sx, (centres[:, 1] * b + d) * sy
    # points: skip those under a centroid marker (radius 10 design px)
    near_marker = np.hypot(px[:, None] - cx, py[:, None] - cy).min(1) < 14 * sx
    labels = np.asarray(model.labels())
    points = (np.floor(px).astype(int)[~near_marker], np.floor(py).astype(int)[~near_marker])
    point_colors = pal[np.minimum(labels[~near_marker], 15)]
    # background: pixels at least 5 design px from every point and 14 from every centroid, not on a cell border
    x0, y0, pw, ph = PLOT
    gx, gy = np.meshgrid(
        np.arange(int(x0 * sx) + 2, int((x0 + pw) * sx) - 2, 7), np.arange(int(y0 * sy) + 2, int((y0 + ph) * sy) - 2, 7)
    )
    gx, gy = gx.ravel(), gy.ravel()
    busy = np.zeros((h, w), bool)
    reach = int(np.ceil(5 * sx))
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            busy[np.clip(np.floor(py).astype(int) + dy, 0, h - 1), np.clip(np.floor(px).astype(int) + dx, 0, w - 1)] = (
                True
            )
    data = np.stack([((gx + 0.5) / sx - c) / a, ((gy + 0.5) / sy - d) / b], 1)
    dist = np.hypot(data[:, None, 0] - centres[:, 0], data[:, None, 1] - centres[:, 1])
    order = np.sort(dist, 1)
    border = (order[:, 1] - order[:, 0] if len(centres) > 1 else np.inf) * a < 2 * sx  # within ~1 px of a bisector
    marker = np.hypot(gx[:, None] + 0.5 - cx, gy[:, None] + 0.5 - cy).min(1) < 14 * sx
    keep = ~busy[gy, gx] & ~border & ~marker
    panel = np.array([round(v * 255) for v in rgba(PANEL)[:3]], np.float64)
    tint = 0.22 if model.get("voronoi") else 0.0
    expected = np.round(panel * (1 - tint) + pal[dist.argmin(1)] * tint)
    return points, point_colors, (gy[keep], gx[keep]), expected[keep]


def assert_kmeans_pixels(app, img):
    points, point_colors, background, background_colors = _kmeans_expected(app, img)
    img = img.astype(np.int32)
    hit = (np.abs(img[points[1], points[0]] - point_colors).max(1) <= 3).mean()
    # a point with a higher label may take a shared pixel (ties): nearly every centre shows its own color
    assert hit > 0.97, f"only {hit:.1%} of the data points' centre pixels have their label's color"
    assert len(background[0]) > 1000
    ok = np.abs(img[background] - background_colors).max(1) <= 2
    assert ok.mean() > 0.995, f"{(~ok).sum()} of {ok.size} background pixels differ from the nearest centroid's tint"


@pytest.mark.parametrize("physical", [None, (1920, 1200)], ids=["1x", "1.5x"])
def test_kmeans_points_and_cells_match_numpy(app_for, physical):
    """The splatted points (render/points_splat.wgsl) and the Voronoi cells (render/scatter.wgsl) against numpy:
    a data point's centre pixel has its label's color; a pixel away from all points has its nearest centroid's
    tint. Also after more iterations (new labels, same splat words), after a dataset switch (no stale words) and
    with the tint off."""
    app = app_for("kmeans", points=2000, k=5, paused=True)
    if physical:
        app.canvas.set_physical_size(*physical)
    demo = app.demo.model
    for _ in range(demo.k - 1 + 3):  # reveal the k-means++ centroids, then 3 Lloyd iterations
        demo.step()
    img = frame(app, 1)
    assert img.shape[:2] == ((physical[1], physical[0]) if physical else (800, 1280))
    assert_kmeans_pixels(app, img)
    for _ in range(2):  # the labels change, the splat words (positions only) stay
        demo.step()
        assert_kmeans_pixels(app, frame(app, 1))
    app.feed({"event_type": "key_down", "key": "2", "modifiers": ()})  # moons: every point moves
    for _ in range(demo.k - 1 + 2):
        demo.step()
    assert_kmeans_pixels(app, frame(app, 1))  # no word of the old points is left
    app.feed({"event_type": "key_down", "key": "v", "modifiers": ()})
    assert_kmeans_pixels(app, frame(app, 1))


def test_kmeans_bench_mode_iterates_every_frame(app_for):
    """Benchmark mode (benchmarks/bench_demos.py): one Lloyd iteration per frame, a new k-means++ init on
    convergence, all centroids shown at once; the frame shows the labels and cells of its iteration."""
    app = app_for("kmeans", points=2000, k=5, bench=True)
    for _ in range(25):
        img = frame(app, 1)
    assert_kmeans_pixels(app, img)
    s = app.demo.state()
    assert s["iterations"] == 25 and s["resets"] > 1 and s["revealed"] == 5, s


def test_kmeans_k15_colours_seeding_weights_and_panels_off_the_render_thread(app_for, tmp_path):
    """k = 15 (the slider's top) draws 15 distinct cluster colours; during seeding the points show their D^2
    weights (heat levels, not cluster colours) and one centre appears per step; the elbow/silhouette panels fill
    in from the worker thread while frames keep coming, with the suggested k marked."""
    from gpuml.demos.app import save_png
    from gpuml.demos.kmeans import HEAT_PALETTE, KMEANS_PALETTE, PLOT

    app = app_for("kmeans", points=3000, k=15, paused=True)
    model = app.demo.model
    img = frame(app, 1)
    x, y, w, h = PLOT
    scatter = img[y : y + h, x : x + w]
    hot = sum(color_pixels(scatter, c, 6) for c in HEAT_PALETTE[7:15])
    assert hot > 100, "no bright D^2 weights on screen during seeding"
    for revealed in range(2, 16):
        app.feed({"event_type": "key_down", "key": "s", "modifiers": ()})
        assert model.revealed == revealed and model.n_iter == 0
        frame(app, 1)
    for _ in range(6):
        model.step()
    img = frame(app, 1)
    save_png(img, tmp_path / "kmeans15.png")
    scatter = img[y : y + h, x : x + w]
    present = [j for j in range(15) if color_pixels(scatter, KMEANS_PALETTE[j], 6) > 100]
    assert present == list(range(15)), f"cluster colours present: {present}"
    assert_kmeans_pixels(app, img)
    # the panels: computed in the worker while frames are drawn
    deadline = time.time() + 240
    while model.panel_next() is not None and time.time() < deadline:
        frame(app, 1)
    assert model.panel_k == list(range(1, 11)), model.panel_k
    assert model.panel_frames == 0  # no panel k was fitted on the render thread
    assert model.view()["suggested_k"] in range(2, 11)


def test_digits_frame_and_stroke(app_for):
    app = app_for("digits", sample=True)
    img = frame(app, 2)
    assert_not_blank(img)
    pad = img[70:490, 40:460]
    assert (pad.min(axis=2) > 200).sum() > 2000, "the sample stroke is not on the pad"
    bars = img[100:360, 536:880]
    assert color_pixels(bars, PALETTE[1]) > 500, "no highlighted probability bar"
    s0 = app.demo.state()
    assert s0["prediction"] == 2, s0  # the sample stroke is a 2 (shipped model)
    # clear with the right mouse button, then draw a "1" with the left one
    app.feed({"event_type": "pointer_down", "x": 250, "y": 280, "buttons": (2,), "modifiers": ()})
    assert app.demo.state()["ink"] == 0
    app.feed({"event_type": "pointer_down", "x": 250, "y": 130, "buttons": (1,), "modifiers": ()})
    for y in range(140, 440, 20):
        app.feed({"event_type": "pointer_move", "x": 252, "y": y, "buttons": (1,), "modifiers": ()})
    app.feed({"event_type": "pointer_up", "x": 252, "y": 440, "buttons": (), "modifiers": ()})
    frame(app, 1)
    s1 = app.demo.state()
    assert s1["ink"] > 0.02 and s1["updates"] > s0["updates"]
    assert s1["prediction"] == 1, s1
    assert s1["latency_ms_p50"] < 1000


def test_augment_frame_and_keys(app_for):
    app = app_for("augment")
    img = frame(app, 2)
    assert_not_blank(img)
    cells = [
        img[100 + (i // 3) * 212 : 300 + (i // 3) * 212, 380 + (i % 3) * 212 : 580 + (i % 3) * 212] for i in range(9)
    ]
    assert all((c.max(axis=2) > 150).sum() > 100 for c in cells), "a variant cell is empty"
    assert not all(np.array_equal(cells[0], c) for c in cells[1:]), "variants are identical"
    spec0 = app.demo.state()["spec"]
    for key in ("9", "ArrowRight", " "):
        app.feed({"event_type": "key_down", "key": key, "modifiers": ()})
    s = app.demo.state()
    assert "cutout" in s["spec"] and s["spec"] != spec0 and s["seed"] == 1
    img2 = frame(app, 1)
    assert not np.array_equal(img, img2)


def test_train_frame(app_for):
    app = app_for("train", steps_per_frame=1, eval_every=1000)
    img = frame(app, 3)
    assert_not_blank(img)
    filters = img[460:630, 60:1205]
    red = ((filters[..., 0] > 120) & (filters[..., 2] < 90)).sum()
    blue = ((filters[..., 2] > 120) & (filters[..., 0] < 90)).sum()
    assert red > 500 and blue > 500, "first-layer filters not drawn"
    assert app.demo.state()["step"] >= 2
    assert color_pixels(img[70:400, 40:640], PALETTE[2]) > 50, "no loss curve"


def test_regularization_frame_and_lambda(app_for):
    app = app_for("regularization", subset=128)
    img = frame(app, 3)
    assert_not_blank(img)
    for i, color in enumerate((PALETTE[9], PALETTE[1], PALETTE[0], PALETTE[4])):
        hist = img[486:700, 40 + i * 310 : 340 + i * 310]
        assert color_pixels(hist, color) > 300, f"histogram {i} missing"
    lam = app.demo.state()["lambda"]["L2"]
    app.feed({"event_type": "key_down", "key": "ArrowUp", "modifiers": ()})  # L2 selected: its lambda, live
    s = app.demo.state()
    assert s["lambda"]["L2"] == pytest.approx(lam * 10**0.25) and s["restarts"] == 1
    app.feed({"event_type": "key_down", "key": "1", "modifiers": ()})
    app.feed({"event_type": "key_down", "key": "ArrowDown", "modifiers": ()})
    assert app.demo.state()["lambda"]["L1"] == pytest.approx(10**-3.25)


def test_optimizers_frame_and_surface(app_for):
    app = app_for("optimizers", steps_per_frame=10)
    img = frame(app, 4)
    assert_not_blank(img)
    board = img[70:370, 830:1240]
    assert sum(color_pixels(board, PALETTE[j], 4) > 50 for j in (0, 1, 2, 4, 6, 10)) == 6
    s0 = app.demo.state()
    assert s0["steps"] >= 4 and all(np.isfinite(v) for v in s0["loss"].values())
    app.feed({"event_type": "key_down", "key": "4", "modifiers": ()})
    frame(app, 30)
    s1 = app.demo.state()
    assert s1["surface"] == "bowl"
    # every optimizer made progress from the start (f = 0.05 * 4.5^2 + 5 * 2^2 = 21.0)
    assert all(v < 21.0 for v in s1["loss"].values()), s1["loss"]


def test_gc_cycle_does_not_poison_buffer_pool(native_device):
    """A tensor dying inside a garbage cycle returns its buffer to the pool with a live wgpu handle (the demo
    framework's App <-> Demo cycle used to hand out released buffers: 'invalid bind group entry')."""
    import gc

    import gpuml

    class Holder:
        pass

    for _ in range(3):
        h = Holder()
        h.me = h
        h.t = gpuml.tensor(np.ones(1000, np.float32), device=native_device) * 2
        h.t.numpy()
        del h
        gc.collect()
    out = gpuml.tensor(np.ones(1000, np.float32), device=native_device) * 3
    assert float(out.numpy().sum()) == 3000


# --- a real window under Xvfb ------------------------------------------------------------------------------------


def _free_display() -> int:
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


class XTest:
    """Real X input events through the XTest extension (libXtst), as a user's mouse and keyboard."""

    def __init__(self, display: str):
        self.x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.xtst = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XStringToKeysym.restype = ctypes.c_ulong
        self.x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        for f in ("XTestFakeMotionEvent", "XTestFakeButtonEvent", "XTestFakeKeyEvent"):
            getattr(self.xtst, f).argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_ulong][
                : 5 if f == "XTestFakeMotionEvent" else 4
            ]
        self.xtst.XTestFakeMotionEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self.d = self.x11.XOpenDisplay(display.encode())
        if not self.d:
            raise RuntimeError(f"cannot open X display {display}")

    def _sync(self, pause: float = 0.03):
        self.x11.XFlush(self.d)
        time.sleep(pause)

    def move(self, x: int, y: int):
        self.xtst.XTestFakeMotionEvent(self.d, -1, int(x), int(y), 0)
        self._sync()

    def button(self, button: int, down: bool):
        self.xtst.XTestFakeButtonEvent(self.d, button, int(down), 0)
        self._sync()

    def key(self, name: str):
        code = self.x11.XKeysymToKeycode(self.d, self.x11.XStringToKeysym(name.encode()))
        self.xtst.XTestFakeKeyEvent(self.d, code, 1, 0)
        self._sync(0.01)
        self.xtst.XTestFakeKeyEvent(self.d, code, 0, 0)
        self._sync(0.1)

    def grab(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """The screen's pixels in a box, as (h, w, 3) uint8 RGB (what the window shows)."""
        x11 = self.x11
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XGetImage.restype = ctypes.c_void_p
        x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, *[ctypes.c_int] * 2, *[ctypes.c_uint] * 2,
                                  ctypes.c_ulong, ctypes.c_int]  # fmt: skip
        x11.XGetPixel.restype = ctypes.c_ulong
        x11.XGetPixel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        x11.XDestroyImage.argtypes = [ctypes.c_void_p]
        image = x11.XGetImage(self.d, x11.XDefaultRootWindow(self.d), x, y, w, h, 0xFFFFFFFF, 2)  # ZPixmap
        if not image:
            raise RuntimeError("XGetImage failed")
        try:
            px = np.array([[x11.XGetPixel(image, i, j) for i in range(w)] for j in range(h)], np.uint32)
        finally:
            x11.XDestroyImage(image)
        return np.stack([(px >> 16) & 255, (px >> 8) & 255, px & 255], axis=-1).astype(np.uint8)

    def close(self):
        self.x11.XCloseDisplay(self.d)


@pytest.fixture
def xvfb():
    exe = shutil.which("Xvfb")
    if exe is None:
        if EXPECT_GPU:
            pytest.fail("GPUML_EXPECT_GPU=1 but Xvfb is not installed (apt-get install xvfb; scripts/setup.sh does)")
        pytest.skip("Xvfb is not installed (apt-get install xvfb): the real-window test needs an X server")
    n = _free_display()
    proc = subprocess.Popen(
        [exe, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"Xvfb :{n} did not start")
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


def shown_one(x: XTest, deadline: float) -> None:
    """Wait until the digits window's probability bars show class 1 on top (its bar in the top class's colour;
    the empty pad has no top class)."""
    top = [PALETTE[1], PALETTE[5]]  # sure, unsure
    bar = None
    while time.time() < deadline:
        bar = x.grab(540, 130, 60, 12)  # row 1's bar: x 536.., y 127..145 (PROBS at 500, 70)
        if any(color_pixels(bar, c, 16) > 200 for c in top):
            return
        time.sleep(0.5)
    pytest.fail(f"the window did not show the stroke's prediction (class 1) in time; bar pixels {bar[0, :3]}")


def test_glfw_window_under_xvfb_takes_real_input(xvfb, native_device, tmp_path):
    """`gpuml demo digits` in a real glfw window: draw a stroke with X mouse events, press keys, close with Esc."""
    pytest.importorskip("glfw")
    state = tmp_path / "state.json"
    env = dict(os.environ, DISPLAY=xvfb, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpuml", "demo", "digits", "--frames", "5000", "--state", str(state)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "first frame drawn" in line:
                break
        else:
            pytest.fail("the demo window did not draw a frame:\n" + "".join(lines))
        assert any("first frame drawn" in ln for ln in lines), "".join(lines)
        x = XTest(xvfb)
        try:
            # the window sits at (0, 0) with the design size, so screen pixels are design pixels; the pad is
            # at x 40..460, y 70..490: draw a vertical stroke, then toggle Grad-CAM (g) and bigger brush (b)
            x.move(250, 140)
            x.button(1, True)
            for y in range(150, 430, 15):
                x.move(252, y)
            x.button(1, False)
            # the window shows the stroke's prediction before the keys and Esc: on a loaded machine its first
            # shader compiles can outlast the 10 s that closing waits for a pending prediction
            shown_one(x, deadline=time.time() + 180)
            x.key("g")
            x.key("b")
            time.sleep(0.3)
            x.key("Escape")
        finally:
            x.close()
        out, _ = proc.communicate(timeout=30)
        lines.append(out)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines)
    assert proc.returncode == 0, text
    result = json.loads(state.read_text())
    s = result["state"]
    assert s["strokes"] >= 1 and s["ink"] > 0.01, s
    assert s["show_cam"] is False and s["brush"] == 15.0, s
    assert s["updates"] >= 2 and s["prediction"] == 1, s
    assert result["frames"] >= 2 and result["frame_ms_p50"] > 0
    assert "frame time p50" in text
