"""`gpuml demo` from the command line as a user meets it: without a display it says what to do in one line (glfw
would abort the process), and --screenshot works in window mode (under Xvfb) as it does offscreen."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image
from test_demos import xvfb  # noqa: F401 - the Xvfb fixture

ENV = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def _gpuml(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "gpuml", *args], capture_output=True, text=True, env=env or ENV, timeout=timeout
    )


def test_no_display_gives_a_one_line_hint_not_an_abort():
    out = _gpuml("demo", "digits")
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "--offscreen" in lines[0] and "xvfb-run" in lines[0] and "DISPLAY" in lines[0]


def test_screenshot_in_window_mode(xvfb, tmp_path):  # noqa: F811 - the fixture
    png = tmp_path / "window.png"
    env = dict(ENV, DISPLAY=xvfb, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    out = _gpuml("demo", "kmeans", "--frames", "3", "--screenshot", str(png), env=env)
    assert out.returncode == 0, out.stderr
    assert f"wrote {png}" in out.stdout
    image = np.asarray(Image.open(png))
    assert image.shape[2] == 3 and image.shape[0] >= 400 and image.shape[1] >= 600, image.shape
    # a drawn frame: the dark background plus many distinct cluster colours, not one flat colour
    colours = np.unique(image.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 50, len(colours)


def test_bad_screenshot_path_is_refused_before_the_demo_runs(tmp_path):
    """--screenshot is checked up front: one line, exit 2 like the other option errors, and no frame drawn (the
    frame statistics line is never printed)."""
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    (tmp_path / "shots.png").mkdir()
    cases = [
        (tmp_path / "out.txt", "screenshots are PNG files, give a name ending in .png"),
        (tmp_path / "shots.png", "is a folder, give a file name ending in .png"),
        (tmp_path / "notes.txt" / "out.png", f"{tmp_path / 'notes.txt'} is a file, not a folder"),
    ]
    for path, words in cases:
        out = _gpuml("demo", "kmeans", "--offscreen", "--screenshot", str(path))
        assert out.returncode == 2, (path, out.returncode, out.stderr)
        assert out.stderr.strip() == f"gpuml demo kmeans: --screenshot {path}: {words}", out.stderr
        assert out.stdout == "", out.stdout  # nothing ran: no frame times, no "wrote"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "shots.png"]


def test_screenshot_check_accepts_what_can_be_written(tmp_path):
    from gpuml.demos.app import check_screenshot

    check_screenshot(tmp_path / "a.PNG")  # any case of .png
    check_screenshot(tmp_path / "new" / "deeper" / "a.png")  # missing folders are made when it is saved
    assert not (tmp_path / "new").exists()  # ... not by the check
    (tmp_path / "old.png").write_bytes(b"x")
    check_screenshot(tmp_path / "old.png")  # an existing file is overwritten
    assert (tmp_path / "old.png").read_bytes() == b"x"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gpuml-")] == []  # the probe is gone


def test_bad_state_path_is_refused_before_the_demo_runs_and_a_new_folder_is_made(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    (tmp_path / "states").mkdir()
    for path, words in [
        (tmp_path / "states", "is a folder, give a file name"),
        (tmp_path / "notes.txt" / "s.json", f"{tmp_path / 'notes.txt'} is a file, not a folder"),
    ]:
        out = _gpuml("demo", "kmeans", "--offscreen", "--frames", "2", "--state", str(path))
        assert out.returncode == 2, (path, out.returncode, out.stderr)
        assert out.stderr.strip() == f"gpuml demo kmeans: --state {path}: {words}", out.stderr
        assert out.stdout == "", out.stdout
    state = tmp_path / "new" / "s.json"
    out = _gpuml("demo", "kmeans", "--offscreen", "--frames", "2", "--state", str(state))
    assert out.returncode == 0, out.stderr
    assert '"frames": 2' in state.read_text()
