"""The architecture builder's model (gpuml.playground.builder): shapes and parameter counts per layer, invalid
stacks explained in one line, the numpy-free model file read back by gpuml.load and ``gpuml predict``."""

import subprocess
import sys

import numpy as np
import pytest

import gpuml
from gpuml.playground import builder as B

STACK = [
    {"type": "conv", "out": 4, "k": 3, "pad": 1},
    {"type": "bn"},
    {"type": "relu"},
    {"type": "pool", "mode": "max", "k": 2},
    {"type": "conv", "out": 6, "k": 5},
    {"type": "tanh"},
    {"type": "pool", "mode": "avg", "k": 2},
    {"type": "dropout", "rate": 0.25},
    {"type": "fc", "out": 10},
]


def test_shapes_and_counts_match_summary():
    report = B.analyze(STACK)
    assert report["ok"] and report["errors"] == []
    shapes = [r["shape"] for r in report["rows"]]
    assert shapes == ["4×28×28", "4×28×28", "4×28×28", "4×14×14", "6×10×10", "6×10×10", "6×5×5", "6×5×5", "10"]
    params = [r["params"] for r in report["rows"]]
    assert params == [4 * 9 + 4, 8, 0, 0, 6 * 4 * 25 + 6, 0, 0, 0, 150 * 10 + 10]
    model = B.build(STACK, device="cpu")
    assert report["params"] == model.summary().trainable_params == sum(params)
    assert report["spec"].startswith("conv 4 3 pad1 | bn | relu | maxpool 2")


def test_reorder_and_remove_change_shapes():
    swapped = [STACK[0], STACK[3], STACK[1], *STACK[2:3], *STACK[4:]]
    assert B.analyze(swapped)["rows"][1]["shape"] == "4×14×14"
    fewer = STACK[:4] + STACK[7:]  # no second conv: fc 10 sees 4×14×14
    report = B.analyze(fewer)
    assert report["rows"][-1]["params"] == 4 * 14 * 14 * 10 + 10 and report["ok"]


@pytest.mark.parametrize(
    "stack, error",
    [
        ([{"type": "pool", "k": 4}] * 3 + [{"type": "fc", "out": 10}],
         "layer 3 (maxpool 4): input 1×1 is smaller than the window"),
        ([{"type": "conv", "out": 4, "k": 5}] * 7 + [{"type": "fc", "out": 10}],
         "layer 7 (conv 4 5×5): input 4×4 is smaller than the 5×5 kernel"),
        ([{"type": "flatten"}, {"type": "conv", "out": 4, "k": 3}],
         "layer 2 (conv 4 3×3): a convolution needs an image (C×H×W) but gets a flat vector of 784; move it before "
         "flatten"),
        ([{"type": "conv", "out": 4, "k": 3}],
         "layer 1 (conv 4 3×3): the model must end in 10 class scores (fc 10), its output is 4×26×26"),
        ([{"type": "fc", "out": 0}], "layer 1 (fc 0): outputs must be an integer in [1, 512], got 0"),
        ([{"type": "dropout", "rate": 1.5}, {"type": "fc", "out": 10}],
         "layer 1 (dropout 1.5): the dropout rate must be in [0, 1), got 1.5"),
        ([], "the stack is empty: add a layer (the last one must be fc 10)"),
    ],
)  # fmt: skip
def test_invalid_stacks_are_explained(stack, error):
    report = B.analyze(stack)
    assert not report["ok"] and report["errors"] == [error]
    with pytest.raises(ValueError, match=r"layer|empty"):
        B.build(stack, device="cpu")


def test_model_file_loads_natively_and_predicts_the_same(tmp_path):
    model = B.build(STACK, device="cpu", seed=3)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    model.train().forward(x)  # batch-norm running statistics move off their initial values
    path = tmp_path / "built.npz"
    path.write_bytes(B.model_file(model))
    loaded = gpuml.load(path, device="cpu")
    assert [type(m).__name__ for m in loaded.layers] == [type(m).__name__ for m in model.layers]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    np.testing.assert_array_equal(loaded.forward(x).numpy(), model.eval().forward(x).numpy())
    # the CLI reads it: a 28x28 digit image gives a class
    from PIL import Image

    img = tmp_path / "digit.png"
    Image.fromarray((x[0, 0] * 255).astype(np.uint8)).save(img)
    out = subprocess.run([sys.executable, "-m", "gpuml", "predict", str(path), str(img)],
                         capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                           "GPUML_BACKEND": "cpu"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{img}: ") and "p=" in out.stdout


def test_npy_header_is_aligned():
    blob = B._npy(b"abc", "|u1", (3,))
    assert blob[:6] == b"\x93NUMPY" and (10 + int.from_bytes(blob[8:10], "little")) % 64 == 0


def test_short_training_run_learns():
    from gpuml.playground.training import device_batches

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256).astype(np.int32)
    x = rng.random((256, 1, 28, 28), dtype=np.float32) * 0.2
    x[y == 1, :, 10:18, 10:18] += 0.8  # class 1: a bright square
    xt, yt = gpuml.tensor(x, device="cpu"), gpuml.tensor(y, device="cpu")
    batches, per_epoch = device_batches(xt, yt, 32)
    model = B.trainer([*STACK[:4], {"type": "fc", "out": 10}], batches, per_epoch, (xt, yt), batch=32, lr=1e-2,
                      eval_every=None, device=xt.device)  # fmt: skip
    assert isinstance(model.net.layers[-1], gpuml.nn.Linear) and model.net.layers[-1].out_features == 10
    for _ in range(3):
        model.train_steps(per_epoch)
    assert model.test_accs[-1] > 0.9


def test_empty_fields_are_named_nothing_in_the_error():
    from gpuml.playground import builder as B
    from gpuml.playground.controls import slider

    stack = [{"type": "conv", "out": None, "k": 3}, {"type": "flatten"}, {"type": "fc", "out": 10}]
    assert B.analyze(stack)["errors"] == ["layer 1 (conv ? 3×3): outputs must be an integer in [1, 512], got nothing"]
    stack = [{"type": "dropout", "rate": ""}, {"type": "flatten"}, {"type": "fc", "out": 10}]
    assert B.analyze(stack)["errors"] == ["layer 1 (dropout ?): the dropout rate must be in [0, 1), got nothing"]
    k = slider("k", 5, 2, 15, integer=True)
    try:
        k.validate(None)
    except ValueError as e:
        assert str(e) == "control 'k' takes an integer in [2, 15], got nothing"
    else:
        raise AssertionError("None accepted")
