"""Live training: LeNet-5 on the site's MNIST subset through gpuml's training demo model (TrainModel, which advances
``gpuml.train.Trainer.fit_steps``: forward, fused softmax cross-entropy, backward and the optimizer as gpuml
kernels); the worker calls ``train_steps`` in slices and the main thread draws the curves from what they return.
``trainer_fit`` runs ``Trainer.fit`` to its end on a small subset (the page tests compare it with native runs)."""

import array
import json
import time

import gpuml
from gpuml import ops
from gpuml.playground.training import TrainModel, device_batches, fit_subset

from .core import PAGE, _ms

__all__ = ["evaluate", "train_check", "train_setup", "train_steps", "trainer_fit"]

EVAL_EVERY = 50  # steps between test evaluations (plus one when the run is done)


def _data(train_images, train_labels, test_images, test_labels):
    """The subsets on the device once per page (images scaled to [0, 1] there)."""
    if getattr(PAGE, "train_data", None) is None:
        dev = PAGE.device

        def floats(blob):
            return array.array("f", array.array("B", blob.to_bytes()))

        n, nt = train_labels.length, test_labels.length
        x = ops.mul(gpuml.tensor(floats(train_images), device=dev), 1.0 / 255).reshape(n, 1, 28, 28)
        xt = ops.mul(gpuml.tensor(floats(test_images), device=dev), 1.0 / 255).reshape(nt, 1, 28, 28)
        y = gpuml.tensor(array.array("i", array.array("B", train_labels.to_bytes())), device=dev)
        yt = gpuml.tensor(array.array("i", array.array("B", test_labels.to_bytes())), device=dev)
        PAGE.train_data = (x, y, xt, yt)
    return PAGE.train_data


def train_check(settings_json="{}"):
    """{name: one-line error} for run settings (epochs, batch, lr, optimizer); empty when all are valid."""
    return json.dumps(TrainModel.check(json.loads(settings_json))[1])


def train_setup(train_images, train_labels, test_images, test_labels, settings_json="{}", seed=0):
    """A new run with ``settings_json`` ({epochs, batch, lr, optimizer}); {"errors": {name: text}} instead when
    a setting is invalid (nothing changes then)."""
    t0 = time.perf_counter()
    settings, errors = TrainModel.check(json.loads(settings_json))
    if errors:
        return json.dumps({"errors": errors})
    x, y, xt, yt = _data(train_images, train_labels, test_images, test_labels)
    batch = settings.get("batch", 64)
    batches, per_epoch = device_batches(x, y, batch)
    PAGE.train = model = TrainModel(
        batches, per_epoch, (xt, yt), batch=batch, lr=settings.get("lr", 3e-3), seed=int(seed),
        eval_every=EVAL_EVERY, steps_per_frame=1, n_train=y.shape[0], device=PAGE.device,
        epochs=settings.get("epochs", 3), optimizer=settings.get("optimizer", "adam"), data_name="MNIST",
    )  # fmt: skip
    PAGE.nets["trained"] = model.net
    return json.dumps(
        {
            "ms": _ms(t0),
            "n_train": y.shape[0],
            "n_test": yt.shape[0],
            "batch": model.batch,
            "lr": model.lr,
            "epochs": model.epochs,
            "optimizer": model.optimizer,
            "per_epoch": model.per_epoch,
            "total_steps": model.total_steps,
            "parameters": model.net.parameters().size,
        }
    )


def train_steps(count=1):
    """Up to ``count`` optimisation steps (each: batch view, forward, fused softmax CE, backward, optimizer), one
    readback of their losses; a test evaluation every EVAL_EVERY steps and when the run is done."""
    model = PAGE.train
    tests = len(model.test_accs)
    model.train_steps(int(count))
    return json.dumps(
        {
            "step": model.steps,
            "epoch": model.steps / model.per_epoch,
            "loss": model.losses[-1],
            "batch_acc": model.accs[-1],
            "test_acc": model.test_accs[-1] if len(model.test_accs) > tests else None,
            "ms_per_step": model.ms_per_step,
            "done": model.done,
            "total_steps": model.total_steps,
        }
    )


def evaluate():
    return PAGE.train.evaluate()


def trainer_fit(train_images, train_labels, options_json="{}"):
    """``Trainer.fit`` on the first images of the MNIST subset (gpuml.playground.training.fit_subset), in one call:
    history, per-step losses, predict/score and the bad-label error, as JSON."""
    opts = json.loads(options_json)
    t0 = time.perf_counter()
    out = fit_subset(train_images.to_bytes(), train_labels.to_bytes(), device=PAGE.device, **opts)
    return json.dumps({**out, "ms": _ms(t0)})
