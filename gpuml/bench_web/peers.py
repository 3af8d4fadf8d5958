"""The peers of ``gpuml bench web`` beside TensorFlow.js (issue 20.4): jax-js (``@jax-js/jax``) and ONNX Runtime Web
(``onnxruntime-web``), pinned in web/package.json, loaded by web/bench/index.html only (``jax_side.js``,
``ort_side.js``), never by the site or the wheel.

Host side: which peer runs which case, starting each in the page (WebGPU, else its Wasm backend, said in the row
name), the ONNX models ORT runs (one-node MatMul and Conv graphs built with the ``onnx`` package; LeNet-5 as
``gpuml.export.onnx`` writes it), LeNet-5's weights in each layout, and the float64 numpy LeNet-5 forward the
inference outputs are checked against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .cases import JAX, NODE, ORT, ref_conv2d

PEERS = (JAX, ORT)
PEER_BACKENDS = ("webgpu", "wasm")
PEER_FILES = {
    JAX: "@jax-js/jax/dist/index.js",
    ORT: "onnxruntime-web/dist/ort.webgpu.min.mjs",
}


def peers_unavailable() -> dict[str, str]:
    """{peer: why it cannot run here} for the peers whose files web/node_modules lacks."""
    return {
        peer: f"web/node_modules/{need} is missing: run `npm ci` in web/"
        for peer, need in PEER_FILES.items()
        if not (NODE / need).is_file()
    }


def impl_name(peer: str, backend: str) -> str:
    """The row name: the peer and the backend it ran on (``jax-js[webgpu]``, ``ort-web[wasm]``)."""
    return f"{peer}[{backend}]"


def start_peers(page, peers, backends, data: Path, log) -> dict:
    """Start each peer in ``page`` on each of ``backends`` ("webgpu": the same adapter as gpuml; "wasm": the peer's
    CPU backend, for context). Returns {peer: {"version", "backends": {backend: {"ok", "reason"?}}, ...}}; a
    backend that does not start is kept with its reason and not run."""
    out = {}
    for peer in peers:
        if peer == JAX:
            info = page.evaluate("(w) => jaxbench.init(w)", list(backends))
            info["backends"] = {
                b: {"ok": True}
                if b in info["devices"]
                else {"ok": False, "reason": f"jax-js init('{b}') gave no device"}
                for b in backends
            }
        else:
            probe = data / "ort_probe.onnx"
            probe.write_bytes(matmul_model().SerializeToString())
            info = page.evaluate("() => ortbench.init()")
            info["backends"] = {}
            for b in backends:
                try:
                    used = page.evaluate("([b, u]) => ortbench.use(b, u)", [b, "/data/ort_probe.onnx"])
                    info["backends"][b] = {"ok": True}
                    if used.get("features"):
                        info["features"] = used["features"]
                except Exception as exc:  # the EP's own message is the reason reported
                    reason = str(exc).splitlines()[0][:300]
                    info["backends"][b] = {"ok": False, "reason": reason}
        started = [b for b, v in info["backends"].items() if v["ok"]]
        log(f"{peer} {info.get('version')} on {', '.join(started) or 'nothing'}")
        out[peer] = info
    return out


# --- ONNX models for ORT ------------------------------------------------------------------------------------------


def _onnx():
    import onnx
    from onnx import helper, numpy_helper

    return onnx, helper, numpy_helper


def matmul_model(m=None, k=None, n=None):
    """C = A @ B as one ONNX MatMul node (inputs a, b; output c); dims symbolic when not given."""
    onnx, helper, _ = _onnx()
    f = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "matmul",
        [
            helper.make_tensor_value_info("a", f, [m or "M", k or "K"]),
            helper.make_tensor_value_info("b", f, [k or "K", n or "N"]),
        ],
        [helper.make_tensor_value_info("c", f, [m or "M", n or "N"])],
    )
    return _finish(onnx, helper, graph)


def conv_model(w: np.ndarray, b: np.ndarray, pad: int, x_shape):
    """y = conv2d(x, w) + b as one ONNX Conv node, the weights as initializers (as in a trained model)."""
    onnx, helper, numpy_helper = _onnx()
    f = onnx.TensorProto.FLOAT
    out_hw = [x_shape[i] + 2 * pad - w.shape[i] + 1 for i in (2, 3)]
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[pad] * 4, kernel_shape=list(w.shape[2:]))
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", f, list(x_shape))],
        [helper.make_tensor_value_info("y", f, [x_shape[0], w.shape[0], *out_hw])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    return _finish(onnx, helper, graph)


def _finish(onnx, helper, graph):
    opsets = [helper.make_opsetid("", 17)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="gpuml bench web")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(model)
    return model


# --- LeNet-5 for inference ----------------------------------------------------------------------------------------


def lenet_for_inference():
    """The shipped LeNet-5 (gpuml.models, trained on MNIST) on the cpu device, and where its ONNX file comes from:
    ``gpuml.export.onnx`` (source "gpuml.export.onnx")."""
    import gpuml
    from gpuml import models
    from gpuml.backends import open_device

    return gpuml.load(models.path(), device=open_device("cpu"))


def export_lenet(model, path: Path) -> str:
    """Write ``model`` as ONNX to ``path`` with gpuml.export.onnx; returns how the file was made."""
    import gpuml.export

    gpuml.export.onnx(model, path)
    return "gpuml.export.onnx"


def lenet_state(model) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32) for k, v in model.state_dict().items()}


def jax_weights(state: dict) -> tuple[np.ndarray, list[list[int]]]:
    """gpuml's LeNet-5 state in jax_side.js's order and layout: conv (OC, C, K, K) as gpuml, dense (in, out)."""
    out = []
    for i in (0, 3):
        out += [state[f"{i}.weight"], state[f"{i}.bias"]]
    for i in (7, 9, 11):
        out += [state[f"{i}.weight"].T, state[f"{i}.bias"]]
    flat = np.concatenate([np.ascontiguousarray(a, np.float32).ravel() for a in out])
    return flat, [list(a.shape) for a in out]


def ref_lenet(state: dict, x: np.ndarray) -> np.ndarray:
    """float64 LeNet-5 logits (conv pad 2, ReLU, 2x2 max pool, conv, ReLU, pool, three dense layers)."""

    def pool(h):
        n, c, hh, ww = h.shape
        return h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))

    s = {k: v.astype(np.float64) for k, v in state.items()}
    h = pool(np.maximum(ref_conv2d(x, s["0.weight"], s["0.bias"], 2), 0))
    h = pool(np.maximum(ref_conv2d(h, s["3.weight"], s["3.bias"], 0), 0)).reshape(x.shape[0], -1)
    h = np.maximum(h @ s["7.weight"].T + s["7.bias"], 0)
    h = np.maximum(h @ s["9.weight"].T + s["9.bias"], 0)
    return h @ s["11.weight"].T + s["11.bias"]


# --- the alternating A/B: gpuml and jax-js training steps interleaved in one page ---------------------------------


def alternate_train(page, data: Path, batch: int, rounds: int, lr: float, seed: int, log) -> dict:
    """gpuml's and jax-js's (WebGPU) LeNet-5 Adam steps alternated one for one, the order swapped every round, so a
    change in machine load hits both: ``rounds`` pairs after 3 warm-up pairs, each side timing its own step (loss
    read back) in the page. Returns both sides' step times, the per-round ratio jax-js / gpuml and its median."""
    import json
    import statistics

    from .cases import _initial_lenet_state

    rng = np.random.default_rng(seed)
    n_batches = 8
    images = (1.0 - rng.random((n_batches * batch, 1, 28, 28))).astype(np.float32)
    labels = rng.integers(0, 10, n_batches * batch).astype(np.int32)
    flat, shapes = jax_weights(_initial_lenet_state())
    for name, arr in (("images", images), ("labels", labels), ("weights", flat)):
        (data / f"ab_{name}").write_bytes(np.ascontiguousarray(arr).tobytes())
    spec = {"batch": batch, "n_batches": n_batches, "lr": lr, "device": "webgpu", "weight_shapes": shapes}
    spec |= {"images_url": "/data/ab_images", "labels_url": "/data/ab_labels", "weights_url": "/data/ab_weights"}
    page.evaluate("([c, i]) => gpuml.run(c, i)", ["ab_train_setup(INPUT)", json.dumps(spec)])
    page.evaluate("(s) => jaxbench.abTrainSetup(s)", spec)

    def gpuml_step():
        return json.loads(page.evaluate("(c) => gpuml.run(c)", "ab_train_step()"))

    def jax_step():
        return page.evaluate("() => jaxbench.abTrainStep()")

    first = [gpuml_step(), jax_step()]
    for _ in range(3):
        gpuml_step(), jax_step()
    g_ms, j_ms, ratios = [], [], []
    for r in range(rounds):
        if r % 2:
            j, g = jax_step(), gpuml_step()
        else:
            g, j = gpuml_step(), jax_step()
        g_ms.append(g[0])
        j_ms.append(j[0])
        ratios.append(j[0] / g[0])
    log(f"A/B train b{batch}: jax-js/gpuml median {statistics.median(ratios):.2f} over {rounds} alternating rounds")
    return {
        "batch": batch,
        "rounds": rounds,
        "gpuml_ms": [round(v, 3) for v in g_ms],
        "jax_ms": [round(v, 3) for v in j_ms],
        "ratio_jax_over_gpuml": [round(v, 4) for v in ratios],
        "median_ratio": statistics.median(ratios),
        "gpuml_median_ms": statistics.median(g_ms),
        "jax_median_ms": statistics.median(j_ms),
        "first_losses": {"gpuml": first[0][1], "jax-js": first[1][1]},
    }
