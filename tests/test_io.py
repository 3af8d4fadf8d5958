"""Model files (gpuml.save / gpuml.load, gpuml.serialize): Python-built models come back exactly, on every backend;
files that are not models fail with one clear line; writes are atomic; the old format still loads; the facade."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import gpuml
from gpuml import models, nn, serialize
from gpuml.nn.functional import softmax_cross_entropy
from gpuml.optim import SGD


def cnn():
    """Every layer type: both convolutions' forms (padding, stride, dilation, groups, no bias), both pools with
    padding, batch norm, dropout, both activations, flatten, linear with and without bias."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=2, padding=1),
        nn.Conv2d(4, 6, (3, 2), stride=(1, 2), dilation=(2, 1), groups=2, bias=False),
        nn.BatchNorm2d(6, eps=1e-3, momentum=0.3),
        nn.Tanh(),
        nn.AvgPool2d(2, stride=1, padding=1),
        nn.Dropout(0.25, seed=7),
        nn.Flatten(),
        nn.Linear(None, 12, bias=np.bool_(False)),  # a numpy scalar argument is stored as a number
        nn.ReLU(),
        nn.Linear(None, 3),
    )


def mlp():
    """Every activation, with and without arguments."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 16),
        nn.Tanh(),
        nn.Dropout(0.5),
        nn.Linear(16, 8),
        nn.Sigmoid(),
        nn.Linear(8, 8),
        nn.GELU("tanh"),
        nn.Linear(8, 8),
        nn.LeakyReLU(0.2),
        nn.GELU(),
        nn.Linear(8, 3),
    )


def spec_cnn():
    """A model the text spec can express (the web page rebuilds such models from their spec)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3)
    )


MODELS = {"cnn": cnn, "mlp": mlp, "spec_cnn": spec_cnn}


def test_every_layer_of_gpuml_nn_is_covered():
    offered = {n for n in nn.__all__ if isinstance(getattr(nn, n), type) and issubclass(getattr(nn, n), nn.Module)}
    offered -= {"Module", "Sequential"}
    covered = {type(layer).__name__ for make in MODELS.values() for layer in make().layers}
    assert offered - covered == set(), "add these layers to a model in tests/test_io.py"


