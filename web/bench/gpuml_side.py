"""The gpuml side of ``gpuml bench web`` (run in Pyodide core by gpuml/bench_web.py; TensorFlow.js's side is
tfjs_side.js). No numpy here: inputs arrive as raw little-endian files (``/data/...``) read into array.array,
outputs go back by POST (``/result/...``).

Timing, as on the tf.js side: warm-up runs excluded, then ``repeat`` runs of wall clock = work + device sync
(``device.sync()``: flush, await ``queue.onSubmittedWorkDone()``; no readback), then ``profile`` runs under
``device.profile()`` (every dispatch alone under timestamp queries, as tf.time() times each kernel) and as many
under ``device.timer()`` (GPU span of the block as gpuml runs it: one submit).
"""

import array as _pyarray
import json
import time

import js
from pyodide.ffi import run_sync, to_js

import gpuml
from gpuml.nn import from_spec
from gpuml.nn.functional import softmax_cross_entropy
from gpuml.optim import Adam

DEV = gpuml.get_device()


def fetch_array(url, code="f"):
    resp = run_sync(js.fetch(url))
    if not resp.ok:
        raise RuntimeError(f"fetching {url}: HTTP {resp.status}")
    out = _pyarray.array(code)
    out.frombytes(js.Uint8Array.new(run_sync(resp.arrayBuffer())).to_bytes())
    return out


def post(url, data: bytes):
    options = to_js({"method": "POST", "body": to_js(data)}, dict_converter=js.Object.fromEntries)
    resp = run_sync(js.fetch(url, options))
    if not resp.ok:
        raise RuntimeError(f"posting {url}: HTTP {resp.status}")


def first_call(fn) -> float:
    """ms of the first call + device sync (pipelines created on first use are in it)."""
    t0 = time.perf_counter()
    out = fn()
    DEV.sync()
    ms = (time.perf_counter() - t0) * 1e3
    del out
    return ms


def time_it(fn, warmup, repeat, profile, first_ms=None):
    for _ in range(warmup):
        out = fn()
        DEV.sync()
        del out
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        DEV.sync()
        walls.append((time.perf_counter() - t0) * 1e3)
        del out
    kernel_ms, kernels = [], {}
    for _ in range(profile):
        with DEV.profile() as prof:
            out = fn()
        DEV.sync()
        del out
        rows = prof.by_kernel()
        kernel_ms.append(sum(r[2] for r in rows) * 1e3)
        for path, n, t, _ in rows:
            entry = kernels.setdefault(path, [0, 0.0])
            entry[0] += n
            entry[1] += t * 1e3
    spans = []
    for _ in range(profile):
        with DEV.timer() as t:
            out = fn()
        del out
        if t.gpu_seconds is not None:
            spans.append(t.gpu_seconds * 1e3)
    per_run = sorted(
        ([p, n / max(profile, 1), ms / max(profile, 1)] for p, (n, ms) in kernels.items()), key=lambda r: -r[2]
    )
    return {"first_ms": first_ms, "walls_ms": walls, "kernel_ms": kernel_ms, "kernels": per_run, "span_ms": spans}


def bench_matmul(spec):
    a = gpuml.tensor(fetch_array(spec["a_url"])).reshape(spec["m"], spec["k"])
    b = gpuml.tensor(fetch_array(spec["b_url"])).reshape(spec["k"], spec["n"])

    def fn():
        return gpuml.ops.matmul(a, b)

    first_ms = first_call(fn)
    post(spec["result_url"], fn().to_bytes())
    return time_it(fn, spec["warmup"], spec["repeat"], spec["profile"], first_ms)


def bench_chain(spec):
    """``ops`` dependent adds of two n-float tensors (y = y + x), then one sync: the cost of issuing an op."""
    x = gpuml.tensor(fetch_array(spec["x_url"]))

    def fn():
        y = x
        for _ in range(spec["ops"]):
            y = gpuml.ops.add(y, x)
        return y

    first_ms = first_call(fn)
    post(spec["result_url"], fn().to_bytes())
    return time_it(fn, spec["warmup"], spec["repeat"], spec["profile"], first_ms)


def bench_conv(spec):
    n, c, h, w, oc, k, pad = (spec[key] for key in ("n", "c", "h", "w", "oc", "k", "pad"))
    x = gpuml.tensor(fetch_array(spec["x_url"])).reshape(n, c, h, w)
    wt = gpuml.tensor(fetch_array(spec["w_url"])).reshape(oc, c, k, k)
    b = gpuml.tensor(fetch_array(spec["b_url"]))

    def fn():
        return gpuml.ops.conv2d(x, wt, b, padding=pad)

    first_ms = first_call(fn)
    post(spec["result_url"], fn().to_bytes())
    result = time_it(fn, spec["warmup"], spec["repeat"], spec["profile"], first_ms)
    result["algo"] = gpuml.ops.last_conv_algo()
    return result


