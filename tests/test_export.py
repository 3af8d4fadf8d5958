"""ONNX export (gpuml.export, `gpuml export`): onnxruntime on CPU reproduces gpuml's logits within 1e-5 on the
shipped LeNet-5 and on spec and hand-built models covering every layer type, on the native and numpy backends."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gpuml import models, nn
from gpuml.cli import main as cli_main
from gpuml.train import load_model

onnx = pytest.importorskip("onnx", reason="gpuml.export needs onnx (the export extra; CI installs it)")
ort = pytest.importorskip("onnxruntime", reason="the export tests run ONNX files with onnxruntime (test extra)")

import gpuml.export as export  # noqa: E402 (after the skips)

TOL = 1e-5  # max abs difference of float32 logits


def run_onnx(source, x: np.ndarray) -> np.ndarray:
    """Logits of an ONNX model (a path or a ModelProto) on onnxruntime's CPU provider."""
    data = source.SerializeToString() if hasattr(source, "SerializeToString") else str(source)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": x})[0]


def inputs(shape, batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype(np.float32)


def randomise_buffers(model: nn.Sequential, seed: int = 0) -> None:
    """Batch-norm weights and running statistics away from their initial 1/0, so eval mode is really tested."""
    rng = np.random.default_rng(seed)
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith(("running_mean", "bias")) and value.ndim == 1:
            state[key] = rng.normal(0, 0.5, value.shape).astype(np.float32)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.3, 2.0, value.shape).astype(np.float32)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, nn.BatchNorm2d):
            state[f"{i}.weight"] = rng.uniform(0.5, 1.5, layer.num_features).astype(np.float32)
    model.load_state_dict(state)


def assert_same_logits(model: nn.Sequential, proto, batches=(1, 7), seed: int = 0) -> None:
    model.eval()
    for batch in batches:
        x = inputs(model.input_shape, batch, seed + batch)
        expected = model.forward(x).numpy()
        got = run_onnx(proto, x)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= TOL, f"batch {batch}: max abs {np.abs(got - expected).max():.3g}"


# --- the shipped model --------------------------------------------------------------------------------------------


def test_shipped_lenet5_runs_on_onnxruntime(device, tmp_path):
    model, _ = load_model(models.path(), device)
    path = tmp_path / "lenet5.onnx"
    proto = export.onnx(model, path)
    assert path.stat().st_size > 0 and os.listdir(tmp_path) == ["lenet5.onnx"]  # no temporary file left behind
    # digits-like inputs in [0, 1] and a batch of 7 through one session (the batch dimension is dynamic)
    rng = np.random.default_rng(3)
    for batch in (1, 7):
        x = rng.random((batch, 1, 28, 28), dtype=np.float32)
        expected = model.forward(x).numpy()
        got = run_onnx(path, x)
        assert np.abs(got - expected).max() <= TOL
        assert (got.argmax(1) == expected.argmax(1)).all()
    assert [n.op_type for n in proto.graph.node] == [
        "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"
    ]  # fmt: skip


