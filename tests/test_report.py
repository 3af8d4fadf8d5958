"""gpuml explain / gpuml report on a small CNN trained on 8x8 digits: the PNGs and HTML exist and are not blank."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gpuml.datasets import digits

CNN = "conv 6 3 pad1 relu | maxpool 2 | flatten | fc 10"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gpuml", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    result = run_cli(
        "train", "digits", "--model", CNN, "--epochs", "4", "--lr", "5e-3", "--out", str(out), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    test = digits("test")
    Image.fromarray((test.images[3, 0] * 255).astype(np.uint8)).resize((64, 64)).save(out / "digit.png")
    return out


def not_blank(path, min_size=100):
    image = np.asarray(Image.open(path).convert("L"), np.float32)
    assert min(image.shape) >= min_size and image.std() > 5, path


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "saliency", "occlusion", "activations", "filters"])
def test_explain_cli_writes_png(trained, method):
    out = trained / f"{method}.png"
    extra = ["--layer", "1"] if method == "activations" else []
    result = run_cli(
        "explain", str(trained / "model.npz"), str(trained / "digit.png"), "--method", method, "--out", str(out), *extra
    )
    assert result.returncode == 0, result.stderr
    assert "prediction" in result.stdout
    not_blank(out)


def test_report_writes_html_with_figures(trained):
    result = run_cli("report", str(trained / "model.npz"), "--out", str(trained / "report"))
    assert result.returncode == 0, result.stderr
    page = (trained / "report" / "report.html").read_text()
    assert "test accuracy" in page
    for name in ("confusion.png", "curves.png", "filters.png", "gradcam.png", "tsne.png"):
        assert name in page
        not_blank(trained / "report" / name)


def test_report_on_own_standardised_data(tmp_path):
    """A model trained on the user's own .npz with --standardize: the report reads the same test split and applies
    the stored standardisation, so its accuracy is the one training printed."""
    from sklearn.datasets import load_digits

    d = load_digits()
    np.savez(tmp_path / "data.npz", images=(d.images * 16).clip(0, 255).astype(np.uint8), labels=d.target)
    run = tmp_path / "run"
    result = run_cli(
        "train", str(tmp_path / "data.npz"), "--model", CNN, "--epochs", "2", "--standardize", "--out", str(run),
        "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    trained_acc = result.stdout.split("test accuracy")[1].split(";")[0].strip()
    report = run_cli("report", str(run / "model.npz"))
    assert report.returncode == 0, report.stderr
    page = (run / "report" / "report.html").read_text()
    assert trained_acc in page and float(trained_acc) > 0.5, (trained_acc, report.stdout)