def trained(make, device, seed=3):
    """``make()`` built on ``device`` after one SGD step in training mode (batch-norm statistics move)."""
    model = make().build((1, 8, 8), device, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.random((4, 1, 8, 8), np.float32)
    y = np.array([0, 1, 2, 1], np.int32)
    _, _, grad = softmax_cross_entropy(model.forward(x), gpuml.tensor(y, device=device))
    model.backward(grad)
    SGD(model.parameters(), 0.1).step()
    return model.eval()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_gives_bit_identical_predictions(name, any_device, tmp_path):
    model = trained(MODELS[name], any_device)
    x = np.random.default_rng(5).random((3, 1, 8, 8), np.float32)
    before = model.forward(x).numpy()
    path = tmp_path / "model.npz"
    gpuml.save(model, path)
    loaded = gpuml.load(path, any_device)
    assert [type(m) for m in loaded.layers] == [type(m) for m in model.layers]
    assert [m.config() for m in loaded.layers] == [m.config() for m in model.layers]
    assert not loaded.training and loaded.device is any_device
    state, back = model.state_dict(), loaded.state_dict()
    assert state.keys() == back.keys()
    for key in state:
        np.testing.assert_array_equal(back[key], state[key], err_msg=key)
    if name == "cnn":  # the batch-norm statistics moved away from (0, 1) and came back
        assert not np.allclose(back["1.running_mean"], 0) and not np.allclose(back["5.running_var"], 1)
    np.testing.assert_array_equal(loaded.forward(x).numpy(), before)


def test_file_layout(cpu_device, tmp_path):
    model = trained(cnn, cpu_device)
    gpuml.save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        meta = json.loads(bytes(data["__meta__"]))
        keys = set(data.files)
    assert meta["format"] == serialize.FORMAT_VERSION == 2
    assert meta["model"]["input_shape"] == [1, 8, 8]
    assert meta["model"]["layers"][4] == {
        "type": "Conv2d",
        "args": {
            "in_channels": 4,
            "out_channels": 6,
            "kernel_size": [3, 2],
            "stride": [1, 2],
            "padding": [0, 0],
            "dilation": [2, 1],
            "groups": 2,
            "bias": False,
        },
    }
    assert meta["model"]["layers"][8] == {"type": "Dropout", "args": {"rate": 0.25, "seed": 7}}
    assert meta["spec"] is None  # dilation, padded pools, ... have no spec form
    assert {"model/0.weight", "model/1.running_mean", "model/5.running_var", "model/12.bias"} <= keys


def test_spec_is_kept_where_it_describes_the_model(cpu_device, tmp_path):
    gpuml.save(trained(spec_cnn, cpu_device), tmp_path / "a.npz")
    _, meta = serialize.read(tmp_path / "a.npz")
    assert meta["spec"] == "conv 4 3 pad1 | bn | relu | maxpool 2 | flatten | fc 3"
    built = nn.from_spec("conv 4 3 pad1 bn relu | maxpool 2 | fc 3", (1, 8, 8), cpu_device)
    gpuml.save(built, tmp_path / "b.npz")
    assert serialize.read(tmp_path / "b.npz")[1]["spec"] == "conv 4 3 pad1 bn relu | maxpool 2 | fc 3"
    assert gpuml.load(tmp_path / "b.npz", cpu_device).spec == built.spec


def test_shipped_model_in_the_old_format_loads_and_predicts_the_same(cpu_device, tmp_path):
    with np.load(models.path()) as data:  # the shipped weights in a file as gpuml 0.1 wrote it: format 1, no layer list
        arrays = {k: data[k] for k in data.files if k.startswith("model/")}
        spec = json.loads(bytes(data["__meta__"]))["spec"]
    old = {"format": 1, "config": {"model": "lenet5", "input_shape": [1, 28, 28]}, "spec": spec, "epoch": 10}
    path = tmp_path / "format1.npz"
    np.savez(path, __meta__=np.frombuffer(json.dumps(old).encode(), np.uint8), **arrays)
    with np.load(path) as data:  # what gpuml 0.1 did: rebuild from the spec, fill the state dict
        meta = json.loads(bytes(data["__meta__"]))
        state = {k[6:]: data[k] for k in data.files if k.startswith("model/")}
    assert meta["format"] == 1 and "model" not in meta
    reference = nn.from_spec(meta["spec"], tuple(meta["config"]["input_shape"]), cpu_device)
    reference.load_state_dict(state)
    reference.eval()
    x = np.random.default_rng(0).random((4, 1, 28, 28), np.float32)
    expected = reference.forward(x).numpy()
    loaded = gpuml.load(path, cpu_device)
    np.testing.assert_array_equal(loaded.forward(x).numpy(), expected)
    model, meta1 = gpuml.load_model(path, cpu_device)
    np.testing.assert_array_equal(model.forward(x).numpy(), expected)
    assert meta1["spec"] == meta["spec"]
    # saved again in the new format: same predictions, same spec (the web page's converter reads it)
    gpuml.save(loaded, tmp_path / "again.npz")
    assert serialize.read(tmp_path / "again.npz")[1]["spec"] == meta["spec"]
    np.testing.assert_array_equal(gpuml.load(tmp_path / "again.npz", cpu_device).forward(x).numpy(), expected)


# --- files that are not gpuml models -------------------------------------------------------------------------------
def _error(path) -> str:
    with pytest.raises(gpuml.ModelFormatError) as info:
        gpuml.load(path, gpuml.get_device("cpu"))
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


def test_a_png_is_not_a_model(tmp_path):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "digit.png")
    assert "not a gpuml model file (not an .npz archive: a PNG image)" in _error(tmp_path / "digit.png")