def reference64(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """The shipped model's layers (Conv2d without dilation or groups, ReLU, MaxPool2d, Flatten, Linear) in float64
    numpy: the exact answer both float32 implementations round away from."""
    state = {k: np.asarray(v, np.float64) for k, v in model.state_dict().items()}
    y = x.astype(np.float64)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, nn.Conv2d):
            assert layer.groups == 1 and layer.dilation == (1, 1) and layer.stride == (1, 1)
            (ph, pw), w = layer.padding, state[f"{i}.weight"]
            windows = np.lib.stride_tricks.sliding_window_view(np.pad(y, ((0, 0), (0, 0), (ph, ph), (pw, pw))),
                                                               w.shape[2:], axis=(2, 3))  # fmt: skip
            y = np.einsum("nchwij,ocij->nohw", windows, w) + state[f"{i}.bias"][None, :, None, None]
        elif isinstance(layer, nn.ReLU):
            y = np.maximum(y, 0)
        elif isinstance(layer, nn.MaxPool2d):
            assert layer.kernel == layer.stride and layer.padding == (0, 0)
            (k, _), (n, c, h, w) = layer.kernel, y.shape
            y = y[:, :, : h // k * k, : w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))
        elif isinstance(layer, nn.Flatten):
            y = y.reshape(len(y), -1)
        else:
            assert isinstance(layer, nn.Linear)
            y = y @ state[f"{i}.weight"].T + state[f"{i}.bias"]
    return y


def test_shipped_lenet5_on_mnist_digits(device):
    """Real test digits: logits reach ~30, where float32's spacing is 1.9e-6, so two correct float32 evaluations in
    different summation orders differ by up to ~1e-5 (each is ~1e-5 from the float64 answer). Asserted: the same
    class for every digit, ONNX no further from the float64 answer than gpuml itself (+ 2 ulps at 16..32), and gpuml vs
    ONNX within 2e-5. (The strict 1e-5 is asserted on [0, 1) noise above, where logits stay near 1.)"""
    from gpuml.datasets import mnist

    model, _ = load_model(models.path(), device)
    x = np.ascontiguousarray(mnist("test").subset(1000, seed=1).images, np.float32)
    ours = np.concatenate([model.forward(x[i : i + 250]).numpy() for i in range(0, len(x), 250)])
    theirs = run_onnx(export.onnx(model, None), x)
    exact = reference64(model, x)
    assert (theirs.argmax(1) == ours.argmax(1)).all()
    assert np.abs(theirs - exact).max() <= np.abs(ours - exact).max() + 3.8e-6
    assert np.abs(theirs - ours).max() <= 2e-5


def test_file_layout(cpu_device, tmp_path):
    """Named input/output, float32, a symbolic batch dimension, the documented opset and the lowest IR version that
    opset needs; the weights are stored exactly."""
    model, _ = load_model(models.path(), cpu_device)
    export.onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert export.DEFAULT_OPSET == 17
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    assert proto.ir_version == 8 and proto.producer_name == "gpuml"

    def dims(value_info):
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, inp.type.tensor_type.elem_type, dims(inp)) == ("input", onnx.TensorProto.FLOAT, ["N", 1, 28, 28])
    assert (out.name, out.type.tensor_type.elem_type, dims(out)) == ("logits", onnx.TensorProto.FLOAT, ["N", 10])
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    state = model.state_dict()
    assert set(weights) == set(state)
    for key, value in state.items():
        assert weights[key].dtype == np.float32 and np.array_equal(weights[key], value), key


# --- random spec models and hand-built ones: every layer type and geometry ------------------------------------------

SPECS = {
    "lenet5-bn": ("lenet5-bn", (1, 28, 28)),
    "lenet5-classic": ("lenet5-classic", (1, 28, 28)),
    "strided-groups-dropout": (
        "conv 8 3 pad1 s2 bn relu | maxpool 2 | conv 8 3 g4 tanh | avgpool 2 | dropout 0.3 | fc 16 relu | fc 5",
        (3, 21, 17),
    ),
    "avgpool-stride-bn": (
        "conv 6 5 pad2 bn tanh | avgpool 3 s2 | conv 12 3 pad1 g3 bn relu | maxpool 2 s1 | fc 10 tanh | dropout | fc 4",
        (2, 16, 16),
    ),
    "mlp": ("flatten | fc 32 relu | dropout 0.2 | fc 16 tanh | fc 3", (1, 6, 6)),
    "activations": (
        "conv 6 3 pad1 bn gelu | maxpool 2 | conv 8 3 g2 gelu_tanh | avgpool 2 s1 | leakyrelu 0.2 | fc 12 sigmoid "
        "| dropout 0.1 | fc 10 leakyrelu",
        (3, 12, 12),
    ),
}


@pytest.mark.parametrize("name", SPECS)
def test_spec_models_match(device, name):
    spec, shape = SPECS[name]
    model = nn.from_spec(spec, shape, device, seed=sum(map(ord, name)))
    randomise_buffers(model, seed=len(name))
    model.train()  # the export is for inference whatever the mode: dropout left out, batch norm on running stats
    proto = export.onnx(model, None)
    assert "Dropout" not in {n.op_type for n in proto.graph.node}
    assert_same_logits(model, proto)


