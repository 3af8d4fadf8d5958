"""Live training: LeNet-5 on an MNIST subset, step by step, with the curves drawn by the renderer."""

import array
import json
import time

import gpuml
from gpuml import ops
from gpuml.playground.training import TrainModel, device_batches

from .core import PAGE, _bytes_js, _ms

__all__ = ["evaluate", "train_setup", "train_steps"]


def train_setup(train_images, train_labels, test_images, test_labels, batch=64, lr=2e-3, seed=0):
    t0 = time.perf_counter()
    dev = PAGE.device

    def floats(blob):
        return array.array("f", array.array("B", blob.to_bytes()))  # uint8 values as floats, scaled on the device

    n, nt = train_labels.length, test_labels.length
    x = ops.mul(gpuml.tensor(floats(train_images), device=dev), 1.0 / 255).reshape(n, 1, 28, 28)
    xt = ops.mul(gpuml.tensor(floats(test_images), device=dev), 1.0 / 255).reshape(nt, 1, 28, 28)
    y = gpuml.tensor(array.array("i", array.array("B", train_labels.to_bytes())), device=dev)
    yt = gpuml.tensor(array.array("i", array.array("B", test_labels.to_bytes())), device=dev)
    batches, per_epoch = device_batches(x, y, int(batch))
    PAGE.train = model = TrainModel(
        batches, per_epoch, (xt, yt), batch=int(batch), lr=float(lr), seed=int(seed), eval_every=None,
        steps_per_frame=1, n_train=n, device=dev,
    )  # fmt: skip
    PAGE.nets["trained"] = model.net
    _draw_curves()
    return json.dumps(
        {"ms": _ms(t0), "n_train": n, "n_test": nt, "batch": int(batch), "parameters": model.net.parameters().size}
    )


def train_steps(count=1):
    """``count`` optimisation steps (each: batch view, forward, fused softmax CE, backward, Adam), one readback
    of their losses; a test evaluation at each epoch end; then the curves are drawn."""
    model = PAGE.train
    tests = len(model.test_accs)
    model.train_steps(int(count))
    _draw_curves()
    return json.dumps(
        {
            "step": model.steps,
            "epoch": model.steps / model.per_epoch,
            "loss": model.losses[-1],
            "batch_acc": model.accs[-1],
            "test_acc": model.test_accs[-1] if len(model.test_accs) > tests else None,
            "ms_per_step": model.ms_per_step,
        }
    )


def evaluate():
    return PAGE.train.evaluate()


def _draw_curves():
    model = PAGE.train
    if PAGE.renderer is None:
        return
    loss = array.array("f", [v for s, y in zip(model.loss_steps, model.losses, strict=True) for v in (s, y)])
    acc = array.array("f", [v for s, a in zip(model.test_steps, model.test_accs, strict=True) for v in (s, a)])
    PAGE.renderer.curves(
        "curves",
        _bytes_js(loss),
        len(model.losses),
        _bytes_js(acc),
        len(model.test_accs),
        max(model.per_epoch * 3, model.steps),
    )
