"""The cases of ``gpuml bench web``, their tolerances, where the page lives, and the host-side data and float64
references both libraries are checked against."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gpuml

ROOT = Path(__file__).resolve().parents[2]  # the source checkout
WEB = ROOT / "web"
PAGE = WEB / "bench"
NODE = WEB / "node_modules"
GPUML, TFJS = "gpuml[browser]", "tfjs-webgpu"
JAX, ORT = "jax-js", "ort-web"  # the peers (issue 20.4); their rows say the backend they ran on: jax-js[webgpu]
MATMUL_TOL = CONV_TOL = 1e-4  # max |error| / max |reference| (f32 sums; the kernels differ in summation order)
INFER_TOL = 1e-4  # max |error| / max |reference| on LeNet-5's logits
LOSS_TOL = 2e-3  # absolute, on the mean cross-entropy (~2.3) after a few Adam steps
LR = 1e-3


KINDS = ("matmul", "conv", "infer", "train", "chain")  # what --case takes


@dataclass
class WebCase:
    kind: str  # "matmul" | "conv" | "infer" | "train" | "chain"
    label: str
    shape: dict
    peers: tuple = field(default=())  # which of JAX, ORT also run it (ORT cannot train)


def cases(quick: bool = False) -> list[WebCase]:
    """The benchmark cases; ``quick``: tiny sizes (for tests)."""
    if quick:
        return [
            WebCase("matmul", "matmul 100x72x84", {"m": 100, "k": 72, "n": 84}, (JAX, ORT)),
            WebCase("conv", "conv lenet-conv1 N=2", {"n": 2, "c": 1, "oc": 6, "h": 28, "w": 28, "k": 5, "pad": 2}),
            WebCase(
                "conv", "conv 3x3-c8-12 N=1", {"n": 1, "c": 8, "oc": 8, "h": 12, "w": 12, "k": 3, "pad": 1}, (JAX, ORT)
            ),
            WebCase("infer", "infer lenet5 b2", {"batch": 2}, (JAX, ORT)),
            WebCase("train", "train lenet5 b8 adam", {"batch": 8}, (JAX,)),
            WebCase("chain", "100 x add(1024) one sync", {"n": 1024, "ops": 100}),
        ]
    return [
        WebCase("matmul", "matmul 1024x1024x1024", {"m": 1024, "k": 1024, "n": 1024}, (JAX, ORT)),
        # a tiny product: the fixed cost per call (recording, submit, sync) dominates; not a kernel comparison
        WebCase("matmul", "matmul 64x64x64", {"m": 64, "k": 64, "n": 64}),
        WebCase("conv", "conv lenet-conv1 N=64", {"n": 64, "c": 1, "oc": 6, "h": 28, "w": 28, "k": 5, "pad": 2}),
        WebCase("conv", "conv lenet-conv2 N=64", {"n": 64, "c": 6, "oc": 16, "h": 14, "w": 14, "k": 5, "pad": 0}),
        WebCase(
            "conv", "conv 3x3-c64-28 N=8", {"n": 8, "c": 64, "oc": 64, "h": 28, "w": 28, "k": 3, "pad": 1}, (JAX, ORT)
        ),
        # the shipped LeNet-5 as a user predicts with it: host images in, logits on the host
        WebCase("infer", "infer lenet5 b1", {"batch": 1}, (JAX, ORT)),
        WebCase("infer", "infer lenet5 b64", {"batch": 64}, (JAX, ORT)),
        WebCase("train", "train lenet5 b64 adam", {"batch": 64}, (JAX,)),
        # 100 dependent tiny ops and one sync: the cost of issuing an op (Python in WASM vs JavaScript), not kernels
        WebCase("chain", "100 x add(1024) one sync", {"n": 1024, "ops": 100}),
    ]


def unavailable_reason() -> str | None:
    """Why the benchmark cannot run here (None when it can)."""
    if not shutil.which("chromium"):
        return "chromium is not installed (Debian package `chromium`)"
    for need in (
        "pyodide/pyodide.mjs",
        "@tensorflow/tfjs/dist/tf.min.js",
        "@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.js",
    ):
        if not (NODE / need).is_file():
            return f"web/node_modules/{need} is missing: run `npm ci` in {WEB}"
    if not (PAGE / "index.html").is_file():
        return f"{PAGE} is missing (the benchmark page lives in a gpuml source checkout)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright; no browser download needed)"
    return None


# --- host-side data and references ------------------------------------------------------------------------------


def _nonzero_normal(rng, shape, scale=1.0) -> np.ndarray:
    a = (rng.standard_normal(shape) * scale).astype(np.float32)
    a[a == 0] = np.float32(0.5)  # "never zeros": a zero input would make some work trivially skippable
    return a


def ref_conv2d(x, w, b, pad) -> np.ndarray:
    """float64 cross-correlation of NCHW x with (OC, C, K, K) w, zero padding ``pad``, stride 1, plus b."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i : i + oh, j : j + ow], w[:, :, i, j], optimize=True)
    return out + b.astype(np.float64).reshape(1, -1, 1, 1)


def _lenet_tf_weights(state: dict) -> tuple[np.ndarray, list[list[int]]]:
    """gpuml's LeNet-5 state (conv (OC, C, K, K), fc (out, in), flatten in C,H,W order) as tf.js layer weights
    (conv (K, K, C, OC), dense (in, out), flatten in H,W,C order), concatenated, with their shapes."""
    names = ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"]
    names += ["11.weight", "11.bias"]
    if sorted(state) != sorted(names) or state["7.weight"].shape != (120, 400):
        raise ValueError(f"unexpected LeNet-5 parameters: {sorted((k, v.shape) for k, v in state.items())}")
    out = [
        state["0.weight"].transpose(2, 3, 1, 0),
        state["0.bias"],
        state["3.weight"].transpose(2, 3, 1, 0),
        state["3.bias"],
        state["7.weight"].reshape(120, 16, 5, 5).transpose(2, 3, 1, 0).reshape(400, 120),
        state["7.bias"],
        state["9.weight"].T,
        state["9.bias"],
        state["11.weight"].T,
        state["11.bias"],
    ]
    flat = np.concatenate([np.ascontiguousarray(a, np.float32).ravel() for a in out])
    return flat, [list(a.shape) for a in out]


def reference_losses(images: np.ndarray, labels: np.ndarray, batch: int, steps: int) -> list[float]:
    """Mean losses of the first ``steps`` LeNet-5 Adam steps on gpuml's numpy backend (same seed, same batches)."""
    from gpuml.backends import open_device
    from gpuml.nn import from_spec
    from gpuml.nn.functional import softmax_cross_entropy
    from gpuml.optim import Adam

    cpu = open_device("cpu")
    model = from_spec("lenet5", (1, 28, 28), device=cpu, seed=0)
    model.train()
    opt = Adam(model.parameters(), lr=LR)
    losses = []
    for i in range(steps):
        x = gpuml.tensor(images[i * batch : (i + 1) * batch], device=cpu)
        y = gpuml.tensor(labels[i * batch : (i + 1) * batch], device=cpu)
        row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
        model.backward(grad)
        opt.step()
        losses.append(float(row_loss.numpy().astype(np.float64).mean()))
    return losses


def _initial_lenet_state() -> dict:
    from gpuml.backends import open_device
    from gpuml.nn import from_spec

    return from_spec("lenet5", (1, 28, 28), device=open_device("cpu"), seed=0).state_dict()
