"""Native demo windows: the charts (ticks, legend outside the plot area, markers on sparse series), the work each
frame does within its budget (training steps, evaluation slices, deferred epoch records) giving the same results as
doing it at once, and option errors before the display check. Frame times are measured by
benchmarks/bench_native_frames.py, not asserted here."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gpuml.demos.chart import PlotArea, log_ticks, nice_ticks, plot, tick_labels
from gpuml.demos.render import short_number

pytest.importorskip("rendercanvas")


class Recorder:
    """The drawing calls :func:`gpuml.demos.chart.plot` makes, recorded (no device needed)."""

    def __init__(self):
        self.rects, self.texts, self.lines = [], [], []

    def panel(self, x, y, w, h, title=None):
        self.rect(x, y, w, h, "panel")
        if title:
            self.text(title, x + 10, y + 6, 14)

    def rect(self, x, y, w, h, color):
        self.rects.append((x, y, w, h, color))

    def frame(self, x, y, w, h, color, width=1.0):
        pass

    def text_width(self, s, size=14):
        return len(s) * size * 0.6

    def text(self, s, x, y, size=14, color=None, anchor="left"):
        self.texts.append((s, x, y))
        return self.text_width(s, size)

    def line(self, points, color, width=1.5):
        self.lines.append((np.asarray(points, np.float64).reshape(-1, 2), color))


def test_ticks_and_short_numbers():
    assert nice_ticks(0, 2814) == [0, 1000, 2000]
    assert nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(-0.18, 0.18, 4) == pytest.approx([-0.1, 0, 0.1])
    assert log_ticks(-2.2, 0.4) == [-2, -1, 0]  # decades inside the range
    # one 1-2-5 step inside: round values of the range instead
    assert [round(10**t, 6) for t in log_ticks(np.log10(1.1), np.log10(2.5))] == [1.5, 2, 2.5]
    assert [round(10**t, 6) for t in log_ticks(np.log10(0.15), np.log10(0.6))] == [0.2, 0.5]
    assert tick_labels([2.3, 2.305, 2.31]) == ["2.3", "2.305", "2.31"]  # a narrow range: distinct labels
    assert tick_labels([0, 1000, 2000]) == ["0", "1k", "2k"]
    assert [short_number(v) for v in (2000, 22600, 1e4, 0.088, 1.2e-5, 5e9, -2000)] == [
        "2k", "22.6k", "10k", "0.088", "1.2e-5", "5e9", "-2k"
    ]  # fmt: skip


def test_plot_legend_outside_the_plot_area_and_sparse_points_marked():
    r = Recorder()
    steps = np.arange(1, 501)
    dense = ("train loss", steps, 1 / steps, "#ff0000")  # 500 points over ~500 px: a line only
    sparse = ("test", [0, 100, 200, 300, 400, 500], [0.1, 0.5, 0.7, 0.8, 0.85, 0.9], "#00ff00")  # every 100 steps
    area = plot(r, 40, 70, 600, 330, [dense, sparse], title="accuracy", xlim=(0, 500), ylim=(0, 1), xlabel="step")
    assert isinstance(area, PlotArea)

    def inside(x, y, w=0, h=0):
        return area.px < x + w and x < area.px + area.pw and area.py < y + h and y < area.py + area.ph

    swatches = [q for q in r.rects if q[4] in ("#ff0000", "#00ff00") and q[2] == 10]
    assert len(swatches) == 2 and not any(inside(*q[:4]) for q in swatches), swatches
    labels = [t for t in r.texts if t[0] in ("train loss", "test")]
    assert len(labels) == 2 and all(y < area.py for _, _, y in labels), labels
    markers = [q for q in r.rects if q[4] == "#00ff00" and q[2] != 10]
    assert len(markers) == 6  # one per test point, at the points
    centres = sorted((x + w / 2, y + h / 2) for x, y, w, h, _ in markers)
    np.testing.assert_allclose(centres, np.stack([area.x_px(sparse[1]), area.y_px(sparse[2])], 1), atol=1e-6)
    assert not [q for q in r.rects if q[4] == "#ff0000" and q[2] != 10], "the dense series got markers"
    # ticks with labels on both axes, and the x axis named
    texts = [t[0] for t in r.texts]
    assert {"0", "0.2", "0.4", "0.6", "0.8", "1"} <= set(texts) and {"100", "200", "500"} <= set(texts)
    assert "step" in texts


def test_plot_thins_long_series_and_takes_log_axes():
    r = Recorder()
    n = 20_000
    area = plot(r, 0, 0, 400, 300, [("loss", np.arange(n), np.linspace(2.5, 0.05, n), "#ff0000")], log_y=True)
    ((pts, _),) = r.lines
    assert len(pts) <= 2 * area.pw + 1 and pts[-1, 0] == pytest.approx(area.px + area.pw)
    assert area.log_y and area.y_px(2.5) < area.y_px(0.05)  # larger values higher up
    assert {"0.1", "1"} <= {t[0] for t in r.texts}  # decade ticks


def test_regularization_numpy_histograms_match_the_model(native_device):
    from gpuml.demos.regularization import histograms
    from gpuml.playground.regularization import RegularizationModel

    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, 64 * 784).astype(np.uint8).tobytes(), rng.integers(0, 10, 64).tolist())
    m = RegularizationModel(data, data, device=native_device)
    m.train_epoch()
    want, got = m.histograms(), histograms(m.weights)
    np.testing.assert_allclose(got["edges"], want["edges"], rtol=1e-12)
    for a, b in zip(got["runs"], want["runs"], strict=True):
        assert (a["name"], a["sampled"], a["weights"]) == (b["name"], b["sampled"], b["weights"])
        np.testing.assert_allclose(a["shares"], b["shares"], atol=1e-12)
        assert a["near_zero"] == pytest.approx(b["near_zero"]) and a["mean_abs"] == pytest.approx(b["mean_abs"])


def test_sliced_evaluation_equals_the_whole_test_set(native_device):
    """The train window's test evaluation in slices of 128 images gives the accuracy of one forward of all 300."""
    import gpuml
    from gpuml.demos.training import SlicedEvalModel
    from gpuml.playground.training import TrainModel, device_batches

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300).astype(np.int32)
    x = np.zeros((300, 1, 28, 28), np.float32)
    x[y == 0, :, 4:24, 8:12] = 1
    x[y == 1, :, 12:16, 4:24] = 1
    x += rng.normal(0, 0.6, x.shape).astype(np.float32)  # noisy: accuracy well below 100% after a few steps
    xt, yt = gpuml.tensor(x, device=native_device), gpuml.tensor(y, device=native_device)
    m = SlicedEvalModel(*device_batches(xt, yt, 32), (xt, yt), batch=32, lr=2e-3, eval_every=3, steps_per_frame=3)
    assert m.evaluating is False and m.test_accs == []
    m.train_steps(3)  # an evaluation is due: queued, not run
    assert m.evaluating and m.pending_eval[:2] == (3, 0) and m.test_steps == []
    slices = 0
    while m.evaluating:
        m.evaluate_slice()
        slices += 1
    assert slices == 3 and m.test_steps == [3]  # 128 + 128 + 44 images, recorded for step 3
    whole = TrainModel.evaluate(m)  # the model's own evaluation: one forward of the whole test set
    assert m.test_accs[0] == pytest.approx(whole, abs=1 / 300)
    assert 0.3 < whole < 1.0