def test_other_files_are_not_models(tmp_path):
    np.savez(tmp_path / "random.npz", a=np.random.default_rng(0).random(5), b=np.arange(3))
    assert "not a gpuml model file (an .npz archive without gpuml metadata; arrays: a, b)" in _error(
        tmp_path / "random.npz"
    )
    (tmp_path / "text.npz").write_text("hello")
    assert "not an .npz archive: it starts with b'hello'" in _error(tmp_path / "text.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    assert "not an .npz archive: empty" in _error(tmp_path / "empty.npz")
    np.savez(tmp_path / "meta.npz", __meta__=np.frombuffer(b"\xff{", np.uint8))
    assert "its __meta__ entry is not gpuml metadata" in _error(tmp_path / "meta.npz")
    with pytest.raises(FileNotFoundError):
        gpuml.load(tmp_path / "missing.npz")


def test_truncated_and_damaged_files(cpu_device, tmp_path):
    path = tmp_path / "model.npz"
    gpuml.save(trained(mlp, cpu_device), path)
    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 10):
        path.write_bytes(whole[:cut])
        assert "damaged or truncated file" in _error(path)
    gpuml.save(trained(mlp, cpu_device), path)  # a parameter missing
    with zipfile.ZipFile(path) as z:
        kept = {n: z.read(n) for n in z.namelist() if n != "model/1.weight.npy"}
    with zipfile.ZipFile(path, "w") as z:
        for n, b in kept.items():
            z.writestr(n, b)
    assert "parameters do not fit the model (checkpoint lacks parameter '1.weight')" in _error(path)


def test_a_newer_format_asks_for_a_newer_gpuml(tmp_path):
    serialize.write_atomic(tmp_path / "new.npz", {}, {"format": 3, "model": {"layers": []}})
    assert "written by a newer gpuml (format 3; this gpuml reads formats up to 2): upgrade gpuml" in _error(
        tmp_path / "new.npz"
    )
    layers = [{"type": "Hyperbolic", "args": {}}]
    serialize.write_atomic(tmp_path / "layer.npz", {}, {"format": 2, "model": {"input_shape": [4], "layers": layers}})
    assert "cannot rebuild the model (unknown layer type 'Hyperbolic'" in _error(tmp_path / "layer.npz")


def test_an_old_file_of_a_python_built_model_names_the_problem(cpu_device, tmp_path):
    """gpuml 0.1 stored a Python-built model under the config's model name: the parameters do not fit it."""
    model = trained(mlp, cpu_device)
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {"format": 1, "spec": "lenet5", "config": {"input_shape": [1, 8, 8], "seed": 0}}
    serialize.write_atomic(tmp_path / "old.npz", arrays, meta)
    assert "records only the spec 'lenet5'" in _error(tmp_path / "old.npz")


