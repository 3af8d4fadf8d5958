"""gpuml.train.model_io: a built model given to a Trainer on another device moves there with its weights, and the
model-file helpers are still named by gpuml.train."""

import numpy as np

import gpuml.train as train
from gpuml.backends import open_device
from gpuml.nn import from_spec
from gpuml.train import TrainConfig, Trainer


def test_trainer_moves_a_model_built_elsewhere_with_its_weights():
    cpu, py = open_device("cpu"), open_device("python")
    model = from_spec("flatten | fc 3", (1, 2, 2), cpu, seed=3)
    before = {k: np.asarray(v).copy() for k, v in model.state_dict().items()}
    x = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2) / 8
    expected = model.forward(x).numpy()
    trainer = Trainer(TrainConfig(input_shape=(1, 2, 2), optimizer="sgd"), device=py, model=model)
    assert trainer.model is model and model.device is py
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(np.asarray(after[k]), before[k])
    np.testing.assert_allclose(model.forward(x).numpy(), expected, rtol=1e-6)


def test_model_file_helpers_are_still_gpuml_train_names(tmp_path):
    assert train.load_model.__module__ == "gpuml.train.model_io"
    cpu = open_device("cpu")
    trainer = Trainer(TrainConfig(model="flatten | fc 3", input_shape=(1, 2, 2), optimizer="sgd"), device=cpu)
    path = tmp_path / "m.npz"
    trainer.save(path)
    arrays, meta = train.load_npz(path)
    assert arrays and meta["config"]["model"] == "flatten | fc 3"
    model, _ = train.load_model(path, cpu)
    x = np.ones((1, 1, 2, 2), np.float32)
    np.testing.assert_array_equal(model.forward(x).numpy(), trainer.model.eval().forward(x).numpy())
