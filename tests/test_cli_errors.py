"""The gpuml command never shows a traceback for a user error (issue #19): every subcommand with invalid options,
missing and corrupt files ends in one line on stderr naming the option or file and a non-zero exit; a folder of
images with bad files augments the good ones and lists the bad ones; GPUML_DEBUG=1 shows the traceback.

Most cases run ``gpuml.cli.main`` in-process (fast); a few run the installed command end to end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gpuml
from gpuml.augment.io import read_image
from gpuml.cli import build_parser, main

MODEL = Path(gpuml.__file__).parent / "models" / "lenet5_mnist.npz"


@pytest.fixture(autouse=True)
def keep_device():
    """--backend makes its device current: put the previous one back."""
    previous = gpuml.get_device()
    yield
    gpuml.set_device(previous)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors exit
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, *names: str, status: int = 2) -> str:
    assert code == status, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Missing, corrupt and wrong-kind files."""
    d = tmp_path_factory.mktemp("bad")
    Image.fromarray((np.arange(28 * 28).reshape(28, 28) % 251).astype(np.uint8)).save(d / "digit.png")
    (d / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # PNG magic, no image
    (d / "truncated.npz").write_bytes(MODEL.read_bytes()[:3000])
    (d / "garbage.idx").write_bytes(b"garbage bytes")
    (d / "empty").mkdir()
    return d


def test_every_subcommand_is_covered():
    """A new subcommand needs its cases here: the list below is `gpuml --help`'s."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = "info bench train predict regularization kmeans augment explain report web serve demo export"
    assert sorted(sub.choices) == sorted(commands.split())


BAD_OPTIONS = [
    (["train", "digits", "--lr", "nan"], "--lr"),
    (["train", "digits", "--lr", "-1"], "--lr"),
    (["train", "digits", "--lr", "inf"], "--lr"),
    (["train", "digits", "--epochs", "0"], "--epochs"),
    (["train", "digits", "--subset", "0"], "--subset"),
    (["train", "digits", "--batch-size", "0"], "--batch-size"),
    (["train", "digits", "--batch-size", "x"], "--batch-size"),
    (["train", "digits", "--test-fraction", "1"], "--test-fraction"),
    (["train", "digits", "--validation-split", "-0.1"], "--validation-split"),
    (["train", "digits", "--momentum", "nan"], "--momentum"),
    (["train", "digits", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "digits", "--max-grad-norm", "0"], "--max-grad-norm"),
    (["train", "digits", "--patience", "0"], "--patience"),
    (["train", "digits", "--augment", "spin 3"], "--augment"),
    (["train", "digits", "--optimizer", "lion"], "--optimizer"),
    (["train", "digits", "--size", "0x5"], "--size"),
    (["regularization", "digits", "--subset", "0"], "--subset"),
    (["regularization", "digits", "--folds", "1"], "--folds"),
    (["regularization", "digits", "--lr", "nan"], "--lr"),
    (["kmeans", "--k", "0"], "--k"),
    (["kmeans", "--k", "1..5"], "--k"),
    (["kmeans", "--k", "a..b"], "--k"),
    (["kmeans", "--k", "1000"], "--k"),
    (["kmeans", "--n", "-3"], "--n"),
    (["kmeans", "--n-init", "0"], "--n-init"),
    (["kmeans", "--dataset", "spirals"], "--dataset"),
    (["augment", "DIR", "--n", "0"], "--n"),
    (["augment", "DIR", "--n", "-3"], "--n"),
    (["augment", "DIR", "--pipeline", "rotate x"], "--pipeline"),
    (["augment", "DIR", "--pipeline", "resize 0"], "--pipeline"),
    (["augment", "DIR", "--pipeline", "bogus 1"], "--pipeline"),
    (["explain", "M", "IMG", "--target", "-1"], "--target"),
    (["explain", "M", "IMG", "--patch", "0"], "--patch"),
    (["explain", "M", "IMG", "--method", "magic"], "--method"),
    (["predict", "M", "IMG", "--backend", "gpu"], "--backend"),
    (["report", "M", "--backend", "tpu"], "--backend"),
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--port", "-1"], "--port"),
    (["web", "build", "--bogus"], "--bogus"),
    (["bench", "gemm", "--size", "0"], "--size"),
    (["bench", "gemm", "--size", "2x3"], "--size"),
    (["bench", "axpy", "--n", "0"], "--n"),
    (["bench", "gemm", "--repeat", "0"], "--repeat"),
    (["bench", "gemm", "--backends", "gpu"], "--backends"),
    (["demo", "kmeans", "--k", "1"], "--k"),
    (["demo", "kmeans", "--frames", "0"], "--frames"),
    (["export", "M", "out.onnx", "--opset", "0"], "--opset"),
    (["info", "--backend", "bogus"], "--backend"),
]


@pytest.mark.parametrize(("argv", "option"), BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_invalid_option_is_one_line_naming_it(capsys, argv, option):
    code, out, err = run(capsys, *argv)
    line = assert_one_line(code, err, option)
    assert line.startswith(f"gpuml {argv[0]}"), line
    assert out == ""  # nothing started


def test_usage_error_is_one_line(capsys):
    code, _, err = run(capsys, "predict")
    assert_one_line(code, err, "gpuml predict", "required")
    code, _, err = run(capsys, "nosuchcommand")
    assert_one_line(code, err, "nosuchcommand")


def test_missing_and_corrupt_files_are_named(capsys, files, tmp_path):
    missing = tmp_path / "missing.npz"
    cases = [
        (["predict", missing, files / "digit.png"], [str(missing), "No such file"]),
        (["predict", files / "fake.png", files / "digit.png"], [str(files / "fake.png"), "not a gpuml model file"]),
        (["predict", files / "empty", files / "digit.png"], [str(files / "empty")]),
        (["predict", MODEL, tmp_path / "none.png"], [str(tmp_path / "none.png"), "No such file"]),
        (["predict", MODEL, files / "fake.png"], [str(files / "fake.png")]),
        (["explain", MODEL, files / "fake.png", "--out", tmp_path / "e.png"], [str(files / "fake.png")]),
        (["explain", MODEL, files / "empty"], [str(files / "empty")]),
        (["report", files / "truncated.npz", "--out", tmp_path / "r"], [str(files / "truncated.npz"), "truncated"]),
        (["export", files / "truncated.npz", tmp_path / "m.onnx"], [str(files / "truncated.npz"), "truncated"]),
        (["export", missing, tmp_path / "m.onnx"], [str(missing)]),
        (["train", "--resume", files / "truncated.npz", "--out", tmp_path / "t"], [str(files / "truncated.npz")]),
        (["train", "--images", files / "garbage.idx", "--labels", files / "garbage.idx"], ["garbage.idx", "IDX"]),
        (["train", "--images", missing, "--labels", files / "garbage.idx"], [str(missing)]),
        (["train", files / "truncated.npz", "--out", tmp_path / "t"], [str(files / "truncated.npz")]),
        (["train", tmp_path / "nowhere", "--out", tmp_path / "t"], [str(tmp_path / "nowhere")]),
        (["augment", tmp_path / "nowhere", "--out", tmp_path / "a"], [str(tmp_path / "nowhere")]),
        (["augment", files / "empty", "--out", tmp_path / "a"], [str(files / "empty"), "no images"]),
        (["web", "build", "--model", files / "fake.png", "--out", tmp_path / "w"], [str(files / "fake.png")]),
    ]
    for argv, names in cases:
        code, _, err = run(capsys, *argv)
        line = assert_one_line(code, err, *names)
        assert "pickle" not in line, line
        assert line.startswith(f"gpuml {argv[0]}"), line


def test_explain_target_beyond_the_classes(capsys, files, tmp_path):
    code, _, err = run(capsys, "explain", MODEL, files / "digit.png", "--target", "10", "--out", tmp_path / "e.png")
    assert_one_line(code, err, "--target 10", "10 classes")
    assert not (tmp_path / "e.png").exists()


def test_resume_with_a_changed_model_optimizer_or_lr_is_an_error(capsys, tmp_path):
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "digits", "--epochs", "1", "--subset", "64", "--no-progress", "--out", out)
    assert code == 0, err
    ckpt = out / "model.npz"
    before = ckpt.read_bytes()
    for option, value, saved in (
        ("--lr", "0.01", "0.001"),
        ("--model", "lenet5", "digits-cnn"),
        ("--optimizer", "sgd", "adamw"),
        ("--l2", "0.001", "0.0"),
        ("--schedule", "step", "cosine"),
    ):
        code, _, err = run(capsys, "train", "--resume", ckpt, option, value, "--out", out)
        assert_one_line(code, err, f"{option} {value}", saved, str(ckpt))
    code, _, err = run(capsys, "train", "--resume", ckpt, "--standardize", "--out", out)  # trained without it
    assert_one_line(code, err, "--standardize True", "standardize False", str(ckpt))
    assert ckpt.read_bytes() == before  # nothing trained
    code, _, err = run(capsys, "train", "--resume", ckpt, "--epochs", "1")  # no more than the epochs done
    assert_one_line(code, err, "--epochs 1", "trained 1 epochs already", str(ckpt))
    assert ckpt.read_bytes() == before
    # the checkpoint's own values are no contradiction
    code, _, err = run(capsys, "train", "--resume", ckpt, "--lr", "0.001", "--epochs", "2", "--no-progress")
    assert code == 0, err


def test_busy_port_is_named(capsys, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "build-info.json").write_text("{}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _, err = run(capsys, "serve", "--dir", site, "--port", port)
    assert_one_line(code, err, f"port {port}", "already in use", "--port")


def test_bad_environment_values(capsys, monkeypatch):
    monkeypatch.setenv("GPUML_BACKEND", "bogus")
    code, out, err = run(capsys, "info")
    assert_one_line(code, err, "GPUML_BACKEND='bogus'", "native")
    assert out == ""


def test_internal_error_is_one_line_and_points_at_debug(capsys, monkeypatch):
    import gpuml.cli.info as info

    def broken(args):
        raise AssertionError("invariant broken")

    monkeypatch.setattr(info, "cmd_info", broken)
    code, _, err = run(capsys, "info")
    assert_one_line(code, err, "internal error: AssertionError: invariant broken", "GPUML_DEBUG=1", status=1)


def _image_folder(root: Path) -> None:
    """Two good images, an RGBA and a 16-bit one, and three bad files (PNG magic only, truncated, text)."""
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (24, 24), dtype=np.uint8)
    Image.fromarray(noise).save(root / "cats" / "a.png")
    Image.fromarray(np.stack([noise] * 3, -1)).save(root / "dogs" / "b.jpg")
    rgba = np.zeros((24, 24, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    Image.fromarray(rgba, "RGBA").save(root / "dogs" / "alpha.png")
    Image.fromarray((np.arange(24 * 24).reshape(24, 24) * 100).astype(np.uint16)).save(root / "cats" / "deep.png")
    (root / "cats" / "magic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    data = (root / "cats" / "a.png").read_bytes()
    (root / "cats" / "cut.png").write_bytes(data[: len(data) // 2])
    (root / "dogs" / "notes.jpg").write_text("not an image")


def test_augment_folder_with_bad_files_processes_the_good_ones(capsys, tmp_path):
    _image_folder(tmp_path / "in")
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "augment", tmp_path / "in", "--n", "2", "--out", out, "--backend", "cpu")
    assert code == 0, err
    assert "Traceback" not in err
    skipped = sorted(line.split(": ")[1] for line in err.strip().splitlines())
    assert skipped == [f"skipped {tmp_path / 'in' / p}" for p in ("cats/cut.png", "cats/magic.png", "dogs/notes.jpg")]
    written = sorted(p.name for p in out.glob("*.png"))
    expected = [f"{s}_{k}.png" for s in ("cats_a", "cats_deep", "dogs_alpha", "dogs_b") for k in (0, 1)]
    assert written == sorted([*expected, "contact_sheet.png"])
    assert "skipped 3 unreadable file(s)" in stdout


def test_augment_folder_of_only_bad_files_is_an_error(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.png").write_bytes(b"nope")
    code, _, err = run(capsys, "augment", tmp_path / "in", "--out", tmp_path / "out", "--backend", "cpu")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"gpuml augment: {tmp_path / 'in'}: none of its 1 image files could be read"


def test_image_reading_rule_rgba_and_16_bit(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = [[255, 128, 0], [0, 255, 64]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.mode == "RGB"  # composited on black: colour x alpha / 255
    expected = np.rint(rgba[..., :3].astype(np.float32) * (rgba[..., 3:] / 255.0)).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(img), expected)
    Image.fromarray(np.array([[200, 0]], np.uint8)).convert("LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png").mode == "L"

    deep = np.array([[0, 257, 32768, 65535]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    img = read_image(tmp_path / "d.png")
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), [[0, 1, 128, 255]])  # scaled by 65535, not clipped at 255


def test_read_image_names_the_file(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match=r"x\.png: not an image file"):
        read_image(tmp_path / "x.png")
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")


# --- end to end: the installed command, in its own process -------------------------------------------------------


def gpuml_cmd(*args, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GPUML_EXPECT_GPU": "0", "GPUML_BACKEND": "cpu", **env}
    return subprocess.run(
        [sys.executable, "-m", "gpuml", *map(str, args)], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_end_to_end_one_line_errors(tmp_path, files):
    result = gpuml_cmd("train", "digits", "--lr", "nan")
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.strip()
        == "gpuml train: argument --lr: expected a finite number, got 'nan' (see gpuml train --help)"
    )
    result = gpuml_cmd("info", GPUML_BACKEND="bogus")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("gpuml info: GPUML_BACKEND='bogus'")
    result = gpuml_cmd("predict", files / "fake.png", files / "digit.png")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"{files / 'fake.png'}: not a gpuml model file" in result.stderr


def test_gpuml_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "missing.npz"
    quiet = gpuml_cmd("predict", missing, "x.png")
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = gpuml_cmd("predict", missing, "x.png", GPUML_DEBUG="1")
    assert loud.returncode != 0 and "Traceback (most recent call last)" in loud.stderr
    assert "FileNotFoundError" in loud.stderr and str(missing) in loud.stderr