def test_train_window_evaluates_over_frames_while_training_waits(app_for):
    app = app_for("train", eval_every=4, steps_per_frame=4)
    m = app.demo.model
    assert m.test_steps == [0] and not m.evaluating  # the evaluation at step 0 ran before the first frame
    frames = 0
    while len(m.test_steps) < 2 and frames < 100:
        app.canvas.draw()
        frames += 1
        if m.evaluating:
            step = m.pending_eval[0]
            assert m.steps == step  # no training while an evaluation is in progress
    assert len(m.test_steps) == 2 and m.test_steps[1] >= 4, m.test_steps
    assert 0 <= m.test_accs[1] <= 1 and m.steps >= m.test_steps[1]
    assert app.demo.steps_budget.per_unit > 0 and app.demo.eval_budget.per_unit > 0


def test_regularization_window_records_epochs_in_frames(app_for):
    app = app_for("regularization", subset=128)  # 2 batches an epoch
    m = app.demo.model
    assert m.epoch == 0 and len(m.history["none"]["epoch"]) == 1 and not m.record_due
    frames = 0
    while m.epoch < 2 and frames < 60:
        app.canvas.draw()
        frames += 1
    while m.record_due and frames < 70:  # the second epoch's record, a run per frame
        app.canvas.draw()
        frames += 1
    assert not m.record_due
    assert all(h["epoch"] == [0, 1, 2] for h in m.history.values()), m.history["none"]["epoch"]
    hist = app.demo.view["histograms"]
    assert len(hist["runs"]) == 4 and all(abs(sum(run["shares"]) - 1) < 1e-9 for run in hist["runs"])


def test_options_are_checked_before_the_display(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    cases = [
        (["optimizers", "--surface", "nope"], "unknown surface 'nope'"),
        (["optimizers", "--surface", ""], "unknown surface ''"),
        (["augment", "--image", str(tmp_path / "none.png")], "none.png does not exist"),
        (["augment", "--export-dir", str(tmp_path / "nowhere")], "nowhere does not exist"),
        (["kmeans", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["digits", "--model", str(tmp_path / "none.npz")], "none.npz does not exist"),
    ]
    for argv, words in cases:
        out = subprocess.run([sys.executable, "-m", "gpuml", "demo", *argv], capture_output=True, text=True, env=env)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
        assert words in lines[0] and lines[0].startswith(f"gpuml demo {argv[0]}: "), lines[0]
