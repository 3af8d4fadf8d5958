"""gpuml's numpy backend against PyTorch CPU: one LeNet-5 training step at batch 64 (issue 20, point 3).

In ONE process: the same LeNet-5 (gpuml's modern one: conv 6 5 pad2, ReLU, max pool 2, conv 16 5, ReLU, max pool 2,
fc 120, fc 84, fc 10) built on the ``cpu`` device and in torch with gpuml's initial weights, Adam (lr 1e-3),
mean cross-entropy. First a check: the loss, every gradient and every weight update of one step agree (relative
L2 error <= --rtol per tensor). Then rotating blocks (A B A B ..., who goes first rotates) of --steps full training
steps (upload, forward, loss, backward, optimizer update) on the same MNIST batches; the figure is the median block
per implementation, and the ratio gpuml / torch per block pair (median).

Threads: torch.set_num_threads(T); gpuml's numpy backend T threads (GPUML_CPU_THREADS: ops big enough use them,
gpuml/impl/cpu/threads.py, OpenBLAS at one thread inside) and numpy's OpenBLAS set to T (gpuml's ctypes handle,
else threadpoolctl); all read back and written to the JSON. ``--threads 1,2`` runs each count in turn (default: the
CPU count). At two or more threads ``gpuml-cpu`` runs each batch as two halves at once, the second in a helper
process when a CPU is idle (gpuml/nn/data_parallel.py); ``gpuml-cpu whole batch`` is the same step with
GPUML_CPU_HALVES=0 (the whole batch on this process's threads). Each block also records CPU time (this process's,
plus the helper's from /proc): on a loaded machine its ratio moves less. Per thread count,
gpuml's critical path from thread CPU times (see critical_path): an estimate of a quiet machine's step, taken on a
loaded one.

``--baseline REV`` also times gpuml/impl/cpu as committed at REV (loaded beside the current one as its own
implementation family on a second cpu device): an old/new A/B in the same rotating blocks. ``--ops``: per thread
count, where a step goes (gpuml per op, with its worker's share; torch per aten op).

    python benchmarks/bench_numpy_torch.py [--threads 1,2] [--blocks 10] [--steps 20] [--baseline REV]
        [--json benchmarks/numpy_torch.json] [--profile] [--ops]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 64


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--threads", default=str(os.cpu_count() or 1), help="torch and BLAS threads; a list (1,2) runs each in turn"
    )
    parser.add_argument("--blocks", type=int, default=10, help="blocks per implementation")
    parser.add_argument("--steps", type=int, default=20, help="training steps per block")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative L2 error allowed per checked tensor")
    parser.add_argument("--baseline", default=None, help="git revision of gpuml/impl/cpu to time beside the current")
    parser.add_argument("--profile", action="store_true", help="cProfile 50 gpuml steps after the timing")
    parser.add_argument(
        "--ops", action="store_true", help="per thread count, where a step goes: gpuml per op, torch per aten op"
    )
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "numpy_torch.json"))
    return parser.parse_args()


def limit_threads(n: int, first: bool) -> str:
    """``n`` threads for numpy's BLAS and for gpuml's numpy backend (GPUML_CPU_THREADS): numpy's OpenBLAS set
    through gpuml's ctypes handle (gpuml/impl/cpu/threads.py), else threadpoolctl, else (first call only, before
    numpy loads) environment variables. Returns the method."""
    os.environ["GPUML_CPU_THREADS"] = str(n)
    from gpuml.impl.cpu.threads import openblas

    blas = openblas()
    if blas is not None:
        blas.set(n)
        return "OpenBLAS via ctypes (gpuml.impl.cpu.threads)"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if not first:
            raise SystemExit("several thread counts need numpy's OpenBLAS or threadpoolctl") from None
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)
        return "environment variables"
    threadpool_limits(limits=n, user_api="blas")
    return "threadpoolctl"


def blas_threads() -> list[dict]:
    from gpuml.impl.cpu.threads import openblas, threads

    blas = openblas()
    mine = {"gpuml_cpu_threads": threads(), "openblas": None if blas is None else blas.path}
    mine["num_threads"] = None if blas is None else blas.get()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [mine]
    return [mine] + [
        {k: d.get(k) for k in ("user_api", "internal_api", "prefix", "version", "num_threads")}
        for d in threadpool_info()
    ]


def load_baseline(rev: str, family: str):
    """gpuml/impl/cpu at ``rev`` as the package ``gpuml.impl._cpu_baseline`` (its relative imports resolve into
    the current gpuml), registered as implementation ``family``."""
    from gpuml.backends.base import register_implementation
    from gpuml.impl import Implementation

    folder = Path(tempfile.mkdtemp(prefix="gpuml_cpu_baseline_"))
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "gpuml/impl/cpu/"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for path in names:
        if path.endswith(".py"):
            text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True).stdout
            (folder / Path(path).name).write_bytes(text)
    name = "gpuml.impl._cpu_baseline"
    init = folder / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    register_implementation(family, Implementation(family, module, f"numpy twin at {rev}"))


def main() -> None:
    args = parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    method = limit_threads(thread_counts[0], True)
    import numpy as np
    import torch

    torch.set_num_threads(thread_counts[0])

    import bench_train  # benchmarks/, this script's folder
    from bench_train import torch_lenet5

    from gpuml import nn
    from gpuml.backends.cpu import CPUDevice
    from gpuml.datasets import batches, mnist
    from gpuml.optim import Adam
    from gpuml.tensor import tensor

    train = mnist("train")

    def gpuml_model(device):
        model = nn.lenet5(device=device, seed=0)
        return model, Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()

    devices = {"gpuml-cpu": CPUDevice()}
    if args.baseline:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", args.baseline], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        load_baseline(rev, "cpu-baseline")
        base = CPUDevice()
        base.impl_family = "cpu-baseline"
        devices[f"gpuml-cpu@{rev}"] = base
    gmodels = {name: gpuml_model(dev) for name, dev in devices.items()}
    gmodels["gpuml-cpu whole batch"] = gpuml_model(devices["gpuml-cpu"])  # GPUML_CPU_HALVES=0 around its blocks
    devices["gpuml-cpu whole batch"] = devices["gpuml-cpu"]
    tmodel, topt, tloss = torch_lenet5(torch)
    state = gmodels["gpuml-cpu"][0].state_dict()
    with torch.no_grad():
        for name, p in tmodel.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(state[name], np.float32)))

    def gpuml_step(model, opt, lossf, device, xb, yb):
        loss = lossf(model(tensor(xb, device=device)), tensor(yb, device=device))
        model.backward(lossf.backward())
        opt.step()
        return loss

    torch_step = bench_train.torch_step(torch, tmodel, topt, tloss)

    # --- the check: one step on the same batch, loss, gradients and updated weights
    it = batches(train, BATCH, seed=0, epoch=0)
    xb, yb = next(it)
    t_loss = float(torch_step(xb, yb).detach())
    t_grads = {n: p.grad.numpy().copy() for n, p in tmodel.named_parameters()}
    t_weights = {n: p.detach().numpy().copy() for n, p in tmodel.named_parameters()}
    check = {}
    for name, (model, opt, lossf) in gmodels.items():
        loss = float(gpuml_step(model, opt, lossf, devices[name], xb, yb).numpy())
        errors = {"loss": abs(loss - t_loss) / abs(t_loss)}
        for pname, p in model.named_parameters():
            g, w = p.grad.numpy().reshape(t_grads[pname].shape), p.data.numpy().reshape(t_weights[pname].shape)
            errors[f"grad {pname}"] = float(np.linalg.norm(g - t_grads[pname]) / np.linalg.norm(t_grads[pname]))
            w0 = np.asarray(state[pname], np.float32).reshape(w.shape)  # the update itself, not the weights
            du, tu = w - w0, t_weights[pname] - w0
            errors[f"update {pname}"] = float(np.linalg.norm(du - tu) / np.linalg.norm(tu))
        worst = max(errors, key=errors.get)
        check[name] = {"max_rel_err": errors[worst], "worst": worst, "errors": errors}
        print(
            f"check {name}: loss {loss:.6f} (torch {t_loss:.6f}), worst relative L2 error {errors[worst]:.2e} ({worst})"
        )
        if not errors[worst] <= args.rtol:
            raise SystemExit(f"{name} disagrees with torch: {worst} relative error {errors[worst]:.2e} > {args.rtol}")

    # --- rotating blocks on the same batches
    data = [next(it) for _ in range(args.steps * 2)]
    blocks = {
        name: (lambda d, m=m, dev=devices[name]: [gpuml_step(*m, dev, x, y) for x, y in d])
        for name, m in gmodels.items()
    }
    blocks["torch-cpu"] = lambda d: [torch_step(x, y) for x, y in d]
    whole, where = blocks["gpuml-cpu whole batch"], {}

    def whole_batch(d):
        os.environ["GPUML_CPU_HALVES"] = "0"
        try:
            return whole(d)
        finally:
            os.environ.pop("GPUML_CPU_HALVES")

    def halves(d, fn=blocks["gpuml-cpu"], model=gmodels["gpuml-cpu"][0]):
        out = fn(d)
        split = model.__dict__.get("_split")  # where the last step's second half ran (gpuml/nn/data_parallel.py)
        key = "whole batch" if split is None else split.pending.where
        where[key] = where.get(key, 0) + 1
        return out

    blocks["gpuml-cpu whole batch"], blocks["gpuml-cpu"] = whole_batch, halves

    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

    def critical_path(repeats: int = 3) -> float:
        """gpuml-cpu's step as a quiet machine would run it, from thread CPU times (load-robust, an estimate): the
        calling thread's CPU time, plus per split op its ranges' CPU time shared evenly over the threads (at least
        its longest range; ranges are claimed on demand, so on a loaded machine the caller may run most of them)
        minus the caller's own, plus per pipelined convolution what its GEMMs on the worker took beyond the
        caller's CPU time in it. Leaves out hand-over latency (~40 us per op), GIL waits and memory-bandwidth
        contention. Min over ``repeats``."""
        from gpuml.impl.cpu import im2col, optim, pool, threads

        original, extra = threads.run_parts, [0.0]
        pipeline, submit, worker = im2col._pipeline, threads.Offload.submit, [0.0]

        def timed_run_parts(fn, count, *, min_per_part=1):
            ranges, caller = [], threading.get_ident()

            def timed(a, b):
                t0 = time.thread_time()
                fn(a, b)
                ranges.append((threading.get_ident() == caller, time.thread_time() - t0))

            n = original(timed, count, min_per_part=min_per_part)
            if n > 1:
                cpu = [t for _, t in ranges]
                extra[0] += max(sum(cpu) / n, max(cpu)) - sum(t for mine, t in ranges if mine)
            return n

        def timed_submit(self, fn):
            def timed():
                t0 = time.thread_time()
                fn()
                worker[0] += time.thread_time() - t0

            return submit(self, timed if self.on else fn)

        def timed_pipeline(*a, **k):
            worker[0], t0 = 0.0, time.thread_time()
            pipeline(*a, **k)
            extra[0] += max(0.0, worker[0] - (time.thread_time() - t0))

        model, opt, lossf = gmodels["gpuml-cpu"]
        dev, best = devices["gpuml-cpu"], []
        for module in (optim, pool):
            module.run_parts = timed_run_parts
        im2col._pipeline, threads.Offload.submit = timed_pipeline, timed_submit
        try:
            for _ in range(repeats):
                extra[0] = 0.0
                t0 = time.thread_time()
                for x, y in data[: args.steps]:
                    gpuml_step(model, opt, lossf, dev, x, y)
                best.append((time.thread_time() - t0 + extra[0]) / args.steps * 1e3)
        finally:
            for module in (optim, pool):
                module.run_parts = original
            im2col._pipeline, threads.Offload.submit = pipeline, submit
        return min(best)

    def without_halves(fn, *a):
        os.environ["GPUML_CPU_HALVES"] = "0"
        try:
            return fn(*a)
        finally:
            os.environ.pop("GPUML_CPU_HALVES")

    def helper_up(timeout=30.0):
        from gpuml.nn import data_parallel_process

        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if (h := data_parallel_process.helper()) is not None:
                return h
            time.sleep(0.05)
        print("the two-halves helper did not come up: halves ran here")
        return None

    def helper_cpu(helper) -> float:
        """The helper process's CPU seconds so far (/proc/PID/stat utime + stime), 0 without one."""
        if helper is None:
            return 0.0
        try:
            fields = Path(f"/proc/{helper.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(threads: int) -> dict:
        limit_threads(threads, False) if method != "environment variables" else None
        torch.set_num_threads(threads)
        for fn in blocks.values():  # warm-up: first-call costs, allocator, thread pools
            fn(data[: args.steps])
        helper = helper_up() if threads > 1 else None
        where.clear()
        rows = {name: [] for name in blocks}
        order = list(blocks.items())
        load0 = os.getloadavg()
        for b in range(args.blocks):
            d = data[(b % 2) * args.steps : (b % 2 + 1) * args.steps]
            k = b % len(order)
            for name, fn in order[k:] + order[:k]:  # rotate who goes first
                time.sleep(0.1)  # let OpenBLAS / torch threads park
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                h0 = helper_cpu(helper)
                t0, c0 = time.perf_counter(), time.process_time()
                fn(d)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                cpu += helper_cpu(helper) - h0  # the helper process's share (10 ms ticks)
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
                rows[name].append(
                    {
                        "wall_ms": wall / args.steps * 1e3,
                        "cpu_ms": cpu / args.steps * 1e3,
                        "faults": faults / args.steps,
                    }
                )
        load1 = os.getloadavg()
        critical = without_halves(critical_path)  # thread CPU times: one process's, so the whole batch
        summary = {}
        tw, tc = ([r[k] for r in rows["torch-cpu"]] for k in ("wall_ms", "cpu_ms"))
        for name, rs in rows.items():
            w, c = [r["wall_ms"] for r in rs], [r["cpu_ms"] for r in rs]
            summary[name] = {
                "wall_ms_median": median(w),
                "wall_ms_min": min(w),
                "cpu_ms_median": median(c),
                "faults_per_step": median([r["faults"] for r in rs]),
                "ratio_to_torch_median_of_pairs": median([a / t for a, t in zip(w, tw, strict=True)]),
                "cpu_ratio_to_torch_median_of_pairs": median([a / t for a, t in zip(c, tc, strict=True)]),
            }
        pools = blas_threads()
        print(
            f"LeNet-5 training step, batch {BATCH}, {args.blocks} rotating blocks x {args.steps} steps; threads: torch "
            f"{torch.get_num_threads()}, gpuml {pools[0]['gpuml_cpu_threads']}, BLAS "
            f"{[p['num_threads'] for p in pools]}; load {load0[0]:.2f} -> {load1[0]:.2f}"
        )
        print(f"{'impl (ms/step)':<22} {'wall med':>9} {'wall min':>9} {'cpu med':>8} {'faults':>7}", end="")
        print(f" {'wall/torch':>10} {'cpu/torch':>9}")
        for name, v in summary.items():
            print(
                f"{name:<22} {v['wall_ms_median']:>9.3f} {v['wall_ms_min']:>9.3f} {v['cpu_ms_median']:>8.3f} "
                f"{v['faults_per_step']:>7.1f} {v['ratio_to_torch_median_of_pairs']:>9.2f}x "
                f"{v['cpu_ratio_to_torch_median_of_pairs']:>8.2f}x"
            )
        print(f"gpuml-cpu: blocks by where the second half of their last step ran: {dict(where)}")
        print(f"gpuml-cpu whole batch: critical path from thread CPU times (a quiet machine's step): {critical:.3f} ms")
        return {
            "threads": threads,
            "gpuml_critical_path_ms": critical,
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "threadpools": pools,
            "load_before": load0,
            "load_after": load1,
            "summary": summary,
            "gpuml_cpu_second_half_ran": dict(where),  # blocks of gpuml-cpu by where its last step's second half ran
            "blocks": rows,
        }

    def op_profile(threads: int) -> dict:
        """Where a step goes at ``threads``: gpuml's wall time per op (its implementation functions wrapped; median
        over the steps of each op's per-step total), with each split op's ranges on the caller and on the workers
        and each pipelined convolution's GEMMs on the worker (wall and thread CPU time, summed over the steps; a
        caller's range whose wall time exceeds its CPU time waited: another process or the GIL had its core);
        torch's per aten op from torch.profiler (self CPU time, the calling thread's wall time per op, per step)."""
        from collections import defaultdict

        from torch.profiler import ProfilerActivity, profile

        from gpuml.impl.cpu import optim, pool
        from gpuml.impl.cpu import threads as cpu_threads

        model, opt, lossf = gmodels["gpuml-cpu"]
        dev, impl = devices["gpuml-cpu"], devices["gpuml-cpu"].impl
        per_step, current = defaultdict(list), defaultdict(float)
        ranges = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # op -> caller wall, caller cpu, worker wall, worker cpu
        saved = {name: getattr(impl, name) for name in vars(impl) if callable(getattr(impl, name))}
        stack, original = [], cpu_threads.run_parts

        def wrap(name, fn):
            def timed(*a, **k):
                stack.append(name)
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    current[name] += time.perf_counter() - t0
                    stack.pop()

            return timed

        def timed_run_parts(fn, count, *, min_per_part=1):
            op, caller = (stack[-1] if stack else "?"), threading.get_ident()

            def part(a, b):
                t0, c0 = time.perf_counter(), time.thread_time()
                fn(a, b)
                r, k = ranges[op], 0 if threading.get_ident() == caller else 2
                r[k] += time.perf_counter() - t0
                r[k + 1] += time.thread_time() - c0

            return original(part, count, min_per_part=min_per_part)

        submit = cpu_threads.Offload.submit

        def timed_submit(self, fn):  # a pipelined convolution's GEMM on the worker: the workers' columns
            op = stack[-1] if stack else "?"

            def timed():
                t0, c0 = time.perf_counter(), time.thread_time()
                fn()
                ranges[op][2] += time.perf_counter() - t0
                ranges[op][3] += time.thread_time() - c0

            return submit(self, timed if self.on else fn)

        limit_threads(threads, False) if method != "environment variables" else None
        torch.set_num_threads(threads)
        for name, fn in saved.items():
            setattr(impl, name, wrap(name, fn))
        for module in (optim, pool):
            module.run_parts = timed_run_parts
        cpu_threads.Offload.submit = timed_submit
        try:
            for x, y in data:
                current.clear()
                gpuml_step(model, opt, lossf, dev, x, y)
                for name, t in current.items():
                    per_step[name].append(t * 1e3)
        finally:
            for name, fn in saved.items():
                setattr(impl, name, fn)
            for module in (optim, pool):
                module.run_parts = original
            cpu_threads.Offload.submit = submit
        gops = {name: median(v) for name, v in per_step.items()}
        split = {op: [t / len(data) * 1e3 for t in r] for op, r in ranges.items()}
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for x, y in data:
                torch_step(x, y)
        tops = {
            e.key: e.self_cpu_time_total / len(data) / 1e3
            for e in prof.key_averages()
            if e.self_cpu_time_total / len(data) >= 20  # us per step
        }
        print(f"where a step goes at {threads} thread(s), ms per step (load {os.getloadavg()[0]:.2f}):")
        print("  gpuml-cpu: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(gops.items(), key=lambda kv: -kv[1])))
        for op, (cw, cc, ww, wc) in split.items():
            print(f"    {op} ranges: caller wall {cw:.3f} (CPU {cc:.3f}), workers wall {ww:.3f} (CPU {wc:.3f})")
        print("  torch-cpu: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(tops.items(), key=lambda kv: -kv[1])))
        load = os.getloadavg()
        return {"threads": threads, "load": load, "gpuml_ms": gops, "gpuml_split_ms": split, "torch_ms": tops}

    runs = [run(t) for t in thread_counts]
    ops = [without_halves(op_profile, t) for t in thread_counts] if args.ops else None
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "numpy": np.__version__,
        "torch": torch.__version__,
        "adapter": devices["gpuml-cpu"].adapter,
        "thread_limit_method": method,
        "blocks": args.blocks,
        "steps_per_block": args.steps,
        "batch": BATCH,
        "ms": "per training step; ratios: median over blocks of gpuml block / the torch block of the same round",
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "check": check, "runs": runs, "ops": ops}, f, indent=1)
        print(f"wrote {args.json}")
    if args.profile:
        import cProfile
        import pstats

        model, opt, lossf = gmodels["gpuml-cpu"]
        dev = devices["gpuml-cpu"]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3):
            for x, y in data:
                gpuml_step(model, opt, lossf, dev, x, y)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