def test_save_refuses_what_it_could_not_load(cpu_device, tmp_path):
    class Custom(nn.ReLU):
        pass

    with pytest.raises(RuntimeError, match="not built"):
        gpuml.save(mlp(), tmp_path / "x.npz")
    model = nn.Sequential(nn.Flatten(), nn.Linear(None, 3), Custom()).build((1, 4, 4), cpu_device)
    with pytest.raises(TypeError, match=r"layer 2 \(Custom\) is not a gpuml\.nn layer"):
        gpuml.save(model, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"takes a gpuml\.nn\.Sequential"):
        gpuml.save(object(), tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


# --- atomic writes -------------------------------------------------------------------------------------------------
def test_save_is_atomic(cpu_device, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    gpuml.save(trained(mlp, cpu_device), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        gpuml.save(trained(mlp, cpu_device, seed=4), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_a_stale_temp_of_an_interrupted_write_is_removed(cpu_device, tmp_path):
    path = tmp_path / "model.npz"
    # a process killed in the middle of writing (after some bytes, before the rename)
    script = textwrap.dedent(f"""
        import os, numpy as np, gpuml
        from gpuml import serialize
        def dies(f, **arrays):
            f.write(b"PK\\x03\\x04 half a file")
            f.flush()
            os._exit(9)
        np.savez = dies
        serialize.write_atomic({str(path)!r}, {{"a": np.ones(3)}}, {{"format": 2}})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == 9, result.stderr
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(".model.npz.") and stale[0].endswith(".tmp"), stale
    # a write in progress in a live process (this one) is left alone
    live = tmp_path / f".model.npz.{os.getpid()}-0000.tmp"
    live.write_bytes(b"writing")
    gpuml.save(trained(mlp, cpu_device), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "model.npz"])
    live.unlink()


# --- Trainer checkpoints of a model built in Python ----------------------------------------------------------------
def test_trainer_checkpoint_of_a_python_built_model(cpu_device, tmp_path):
    """The bug of issue 18: Trainer.save stored the config's model name and load_model rebuilt LeNet-5."""
    from gpuml.train import TrainConfig, Trainer, load_model

    cfg = TrainConfig(optimizer="adam", lr=1e-2, seed=2)  # model="lenet5", input_shape=None by default
    trainer = Trainer(cfg, cpu_device, model=cnn().build((1, 8, 8), cpu_device, seed=2))
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 1, 8, 8), np.float32), rng.integers(0, 3, 8).astype(np.int32)
    for _ in range(2):
        trainer.train_step(x, y)
    trainer.history = [{"epoch": 1, "train_loss": 1.0}]
    trainer.save(tmp_path / "ckpt.npz")

    model, meta = load_model(tmp_path / "ckpt.npz", cpu_device)
    assert [type(m) for m in model.layers] == [type(m) for m in trainer.model.layers]
    assert meta["history"] == trainer.history and meta["config"]["seed"] == 2
    trainer.model.eval()
    np.testing.assert_array_equal(model.forward(x).numpy(), trainer.model.forward(x).numpy())
    trainer.model.train()

    resumed = Trainer.load(tmp_path / "ckpt.npz", cpu_device)
    assert resumed.optimizer.steps == 2 and resumed.step_count == 2 and resumed.history == trainer.history
    assert resumed.model.layers[8].calls == trainer.model.layers[8].calls == 2  # dropout's mask sequence
    for t in (trainer, resumed):  # both continue identically
        t.train_step(x, y)
    np.testing.assert_array_equal(resumed.model.parameters().data.numpy(), trainer.model.parameters().data.numpy())
    np.testing.assert_array_equal(
        resumed.optimizer.state["exp_avg_sq"].numpy(), trainer.optimizer.state["exp_avg_sq"].numpy()
    )
    gpuml.save(model, tmp_path / "plain.npz")
    with pytest.raises(gpuml.ModelFormatError, match="without training state"):
        Trainer.load(tmp_path / "plain.npz", cpu_device)


def test_web_page_converter_reads_new_files(cpu_device, tmp_path):
    from gpuml.webbuild import BuildError, convert_model

    model = trained(spec_cnn, cpu_device)
    gpuml.save(model, tmp_path / "m.npz")
    info = convert_model(tmp_path / "m.npz", tmp_path / "site", name="m")
    assert info["spec"] == "conv 4 3 pad1 | bn | relu | maxpool 2 | flatten | fc 3"
    assert info["input_shape"] == [1, 8, 8]
    blob = np.frombuffer((tmp_path / "site" / "m.bin").read_bytes(), "<f4")
    state = model.state_dict()
    for entry in info["tensors"]:
        chunk = blob[entry["offset"] : entry["offset"] + entry["size"]]
        np.testing.assert_array_equal(chunk, state[entry["name"]].ravel(), err_msg=entry["name"])
    assert {e["name"] for e in info["tensors"]} == set(state)
    gpuml.save(trained(cnn, cpu_device), tmp_path / "dilated.npz")  # no spec form: the page could not build it
    with pytest.raises(BuildError, match="this model's layers have no spec form"):
        convert_model(tmp_path / "dilated.npz", tmp_path / "site", name="d")


# --- the facade ----------------------------------------------------------------------------------------------------
def test_import_gpuml_exposes_the_api_lazily():
    script = textwrap.dedent("""
        import sys, gpuml
        heavy = ("matplotlib", "sklearn", "PIL", "tqdm", "gpuml.nn", "gpuml.train", "gpuml.cluster")
        print([m for m in heavy if m in sys.modules])
        names = ["nn", "optim", "cluster", "augment", "explain", "save", "load", "Trainer", "TrainConfig",
                 "Dataset", "load_model", "ModelFormatError"]
        print(all(n in dir(gpuml) for n in names))
        print([getattr(gpuml, n).__name__ for n in names])
        print(hasattr(gpuml, "no_such_thing"))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "[]"  # nothing heavy at import time
    assert lines[1] == "True"
    assert lines[2] == str(
        [
            "gpuml.nn",
            "gpuml.optim",
            "gpuml.cluster",
            "gpuml.augment",
            "gpuml.explain",
            "save",
            "load",
            "Trainer",
            "TrainConfig",
            "Dataset",
            "load_model",
            "ModelFormatError",
        ]
    )
    assert lines[3] == "False"
    assert gpuml.nn is nn and gpuml.save is serialize.save and gpuml.Trainer.__module__ == "gpuml.train"