def geometry_model(device):
    """What the spec grammar cannot say: dilation, rectangular kernels/strides/padding, padded pools (the average
    counting the padding, as the layer does), layers without bias, a trailing Dropout."""
    return nn.Sequential(
        nn.Conv2d(4, 8, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=2),
        nn.BatchNorm2d(eps=1e-3),
        nn.ReLU(),
        nn.MaxPool2d((3, 2), stride=(2, 1), padding=1),
        nn.Conv2d(None, 6, 3, padding=1, dilation=2, bias=False),
        nn.Tanh(),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(None, 12, bias=False),
        nn.ReLU(),
        nn.Linear(None, 6),
        nn.Dropout(0.5),
    ).build((4, 19, 14), device, seed=5)


def test_geometry_model_matches(device):
    model = geometry_model(device)
    randomise_buffers(model, seed=2)
    proto = export.onnx(model, None)
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attrs == {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [2, 1, 2, 1], "dilations": [2, 1], "group": 2}
    assert proto.graph.node[-1].output[0] == "logits"  # the trailing Dropout adds no node
    assert_same_logits(model, proto, batches=(1, 7, 2))


def test_flat_input_model(device):
    """A model whose input is a feature vector: the ONNX input is (N, F)."""
    model = nn.Sequential(nn.Linear(None, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(None, 4), nn.Tanh())
    model.build((11,), device, seed=3)
    proto = export.onnx(model, None)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 11]
    assert_same_logits(model, proto)


def test_python_backend(python_device):
    model = nn.from_spec(
        "conv 3 3 pad1 bn relu | avgpool 2 | conv 4 2 tanh | maxpool 2 | fc 5", (2, 8, 8), python_device
    )
    randomise_buffers(model)
    assert_same_logits(model, export.onnx(model, None), batches=(1, 3))


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_opsets(cpu_device, opset):
    model = geometry_model(cpu_device)
    randomise_buffers(model)
    proto = export.onnx(model, None, opset=opset)
    assert proto.opset_import[0].version == opset
    assert proto.ir_version == onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    assert_same_logits(model, proto)


# --- activations another part of gpuml may add; every layer type gpuml.nn exports has a conversion --------------------


def layer_types():
    return sorted(
        name
        for name in nn.__all__
        if isinstance(getattr(nn, name), type)
        and issubclass(getattr(nn, name), nn.Module)
        and getattr(nn, name) not in (nn.Module, nn.Sequential)
    )


def test_every_layer_type_has_a_conversion():
    types = layer_types()
    assert {"Conv2d", "Linear", "ReLU", "Tanh", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Dropout", "Flatten"} <= set(
        types
    )
    missing = [name for name in types if export._converter(getattr(nn, name).__new__(getattr(nn, name))) is None]
    assert missing == []


ACTIVATIONS = {  # name -> constructor arguments, each exported and compared
    "Sigmoid": [{}],
    "LeakyReLU": [{}, {"negative_slope": 0.2}, {"negative_slope": -0.5}],
    "GELU": [{}, {"approximate": "tanh"}],
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("opset", [17, 21])
def test_activations(device, name, opset):
    if not hasattr(nn, name):
        pytest.skip(f"gpuml.nn has no {name}")
    cls = getattr(nn, name)
    for kwargs in ACTIVATIONS[name]:
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), cls(**kwargs), nn.Flatten(), nn.Linear(None, 5))
        model.layers.append(cls(**kwargs))  # on the logits too: their range reaches both tails
        model.build((2, 6, 6), device, seed=1)
        proto = export.onnx(model, None, opset=opset)
        ops = {n.op_type for n in proto.graph.node}
        expected = {"Sigmoid": "Sigmoid", "LeakyReLU": "LeakyRelu", "GELU": "Gelu" if opset >= 20 else "Erf"}[name]
        if name == "GELU" and kwargs and opset < 20:
            expected = "Tanh"
        assert expected in ops, ops
        assert_same_logits(model, proto)


# --- errors ----------------------------------------------------------------------------------------------------------


class Square(nn.Module):
    def forward(self, x):
        return x


