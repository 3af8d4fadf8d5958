"""Architecture builder: the stack's shapes, parameter counts and explanations (gpuml.playground.builder) on each
edit, a short training run of the built model on the site's MNIST subsets (TrainModel, in slices from the worker),
the trained model as a gpuml model file (bytes for a download) and the page's prediction for a test digit."""

import array
import base64
import json
import time

import gpuml
from gpuml import ops
from gpuml.playground import builder
from gpuml.playground.training import device_batches

from .core import PAGE, _ms

TRAIN_IMAGES = 4096

__all__ = ["builder_analyze", "builder_export", "builder_predict", "builder_setup", "builder_steps"]


def builder_analyze(stack_json):
    """Rows (label, output shape, parameters, error) of the stack, the total and its explanations."""
    t0 = time.perf_counter()
    out = builder.analyze(json.loads(stack_json))
    out["ms"] = _ms(t0)
    return json.dumps(out)


def _data(train_images, train_labels, test_images, test_labels):
    """The MNIST subsets on the device (once): images scaled to [0, 1] there, labels as int32."""
    if getattr(PAGE, "builder_data", None) is None:
        dev = PAGE.device

        def floats(blob, n):
            return array.array("f", array.array("B", blob.to_bytes()[: n * 784]))

        def ints(blob, n):
            return array.array("i", array.array("B", blob.to_bytes()[:n]))

        n, nt = min(train_labels.length, TRAIN_IMAGES), test_labels.length  # a short run needs no more
        x = ops.mul(gpuml.tensor(floats(train_images, n), device=dev), 1.0 / 255).reshape(n, 1, 28, 28)
        xt = ops.mul(gpuml.tensor(floats(test_images, nt), device=dev), 1.0 / 255).reshape(nt, 1, 28, 28)
        y = gpuml.tensor(ints(train_labels, n), device=dev)
        yt = gpuml.tensor(ints(test_labels, nt), device=dev)
        PAGE.builder_data = (x, y, xt, yt)
    return PAGE.builder_data


def builder_setup(train_images, train_labels, test_images, test_labels, stack_json, batch=64, lr=2e-3):
    """A fresh model of the stack (ValueError in words when it does not fit) ready to train."""
    t0 = time.perf_counter()
    x, y, xt, yt = _data(train_images, train_labels, test_images, test_labels)
    batches, per_epoch = device_batches(x, y, int(batch))
    stack = json.loads(stack_json)
    PAGE.builder = builder.trainer(stack, batches, per_epoch, (xt, yt), batch=int(batch), lr=float(lr),
                                   eval_every=None, steps_per_frame=1, device=PAGE.device)  # fmt: skip
    PAGE.builder.stack = stack
    return json.dumps({"ms": _ms(t0), "n_train": y.shape[0], "n_test": yt.shape[0], "per_epoch": per_epoch,
                       "parameters": builder.analyze(stack)["params"]})  # fmt: skip


def builder_steps(count=1, final=False):
    """``count`` training steps, one readback of their loss; with ``final`` the test accuracy after them."""
    model = PAGE.builder
    t0 = time.perf_counter()
    model.train_steps(int(count))
    test = model.evaluate() if final else None
    return json.dumps({"step": model.steps, "loss": model.losses[-1], "batch_acc": model.accs[-1],
                       "test_acc": test, "ms": _ms(t0)})  # fmt: skip


def builder_export():
    """The trained model as a gpuml model file (format 2), base64, for a Blob download."""
    model = PAGE.builder
    data = builder.model_file(model.net.eval(), {"trained_on": "MNIST (the page's subset)", "steps": model.steps})
    model.net.train()
    return json.dumps({"name": "gpuml_builder_model.npz", "bytes": len(data), "b64": base64.b64encode(data).decode()})


def builder_predict(index=0):
    """The class the page's model gives test digit ``index`` (eval mode), its probability and the true label."""
    model = PAGE.builder
    _, _, xt, yt = PAGE.builder_data
    i = int(index)
    net = model.net.eval()
    j = i - i % 4  # a view of 4 images starts at a multiple of 256 bytes, so kernels can bind it
    logits = net.forward(xt.view(j * 784, (4, 1, 28, 28))).to_array().tolist()[(i - j) * 10 : (i - j + 1) * 10]
    net.train()
    m = max(logits)
    ex = [2.718281828459045 ** (v - m) for v in logits]
    top = logits.index(m)
    label = yt.view(i, (1,)).to_array().tolist()[0]
    return json.dumps({"index": i, "class": top, "p": ex[top] / sum(ex), "label": int(label)})
