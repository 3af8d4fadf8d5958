"""Grad-CAM in the browser: the same LeNet-5 (built from its spec with the same seed, which gives the same weights
everywhere) explains the same MNIST digits in Pyodide without numpy on navigator.gpu and natively; the class
activation maps agree."""

from __future__ import annotations

import base64
import json
import textwrap

import numpy as np

from gpuml import explain
from gpuml.backends import open_device
from gpuml.datasets import mnist
from gpuml.nn import MODELS, from_spec

PAGE = textwrap.dedent(
    """
    import array, base64, json, sys
    import gpuml
    from gpuml import explain
    from gpuml.nn import from_spec

    args = json.loads(INPUT)
    pixels = array.array("f")
    pixels.frombytes(base64.b64decode(args["images"]))
    model = from_spec(args["spec"], (1, 28, 28), seed=7)
    x = gpuml.tensor(pixels).reshape(args["n"], 1, 28, 28)
    parts = explain.grad_cam_device(model, x, target_class=args["classes"])
    result = json.dumps({"cam": parts["cam"].tolist(), "classes": parts["classes"], "numpy": "numpy" in sys.modules})
    result
    """
)


def test_grad_cam_in_browser_equals_host(browser):
    images = np.ascontiguousarray(mnist("test").images[:3], np.float32)
    classes = [7, 2, 1]
    payload = json.dumps(
        {"images": base64.b64encode(images.tobytes()).decode(), "n": 3, "spec": MODELS["lenet5"], "classes": classes}
    )
    page = browser.run(PAGE, payload)
    host_model = from_spec(MODELS["lenet5"], (1, 28, 28), open_device("native"), seed=7)
    host = explain.grad_cam(host_model, images, target_class=classes, return_parts=True)
    assert not page["numpy"] and page["classes"] == classes
    cam_page = np.asarray(page["cam"], np.float64)
    assert cam_page.shape == host["cam_lowres"].shape == (3, 10, 10)
    scale = np.abs(host["cam_lowres"]).max()
    assert scale > 0
    np.testing.assert_allclose(cam_page, host["cam_lowres"], rtol=0, atol=1e-4 * scale)
