"""Training in the browser: the same Python training loop (model from a spec, fused softmax cross-entropy,
backward, Adam) runs in Pyodide without numpy on navigator.gpu and natively on wgpu-py; the 20 losses agree."""

from __future__ import annotations

import base64
import json
import textwrap

import numpy as np

from gpuml.backends import open_device
from gpuml.datasets import digits

SPEC = "conv 6 3 pad1 relu | maxpool 2 | conv 8 3 relu | flatten | fc 32 relu | fc 10"
STEPS, BATCH = 20, 32

# Runs unchanged in CPython and in Pyodide core: no numpy, data arrives as base64 in INPUT.
TRAIN = textwrap.dedent(
    """
    import array, base64, json, sys
    import gpuml
    from gpuml.nn import from_spec
    from gpuml.nn.functional import softmax_cross_entropy
    from gpuml.optim import Adam

    args = json.loads(INPUT)
    images = array.array("f")
    images.frombytes(base64.b64decode(args["images"]))
    labels = array.array("i")
    labels.frombytes(base64.b64decode(args["labels"]))
    model = from_spec(args["spec"], (1, 8, 8), device=DEVICE, seed=3)
    opt = Adam(model.parameters(), lr=1e-2)
    batch, sums = args["batch"], []
    for step in range(args["steps"]):
        x = gpuml.tensor(images[step * batch * 64 : (step + 1) * batch * 64], device=DEVICE).reshape(batch, 1, 8, 8)
        y = gpuml.tensor(labels[step * batch : (step + 1) * batch], device=DEVICE)
        row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
        model.backward(grad)
        opt.step()
        sums.append(gpuml.ops.sum(row_loss))
    result = json.dumps(
        {"losses": [s.item() / batch for s in sums], "numpy": "numpy" in sys.modules, "backend": model.device.name}
    )
    result
    """
)


def payload() -> str:
    data = digits("train")
    n = STEPS * BATCH
    images = np.ascontiguousarray(data.images[:n], np.float32)
    labels = np.ascontiguousarray(data.labels[:n], np.int32)
    return json.dumps(
        {
            "images": base64.b64encode(images.tobytes()).decode(),
            "labels": base64.b64encode(labels.tobytes()).decode(),
            "spec": SPEC,
            "steps": STEPS,
            "batch": BATCH,
        }
    )


def run_natively(code: str, input: str) -> dict:
    *body, last = code.strip().splitlines()
    namespace = {"INPUT": input, "DEVICE": open_device("native")}
    exec("\n".join(body), namespace)
    exec("RESULT = " + last, namespace)
    return json.loads(namespace["RESULT"])


def test_twenty_training_steps_match_native(browser):
    data = payload()
    browser.run("DEVICE = None  # the page's current device: navigator.gpu")
    page = browser.run(TRAIN, data)
    host = run_natively(TRAIN, data)
    assert page["backend"] == "browser" and not page["numpy"]
    assert host["backend"] == "native"
    np.testing.assert_allclose(page["losses"], host["losses"], rtol=0, atol=1e-4)
    assert page["losses"][-1] < page["losses"][0] * 0.9  # it really trains
