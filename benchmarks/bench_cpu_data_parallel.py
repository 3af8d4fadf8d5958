"""Can data parallelism make gpuml's numpy backend use a second core on LeNet-5 training (issue 20, point 3)?

Two measurements, written to one JSON:

1. **Bound.** Independent LeNet-5 half-steps (forward, loss, backward at batch 32, one model each, no step-level
   synchronisation: the best any split of the batch could do) on 1 thread, 2 threads of one process and 2
   processes (fork), in alternating rounds; with a control in the same rounds, 256^3 float32 GEMMs on 1 and 2
   threads (which shows whether a second core was free at all). Figure: wall time per half-step of throughput
   (per-worker time / workers), min and median over the rounds.
2. **Full step.** One LeNet-5 training step at batch 64 (upload, forward, loss, backward, Adam), rotating blocks:
   gpuml as shipped ("plain"), the batch split in two halves run on two threads ("thread-dp"), the same on two
   processes ("process-dp", a prototype: a forked worker with its own replica, weights, inputs, outputs and
   gradients in shared memory, two pipe round trips per step), the two halves one after the other on one thread
   ("split-serial": what a one-thread path giving the same bits would run), and PyTorch CPU, all at ``--threads``
   threads.

The data-parallel steps are prototypes here, not gpuml code: each half runs through a replica of the model's layers
(its own forward state and gradient buffer, the model's weights), the halves' gradients are added into the model's
and Adam runs once.

    python benchmarks/bench_cpu_data_parallel.py [--threads 2] [--rounds 10] [--blocks 10] [--steps 20]
        [--json benchmarks/cpu_data_parallel.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import threading
import time
from multiprocessing import shared_memory
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HALF = 32


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10, help="bound: alternating rounds")
    parser.add_argument("--half-steps", type=int, default=40, help="bound: half-steps per worker per round")
    parser.add_argument("--blocks", type=int, default=10, help="full step: blocks per implementation")
    parser.add_argument("--steps", type=int, default=20, help="full step: steps per block")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "cpu_data_parallel.json"))
    return parser.parse_args()


def stats(values: list[float]) -> dict:
    v = sorted(values)
    return {"min": v[0], "median": v[len(v) // 2], "all": values}


def main() -> None:
    args = parse_args()
    os.environ["GPUML_CPU_THREADS"] = "1"  # the bound's workers: one thread each
    # the prototypes here predate gpuml's own halves (gpuml/nn/data_parallel.py, bench_numpy_torch.py's row): plain
    # is the whole batch on this process's threads
    os.environ["GPUML_CPU_HALVES"] = "0"
    import numpy as np

    from gpuml import nn
    from gpuml.backends.cpu import CPUDevice
    from gpuml.datasets import batches, mnist
    from gpuml.impl.cpu import im2col
    from gpuml.impl.cpu import threads as cpu_threads
    from gpuml.optim import Adam
    from gpuml.tensor import Tensor, tensor

    blas = cpu_threads.openblas()
    if blas is not None:
        blas.set(1)
    dev = CPUDevice()
    it = batches(mnist("train"), 2 * HALF, seed=0, epoch=0)
    data = [next(it) for _ in range(max(20, 2 * args.steps))]

    # im2col keeps a forward's columns for the backward keyed by geometry: two halves of the same geometry would
    # evict each other's (correct, as the input is compared, but recomputed), so the key gets the input's address
    keep, kept = im2col._keep, im2col._kept
    im2col._keep = lambda key, x, cols: keep((key, x.ctypes.data), x, cols)
    im2col._kept = lambda key, x, rows: kept((key, x.ctypes.data), x, rows)

    # --- 1. bound
    def half_steps(res, i, n=args.half_steps):
        model, lossf = nn.lenet5(device=dev, seed=0), nn.CrossEntropyLoss()

        def run(k):
            x, y = data[k % len(data)]
            lossf(model(tensor(x[:HALF], device=dev)), tensor(y[:HALF], device=dev))
            model.backward(lossf.backward())

        for k in range(10):
            run(k)
        t0 = time.perf_counter()
        for k in range(n):
            run(k)
        res[i] = (time.perf_counter() - t0) / n * 1e3

    a = np.random.default_rng(0).random((256, 256), dtype=np.float32)

    def gemms(res, i, n=150):
        t0 = time.perf_counter()
        for _ in range(n):
            a @ a
        res[i] = (time.perf_counter() - t0) / n * 1e3

    def on_threads(fn, n):
        res = [None] * n
        ts = [threading.Thread(target=fn, args=(res, i)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return max(res) / n

    def on_processes(fn, n):
        pipes = [os.pipe() for _ in range(n)]
        pids = []
        for _, w in pipes:
            pid = os.fork()
            if pid == 0:
                res = [None]
                fn(res, 0)
                os.write(w, f"{res[0]!r}".encode())
                os._exit(0)
            pids.append(pid)
        out = [float(os.read(r, 64)) for r, _ in pipes]
        for pid in pids:
            os.waitpid(pid, 0)
        for r, w in pipes:
            os.close(r)
            os.close(w)
        return max(out) / n

    bound = {k: [] for k in ("1 thread", "2 threads", "2 processes", "gemm 1 thread", "gemm 2 threads")}
    load0 = os.getloadavg()
    for _ in range(args.rounds):
        bound["1 thread"].append(on_threads(half_steps, 1))
        bound["2 threads"].append(on_threads(half_steps, 2))
        bound["2 processes"].append(on_processes(half_steps, 2))
        bound["gemm 1 thread"].append(on_threads(gemms, 1))
        bound["gemm 2 threads"].append(on_threads(gemms, 2))
    bound_load = [load0, os.getloadavg()]
    bound = {k: stats(v) for k, v in bound.items()}
    load = f"load {load0[0]:.2f} -> {bound_load[1][0]:.2f}"
    print(f"bound, ms per LeNet-5 half-step (batch {HALF}) of throughput; {load}")
    for k, v in bound.items():
        unit = "ms per 256^3 GEMM" if k.startswith("gemm") else "ms per half-step"
        print(f"  {k:<15} min {v['min']:.3f}  median {v['median']:.3f}  ({unit})")

    # --- 2. full step
    def model_set():
        m = nn.lenet5(device=dev, seed=0)
        return m, Adam(m.parameters(), lr=1e-3), nn.CrossEntropyLoss()

    def replica(model):
        """The model's layers with their own forward state and gradient buffer, the model's weights."""
        seq = nn.Sequential(*[copy.copy(layer) for layer in model.layers])
        seq.store = model.store
        grad = np.zeros(model.store.grad.size, np.float32)
        for layer in seq.layers:
            if hasattr(layer, "params"):
                layer.params = {k: copy.copy(p) for k, p in layer.params.items()}
                for p in layer.params.values():
                    p.grad = Tensor.wrap_numpy(grad[p.offset : p.offset + p.size].reshape(p.shape), dev)
        return seq, grad

    # process-dp's worker: forked before torch starts its threads
    pm, popt, plf = model_set()
    size = pm.store.data.size
    shm = shared_memory.SharedMemory(create=True, size=4 * (2 * size + HALF * (784 + 20)))
    flat = np.ndarray((2 * size + HALF * (784 + 20),), np.float32, shm.buf)
    w_sh, g_sh = flat[:size], flat[size : 2 * size]
    x_sh = flat[2 * size : 2 * size + HALF * 784].reshape(HALF, 1, 28, 28)
    y_sh = flat[2 * size + HALF * 784 : 2 * size + HALF * 794].reshape(HALF, 10)
    gy_sh = flat[2 * size + HALF * 794 :].reshape(HALF, 10)
    (to_r, to_w), (back_r, back_w) = os.pipe(), os.pipe()
    worker = os.fork()
    if worker == 0:
        m = nn.lenet5(device=dev, seed=0)
        wdata, gdata = m.store.data.host(), m.store.grad.host()
        while (c := os.read(to_r, 1)) in (b"f", b"b"):
            if c == b"f":
                np.copyto(wdata, w_sh)
                y_sh[...] = m(tensor(x_sh, device=dev)).host()
            else:
                m.backward(tensor(gy_sh.copy(), device=dev))
                np.copyto(g_sh, gdata)
            os.write(back_w, b"k")
        os._exit(0)

    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_train
    from bench_train import torch_lenet5

    threads = args.threads
    os.environ["GPUML_CPU_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    if blas is not None:
        blas.set(threads)

    plain = model_set()

    def plain_step(x, y):
        m, opt, lossf = plain
        loss = lossf(m(tensor(x, device=dev)), tensor(y, device=dev))
        m.backward(lossf.backward())
        opt.step()
        return loss

    tm, topt, tlossf = model_set()
    reps = [replica(tm) for _ in range(2)]
    busy = cpu_threads._BUSY[0]

    def both(fns):
        """fns[1] on a second thread, fns[0] here; the ops inside run on their own thread (the crew is held) and
        OpenBLAS at one thread, as gpuml's own parts."""
        out = [None, None]
        busy.acquire()
        cpu_threads._pin()
        try:
            t = threading.Thread(target=lambda: out.__setitem__(1, fns[1]()))
            t.start()
            out[0] = fns[0]()
            t.join()
        finally:
            cpu_threads._unpin()
            busy.release()
        return out

    halves = list(zip(reps, (0, HALF), strict=True))

    def thread_dp_step(x, y):
        ys = both([lambda r=r, h=h: r[0](tensor(x[h : h + HALF], device=dev)).host() for r, h in halves])
        loss = tlossf(tensor(np.concatenate(ys), device=dev), tensor(y, device=dev))
        g = tlossf.backward().host()
        both([lambda r=r, h=h: r[0].backward(tensor(g[h : h + HALF], device=dev)) for r, h in halves])
        np.add(reps[0][1], reps[1][1], out=tm.store.grad.host())
        topt.step()
        return loss

    sm, sopt, slossf = model_set()
    sreps = [(*replica(sm), h) for h in (0, HALF)]

    def split_step(x, y):  # the halves one after the other: what one thread would run to give the same bits
        ys = [r(tensor(x[h : h + HALF], device=dev)).host() for r, _, h in sreps]
        loss = slossf(tensor(np.concatenate(ys), device=dev), tensor(y, device=dev))
        g = slossf.backward().host()
        for r, _, h in sreps:
            r.backward(tensor(g[h : h + HALF], device=dev))
        np.add(sreps[0][1], sreps[1][1], out=sm.store.grad.host())
        sopt.step()
        return loss

    wd, gd = pm.store.data.host(), pm.store.grad.host()

    def process_dp_step(x, y):
        np.copyto(w_sh, wd)
        x_sh[...] = x[HALF:]
        os.write(to_w, b"f")
        y0 = pm(tensor(x[:HALF], device=dev)).host()
        os.read(back_r, 1)
        loss = plf(tensor(np.concatenate([y0, y_sh]), device=dev), tensor(y, device=dev))
        g = plf.backward().host()
        gy_sh[...] = g[HALF:]
        os.write(to_w, b"b")
        pm.backward(tensor(np.ascontiguousarray(g[:HALF]), device=dev))
        os.read(back_r, 1)
        np.add(gd, g_sh, out=gd)
        popt.step()
        return loss

    tmodel, toptim, tloss = torch_lenet5(torch)

    torch_step = bench_train.torch_step(torch, tmodel, toptim, tloss)

    impls = {
        "plain": plain_step,
        "split-serial": split_step,
        "thread-dp": thread_dp_step,
        "process-dp": process_dp_step,
        "torch": torch_step,
    }
    check = {}  # one step on the same batch: the same loss and weights
    for name in ("plain", "split-serial", "thread-dp", "process-dp"):
        check[name] = float(np.asarray(impls[name](*data[0]).host()))
    wp = plain[0].store.data.host()
    check["max |w - plain w| thread-dp"] = float(np.abs(tm.store.data.host() - wp).max())
    check["max |w - plain w| process-dp"] = float(np.abs(wd - wp).max())
    check["thread-dp == split-serial (bits)"] = bool(np.array_equal(tm.store.data.host(), sm.store.data.host()))
    check["process-dp == split-serial (bits)"] = bool(np.array_equal(wd, sm.store.data.host()))
    print("check", check)
    for fn in impls.values():  # warm-up
        for x, y in data[: args.steps]:
            fn(x, y)
    rows = {name: [] for name in impls}
    order = list(impls.items())
    load1 = os.getloadavg()
    for b in range(args.blocks):
        d = data[(b % 2) * args.steps : (b % 2 + 1) * args.steps]
        k = b % len(order)
        for name, fn in order[k:] + order[:k]:
            time.sleep(0.05)
            t0 = time.perf_counter()
            for x, y in d:
                fn(x, y)
            rows[name].append((time.perf_counter() - t0) / len(d) * 1e3)
    load2 = os.getloadavg()
    os.write(to_w, b"q")
    os.waitpid(worker, 0)
    shm.close()
    shm.unlink()
    step = {}
    print(f"full step at batch {2 * HALF}, {threads} threads, ms; load {load1[0]:.2f} -> {load2[0]:.2f}")
    for name, v in rows.items():
        ratios = [a / t for a, t in zip(v, rows["torch"], strict=True)]
        step[name] = {"ms": stats(v), "ratio_to_torch": stats(ratios)}
        print(
            f"  {name:<11} median {step[name]['ms']['median']:.2f} min {step[name]['ms']['min']:.2f}  "
            f"/torch median of pairs {step[name]['ratio_to_torch']['median']:.2f}"
        )
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs",
        "adapter": dev.adapter,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "threads": threads,
    }
    out = {"info": info, "bound": bound, "bound_load": bound_load, "check": check, "step": step}
    out["step_load"] = [load1, load2]
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