def test_unknown_layer_is_named(cpu_device):
    model = nn.Sequential(nn.Flatten(), Square(), nn.Linear(None, 2)).build((1, 3, 3), cpu_device)
    with pytest.raises(NotImplementedError, match=r"no ONNX conversion for layer 1 \(Square\)"):
        export.onnx(model, None)


def test_bad_arguments(cpu_device, tmp_path):
    with pytest.raises(ValueError, match="not built"):
        export.onnx(nn.Sequential(nn.Flatten()), tmp_path / "x.onnx")
    with pytest.raises(TypeError, match=r"takes a gpuml\.nn\.Sequential"):
        export.onnx(nn.Linear(3, 2), tmp_path / "x.onnx")
    model = nn.Sequential(nn.Flatten(), nn.Linear(None, 2)).build((4,), cpu_device)
    with pytest.raises(ValueError, match="opset 12 is not supported"):
        export.onnx(model, tmp_path / "x.onnx", opset=12)
    assert os.listdir(tmp_path) == []


def test_missing_onnx_is_one_clear_line(cpu_device, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    model = nn.Sequential(nn.Flatten(), nn.Linear(None, 2)).build((4,), cpu_device)
    with pytest.raises(ImportError, match=r'needs the onnx package: pip install "gpuml\[export\]"'):
        export.onnx(model, tmp_path / "x.onnx")
    assert cli_main(["export", str(models.path()), str(tmp_path / "y.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ['gpuml export: gpuml.export needs the onnx package: pip install "gpuml[export]" '
                                "(or pip install onnx)"]  # fmt: skip
    assert os.listdir(tmp_path) == []


# --- the command line ----------------------------------------------------------------------------------------------


def test_cli_export(tmp_path):
    """`gpuml export model.npz out.onnx` in a fresh process: one line, and the file reproduces the model."""
    out = tmp_path / "lenet5.onnx"
    env = {**os.environ, "GPUML_EXPECT_GPU": "0"}
    args = [sys.executable, "-m", "gpuml", "export", str(models.path()), str(out), "--opset", "13"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    size = out.stat().st_size
    assert proc.stdout == f"wrote {out}: ONNX opset 13, {size:,} bytes, input float32 [N, 1, 28, 28]\n"
    from gpuml.backends import open_device

    model, _ = load_model(models.path(), open_device("cpu"))
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    assert np.abs(run_onnx(out, x) - model.forward(x).numpy()).max() <= TOL


def test_cli_exports_a_model_built_in_python(cpu_device, tmp_path, capsys):
    """A Sequential built in Python (layers no spec names) saved with gpuml.save, exported on the command line."""
    import gpuml

    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, dilation=1, bias=False),
        nn.BatchNorm2d(),
        nn.LeakyReLU(0.1) if hasattr(nn, "LeakyReLU") else nn.ReLU(),
        nn.AvgPool2d(2, padding=1),
        nn.Flatten(),
        nn.Linear(None, 8),
        nn.GELU() if hasattr(nn, "GELU") else nn.Tanh(),
        nn.Linear(None, 3),
    ).build((1, 9, 9), cpu_device, seed=4)
    randomise_buffers(model, seed=4)
    gpuml.save(model, tmp_path / "custom.npz")
    out = tmp_path / "custom.onnx"
    assert cli_main(["export", str(tmp_path / "custom.npz"), str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: ONNX opset 17, ")
    assert_same_logits(model, out)


@pytest.mark.parametrize("case", ["missing", "corrupt", "not-a-model", "opset"])
def test_cli_errors_are_one_line(tmp_path, capsys, case):
    source = tmp_path / "model.npz"
    extra = []
    if case == "corrupt":
        source.write_bytes(models.path().read_bytes()[:5000])  # a truncated download
    elif case == "not-a-model":
        np.savez(source, weights=np.zeros(3))
    elif case == "opset":
        source = models.path()
        extra = ["--opset", "99"]
    out = tmp_path / "out.onnx"
    assert cli_main(["export", str(source), str(out), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not out.exists()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpuml export: "), captured.err
    expected = {
        "missing": f"{source}: no such model file",
        "corrupt": f"{source}: ",  # the reason is gpuml.load's
        "not-a-model": f"{source}: ",
        "opset": "opset 99 is not supported",
    }[case]
    assert expected in lines[0]