def bench_train(spec):
    """LeNet-5 (ReLU, max pooling; seed 0), Adam: the step of gpuml.train.Trainer.train_step (upload the batch,
    forward, fused softmax cross-entropy, backward, one fused Adam kernel, loss summed on the device) without the
    accuracy sum, then the loss read back (4 bytes). gpuml.train itself needs numpy, absent from Pyodide core."""
    batch, n_batches = spec["batch"], spec["n_batches"]
    images = fetch_array(spec["images_url"])
    labels = fetch_array(spec["labels_url"], "i")
    model = from_spec("lenet5", (1, 28, 28), device=DEV, seed=0)
    model.train()
    opt = Adam(model.parameters(), lr=spec["lr"])

    def step(i):
        j = i % n_batches
        x = gpuml.tensor(images[j * batch * 784 : (j + 1) * batch * 784]).reshape(batch, 1, 28, 28)
        y = gpuml.tensor(labels[j * batch : (j + 1) * batch])
        row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
        model.backward(grad)
        opt.step()
        return gpuml.ops.sum(row_loss)

    t0 = time.perf_counter()
    losses = [step(0).item() / batch]
    first_ms = (time.perf_counter() - t0) * 1e3
    losses += [step(i).item() / batch for i in range(1, spec["check_steps"])]
    i = spec["check_steps"]
    for _ in range(spec["warmup"]):
        step(i).item()
        i += 1
    walls = []
    for _ in range(spec["repeat"]):
        t0 = time.perf_counter()
        step(i).item()
        walls.append((time.perf_counter() - t0) * 1e3)
        i += 1
    counter = iter(range(i, i + 2 * spec["profile"]))
    result = time_it(lambda: step(next(counter)), 0, 0, spec["profile"])
    result["walls_ms"] = walls
    result["first_ms"] = first_ms
    result["losses"] = losses
    d0 = DEV.memory_stats().get("dispatches", 0)
    step(0).item()
    result["dispatches_per_step"] = DEV.memory_stats().get("dispatches", 0) - d0
    return result


def bench_infer(spec):
    """LeNet-5 (the shipped weights, sent by the host in gpuml's parameter layout) as a user predicts: host images
    in, forward, logits back on the host, every run (no profile: the readback is part of the work)."""
    batch = spec["batch"]
    images = fetch_array(spec["images_url"])
    model = from_spec("lenet5", (1, 28, 28), device=DEV, seed=0)
    model.parameters().data.assign(fetch_array(spec["weights_url"]))
    model.eval()

    def predict():
        return model.forward(gpuml.tensor(images).reshape(batch, 1, 28, 28)).to_bytes()

    t0 = time.perf_counter()
    logits = predict()
    first_ms = (time.perf_counter() - t0) * 1e3
    post(spec["result_url"], logits)
    for _ in range(spec["warmup"]):
        predict()
    walls = []
    for _ in range(spec["repeat"]):
        t0 = time.perf_counter()
        predict()
        walls.append((time.perf_counter() - t0) * 1e3)
    return {"first_ms": first_ms, "walls_ms": walls}


_AB = {}


def ab_train_setup(payload: str) -> str:
    """The alternating A/B (peers.alternate_train): a LeNet-5 + Adam as bench_train, stepped by ab_train_step."""
    spec = json.loads(payload)
    batch, n_batches = spec["batch"], spec["n_batches"]
    images, labels = fetch_array(spec["images_url"]), fetch_array(spec["labels_url"], "i")
    model = from_spec("lenet5", (1, 28, 28), device=DEV, seed=0)
    model.train()
    opt = Adam(model.parameters(), lr=spec["lr"])

    def step(i):
        j = i % n_batches
        x = gpuml.tensor(images[j * batch * 784 : (j + 1) * batch * 784]).reshape(batch, 1, 28, 28)
        y = gpuml.tensor(labels[j * batch : (j + 1) * batch])
        row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
        model.backward(grad)
        opt.step()
        return gpuml.ops.sum(row_loss).item() / batch

    _AB.update(step=step, i=0)
    return "ok"


def ab_train_step() -> str:
    """One step, its loss read back; returns [ms, loss]."""
    t0 = time.perf_counter()
    loss = _AB["step"](_AB["i"])
    _AB["i"] += 1
    return json.dumps([(time.perf_counter() - t0) * 1e3, loss])


def run_case(payload: str) -> str:
    spec = json.loads(payload)
    kinds = {"matmul": bench_matmul, "conv": bench_conv, "infer": bench_infer, "train": bench_train}
    fn = {**kinds, "chain": bench_chain}[spec["kind"]]
    return json.dumps(fn(spec))


def info() -> str:
    return json.dumps({**DEV.summary(), "gpuml": gpuml.__version__})
