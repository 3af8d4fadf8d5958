"""Trainer.fit on numpy arrays: inferred shapes, label checks, predict/score, validation split and early stopping,
standardisation, the progress bar after a failure; gpuml train on an image folder, IDX files and an .npz."""

from __future__ import annotations

import gzip
import json
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import gpuml
from gpuml.datasets import Dataset, as_images, to_dataset
from gpuml.train import TrainConfig, Trainer, load_model

MLP = "flatten | fc 64 relu | fc 10"


@pytest.fixture(scope="module")
def digits_uint8():
    """scikit-learn's 8x8 digits as uint8 images (0..16 scaled to 0..255) and labels, as a user would have them."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * 16).clip(0, 255).astype(np.uint8), d.target


def test_fit_on_arrays_reaches_accuracy(device, digits_uint8):
    X, y = digits_uint8
    trainer = Trainer(TrainConfig(model=MLP, epochs=8, lr=1e-2, seed=0), device)
    history = trainer.fit(X[:1300], y[:1300], progress=False, log=None)
    assert trainer.cfg.input_shape == (1, 8, 8) and len(history) == 8
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    accuracy = trainer.score(X[1300:], y[1300:])
    assert accuracy > 0.88  # measured 0.9074 on native (lavapipe) and on cpu
    assert accuracy == pytest.approx(np.mean(trainer.predict(X[1300:]) == y[1300:]))


def test_native_cpu_and_python_fit_alike(digits_uint8, cpu_device, python_device):
    X, y = digits_uint8
    runs = {}
    for dev in (cpu_device, python_device):
        trainer = Trainer(TrainConfig(model="flatten | fc 16 relu | fc 10", epochs=3, lr=1e-2, batch_size=32), dev)
        history = trainer.fit(X[:96], y[:96], progress=False, log=None)
        runs[dev.name] = ([h["train_loss"] for h in history], trainer.predict_proba(X[96:128]), trainer)
    cpu, python = runs["cpu"], runs["python"]
    assert python[0] == pytest.approx(cpu[0], rel=1e-5) and python[0][-1] < python[0][0]
    np.testing.assert_allclose(python[1], cpu[1], atol=1e-5)
    assert python[2].cfg.input_shape == (1, 8, 8)
    assert python[2].score(X[96:128], y[96:128]) == np.mean(python[1].argmax(1) == y[96:128])


def test_uint8_images_are_scaled_and_shapes_inferred(cpu_device):
    x = np.array([[[0, 255], [51, 102]]], np.uint8)
    np.testing.assert_array_equal(as_images(x), np.float32([[[[0.0, 1.0], [0.2, 0.4]]]]))
    assert as_images(np.zeros((2, 3, 4, 5), np.uint16)).shape == (2, 3, 4, 5)
    rng = np.random.default_rng(0)
    # a named model: built for the data's shape, its last layer sized to the classes (labels 0..3)
    X = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    trainer = Trainer(TrainConfig(model="lenet5", epochs=1, batch_size=6), cpu_device)
    assert trainer.model.input_shape == (1, 28, 28)  # looked at before any data: MNIST's shape
    trainer.fit(X, np.arange(12) % 4, progress=False, log=None)
    assert trainer.cfg.input_shape == (3, 32, 32) and trainer.cfg.num_classes == 4
    assert trainer.model.input_shape == (3, 32, 32) and trainer.model.shapes[-1] == (4,)
    assert trainer.predict_proba(X).shape == (12, 4)
    # (N, H, W) gains a channel; uint8 and the same values / 255 train identically
    X2 = rng.integers(0, 256, (16, 10, 12), dtype=np.uint8)
    losses = []
    for images in (X2, (X2 / 255).astype(np.float32)):
        t = Trainer(TrainConfig(model="flatten | fc 3", epochs=2, batch_size=8), cpu_device)
        losses.append([h["train_loss"] for h in t.fit(images, np.arange(16) % 3, progress=False, log=None)])
        assert t.cfg.input_shape == (1, 10, 12)
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_shape_mismatch_names_both_shapes(cpu_device, digits_uint8):
    X, y = digits_uint8
    trainer = Trainer(TrainConfig(model=MLP, input_shape=(1, 28, 28)), cpu_device)
    with pytest.raises(ValueError, match=r"images are \(1, 8, 8\).*model takes \(1, 28, 28\)"):
        trainer.fit(X[:64], y[:64], progress=False, log=None)
    fitted = Trainer(TrainConfig(model=MLP, epochs=1), cpu_device)
    fitted.fit(X[:64], y[:64], progress=False, log=None)
    with pytest.raises(ValueError, match=r"images are \(3, 8, 8\).*model takes \(1, 8, 8\)"):
        fitted.predict(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\), got shape \(64, 64\).*reshape"):
        fitted.fit(X[:64].reshape(64, 64), y[:64], progress=False, log=None)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 1, 10, 12, 3, 10], r"must be in \[0, 10\).*got 10, 12 \(3 label\(s\), first at index 2\)"),
        ([0, -1, 2, 3, 4, 5], r"must be >= 0, got negative values -1 \(1 label\(s\), first at index 1\)"),
        ([0.0, 1.5, 2.0, 3.0, 4.0, 5.0], r"must be integers, got non-integer values 1.5"),
        (["a", "b", "a", "b", "a", "b"], r"integer class indices.*np.unique"),
        ([0, 1, 2], r"labels: got 3 for 6 images"),
    ],
)
def test_labels_are_checked_before_training_on_every_backend(any_device, labels, message):
    X = np.zeros((6, 1, 8, 8), np.float32)
    trainer = Trainer(TrainConfig(model=MLP, epochs=1, batch_size=2), any_device)
    with pytest.raises(ValueError, match=message):
        trainer.fit(X, np.array(labels), progress=False, log=None)
    assert trainer.step_count == 0 and trainer.history == []
    with pytest.raises(ValueError, match=message):
        trainer.train_step(X, np.array(labels))


def test_whole_number_float_labels_are_accepted(cpu_device):
    trainer = Trainer(TrainConfig(model=MLP, epochs=1, batch_size=4), cpu_device)
    trainer.fit(np.zeros((4, 8, 8), np.float32), np.array([0.0, 1.0, 2.0, 9.0]), progress=False, log=None)
    assert trainer.step_count == 1


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_validation_split_and_early_stopping_restore_the_best_weights(device, digits_uint8, monitor):
    X, y = digits_uint8
    cfg = TrainConfig(model=MLP, epochs=30, lr=3e-2, optimizer="adam", schedule="none", seed=0)
    trainer = Trainer(cfg, device)
    history = trainer.fit(
        X[:200], y[:200], validation_split=0.25, patience=3, monitor=monitor, progress=False, log=None
    )
    # measured on lavapipe and cpu alike: val_loss lowest at epoch 6 (1.7752 ... 0.2447, 0.2535, 0.2987, 0.3114),
    # val_accuracy highest at epoch 7 (0.96); each run stops 3 epochs later, at 9 and 10 of 30
    values = [h[monitor] for h in history]
    best = 1 + values.index(min(values) if monitor == "val_loss" else max(values))
    assert trainer.best_epoch == best and len(history) == best + 3 < 30
    _, val = to_dataset(X[:200], y[:200]).split(0.25, seed=0)  # fit's split: the same seeded permutation
    assert len(val) == 50
    final = trainer.evaluate(val)
    assert final["accuracy"] == history[best - 1]["val_accuracy"]
    assert final["loss"] == pytest.approx(history[best - 1]["val_loss"], rel=1e-6)
    with pytest.raises(ValueError, match="needs validation data"):
        Trainer(cfg, device).fit(X[:200], y[:200], patience=2, progress=False, log=None)


def test_predict_and_score(cpu_device, digits_uint8):
    X, y = digits_uint8
    trainer = Trainer(TrainConfig(model=MLP, epochs=3, lr=1e-2), cpu_device)
    trainer.fit(X[:600], y[:600], progress=False, log=None)
    proba = trainer.predict_proba(X[600:700])
    assert proba.shape == (100, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    predicted = trainer.predict(X[600:700])
    np.testing.assert_array_equal(predicted, proba.argmax(1))
    assert trainer.score(X[600:700], y[600:700]) == np.mean(predicted == y[600:700])
    data = Dataset(as_images(X[600:700]), y[600:700].astype(np.int32))
    assert trainer.score(data) == trainer.evaluate(data)["accuracy"] == trainer.score(X[600:700], y[600:700])
    np.testing.assert_array_equal(trainer.predict(data), predicted)


def test_standardize_is_stored_and_applied(cpu_device, digits_uint8, tmp_path):
    X, y = digits_uint8
    trainer = Trainer(TrainConfig(model=MLP, epochs=2, lr=1e-2, standardize=True), cpu_device)
    trainer.fit(X[:500], y[:500], validation_split=0.2, progress=False, log=None)
    train, _ = to_dataset(X[:500], y[:500]).split(0.2, seed=0)  # statistics of the training split only
    assert trainer.cfg.mean == pytest.approx((float(train.images.mean()),))
    assert trainer.cfg.std == pytest.approx((float(train.images.std()),))
    # the standardised model equals a plain model fed (x - mean) / std by hand
    plain = Trainer(TrainConfig(model=MLP, input_shape=(1, 8, 8)), cpu_device, model=trainer.model)
    by_hand = (as_images(X[500:600]) - trainer.cfg.mean[0]) / trainer.cfg.std[0]
    np.testing.assert_allclose(trainer.predict_proba(X[500:600]), plain.predict_proba(by_hand), atol=1e-5)
    trainer.save(tmp_path / "model.npz")
    loaded = Trainer.load(tmp_path / "model.npz", cpu_device)
    assert loaded.cfg.mean == trainer.cfg.mean
    np.testing.assert_allclose(loaded.predict_proba(X[500:600]), trainer.predict_proba(X[500:600]), atol=1e-6)


def test_progress_bar_is_closed_when_a_step_fails(cpu_device, digits_uint8, monkeypatch):
    from tqdm import tqdm

    X, y = digits_uint8
    trainer = Trainer(TrainConfig(model=MLP, epochs=2, batch_size=16), cpu_device)
    calls = []

    def failing(images, labels):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("device lost")
        return Trainer._step(trainer, images, labels)

    monkeypatch.setattr(trainer, "_step", failing)
    with pytest.raises(RuntimeError, match="device lost") as info:
        trainer.fit(X[:64], y[:64], progress=True)
    assert info.value is not None and len(calls) == 3
    assert list(tqdm._instances) == []  # closed, although the traceback still holds the bar


# --- gpuml train on the user's own data --------------------------------------------------------------------------
def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gpuml", "train", *map(str, args), "--no-progress", "--backend", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def printed_accuracy(stdout: str) -> float:
    return float(re.search(r"test accuracy (\d\.\d{4}); wrote", stdout).group(1))


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fashion_like(n: int, seed: int):
    """Fashion-MNIST-shaped data (28x28 uint8, labels 0..9): a bright square whose position encodes the class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        r, col = 2 + 8 * (c // 4), 2 + 6 * (c % 4)
        images[i, r : r + 6, col : col + 6] = 255
    return images, labels


def test_cli_trains_on_idx_files_like_fashion_mnist(tmp_path):
    train_x, train_y = fashion_like(120, 0)
    test_x, test_y = fashion_like(40, 1)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train_x)  # Fashion-MNIST ships .gz
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train_y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test_x)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_y)
    out = tmp_path / "run"
    result = run_cli(
        "--images", tmp_path / "train-images-idx3-ubyte.gz", "--labels", tmp_path / "train-labels-idx1-ubyte.gz",
        "--test-images", tmp_path / "t10k-images-idx3-ubyte", "--test-labels", tmp_path / "t10k-labels-idx1-ubyte",
        "--epochs", "1", "--batch-size", "16", "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "training on 120 images (1x28x28, 10 classes), testing on 40" in result.stdout
    model, meta = load_model(out / "model.npz", gpuml.get_device("cpu"))
    assert model.input_shape == (1, 28, 28) and model.shapes[-1] == (10,)  # LeNet-5 for 28x28 images
    assert meta["config"]["model"] == "lenet5" and meta["config"]["extra"]["data"]["test_images"]
    # the printed accuracy is the saved model's on the test files
    accuracy = Trainer(TrainConfig(), gpuml.get_device("cpu"), model=model).score(test_x, test_y)
    assert printed_accuracy(result.stdout) == pytest.approx(accuracy, abs=5e-5)
    assert (out / "history.json").exists()


def test_cli_trains_on_an_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    colours = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}
    for name, rgb in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(10):
            size = (16, 12) if i else (20, 20)  # one odd size: resized to the most common, 16 wide x 12 high
            pixels = (np.asarray(rgb) * rng.uniform(0.6, 1.0)).astype(np.uint8)
            Image.new("RGB", size, tuple(int(v) for v in pixels)).save(root / name / f"{i}.png")
    (root / "red" / "broken.png").write_bytes(b"not a png")
    (root / "red" / ".DS_Store").write_bytes(b"hidden")
    out = tmp_path / "run"
    result = run_cli(root, "--epochs", "1", "--batch-size", "8", "--lr", "0.01", "--out", out)
    assert result.returncode == 0, result.stderr
    assert re.search(r"skipped .*broken\.png: cannot identify image file", result.stderr)
    assert "DS_Store" not in result.stderr and "Traceback" not in result.stderr
    assert "training on 24 images (3x12x16, 3 classes), testing on 6" in result.stdout  # 20% held out
    model, meta = load_model(out / "model.npz", gpuml.get_device("cpu"))
    assert model.input_shape == (3, 12, 16) and model.shapes[-1] == (3,)
    assert meta["config"]["extra"]["classes"] == ["blue", "green", "red"]
    history = json.loads((out / "history.json").read_text())["history"]
    assert printed_accuracy(result.stdout) == pytest.approx(history[-1]["test_accuracy"], abs=5e-5)
    predicted = subprocess.run(
        [sys.executable, "-m", "gpuml", "predict", out / "model.npz", root / "green" / "3.png", "--backend", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert re.search(r"3\.png: \d (blue|green|red) \(p=", predicted.stdout)


def test_cli_trains_on_an_npz_with_standardization(tmp_path, digits_uint8):
    X, y = digits_uint8
    np.savez(tmp_path / "digits.npz", x=X[:300], y=y[:300])
    out = tmp_path / "run"
    result = run_cli(tmp_path / "digits.npz", "--epochs", "1", "--standardize", "--test-fraction", "0.25", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "training on 225 images (1x8x8, 10 classes), testing on 75" in result.stdout
    _, meta = load_model(out / "model.npz", gpuml.get_device("cpu"))
    train, test = to_dataset(X[:300], y[:300]).split(0.25, seed=0)
    assert meta["config"]["mean"] == pytest.approx([float(train.images.mean())])
    assert meta["config"]["model"] == "digits-cnn"  # images under 28x28
    trainer = Trainer.load(out / "model.npz", gpuml.get_device("cpu"))
    assert printed_accuracy(result.stdout) == pytest.approx(trainer.score(test), abs=5e-5)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, r"missing\.npz: no such file or folder$"),
        (lambda p: write_idx(p, np.zeros((2, 4, 4))), r"data\.npz: an IDX file; pass it as --images"),
        (lambda p: p.write_text("garbage"), r"data\.npz: not an \.npz file \(not a zip archive\)$"),
        (lambda p: np.savez(p, a=np.zeros(3)), r"data\.npz: expected arrays 'images' and 'labels'.*found a$"),
        (
            lambda p: np.savez(p, images=np.zeros((3, 8, 8), np.uint8), labels=[0, 1, 2.5]),
            r"data\.npz: images/labels: labels must be integers, got non-integer values 2\.5",
        ),
    ],
)
def test_cli_data_errors_are_one_line(tmp_path, make, message):
    path = tmp_path / ("missing.npz" if "missing" in message else "data.npz")
    make(path)
    result = run_cli(path, "--epochs", "1", "--out", tmp_path / "run")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and re.search(message, result.stderr.strip())
