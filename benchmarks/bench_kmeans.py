"""k-means benchmarks: time per Lloyd iteration and silhouette, gpuml beside scikit-learn in the same run.

Per-iteration time of gpuml is the wall time of one full iteration (fused assignment + partial sums, the
reduction/update kernel, and the 16-byte readback of the convergence scalars), median over repeats after a
warm-up. scikit-learn's is fit time / n_iter_ of a Lloyd fit from the same initial centers with tol=0. The two
are measured in alternating rounds (the machine's load changes by the second); gpuml rows also carry the GPU time
of an iteration and the GPU time per kernel (device.profile), and the load average is printed and stored.

    python benchmarks/bench_kmeans.py [--quick] [--json benchmarks/kmeans.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from gpuml.backends import open_device
from gpuml.bench import Row, environment, format_table, write_json
from gpuml.cluster import make_dataset, silhouette_score
from gpuml.cluster._data import as_host
from gpuml.cluster.kmeans import make_engine


def _row(bench, case, impl, samples, extra=None) -> Row:
    med = statistics.median(samples) * 1e3
    return Row(bench, case, impl, med, min(samples) * 1e3, max(samples) * 1e3, 1e3 / med, "iter/s", None, extra or {})


def _kernel_name(engine, device) -> str:
    kind = getattr(engine, "kind", None)
    if kind is None:
        return "numpy"
    return {"tile": "assign_tile", "subgroup": "assign_subgroup", "portable": "assign"}[kind]


def lloyd_rows(n, d, k, device_names, repeat, sk_iters) -> list[Row]:
    """gpuml iterations and scikit-learn fits, interleaved round by round so that both see the same machine load
    (other work on the same cores moves absolute times by 2x). Each gpuml row carries the GPU time of one
    iteration (device.timer) and, in extra, the per-kernel GPU times (device.profile) and the load average."""
    from sklearn.cluster import KMeans as SK

    X, _ = make_dataset("blobs", n, centers=k, n_features=d, random_state=0)
    X = X.astype(np.float32)
    init = X[np.random.default_rng(0).choice(n, k, replace=False)]
    case = f"{n:,}x{d} k={k}"
    data = as_host(X)
    engines = {}
    for name in device_names:
        device = open_device(name)
        engine = make_engine(device, data, k)
        engine.set_centers((init - np.asarray(data.mean, np.float32)).tolist())
        for _ in range(2):
            engine.iterate()
        engines[name] = (device, engine)
    rounds = max(2, repeat // 3)
    per_round = -(-repeat // rounds)
    walls = {name: [] for name in engines}
    gpus = {name: [] for name in engines}
    sk = []
    load = [os.getloadavg()[0]]
    for _ in range(rounds):
        for name, (device, engine) in engines.items():
            time.sleep(0.25)  # let OpenBLAS's threads park (they spin after sklearn's calls)
            for _ in range(per_round):
                t0 = time.perf_counter()
                engine.iterate()
                walls[name].append(time.perf_counter() - t0)
                if device.is_gpu:
                    with device.timer() as t:
                        engine._record_assign(True)
                        engine._record_update(0)
                    if t.gpu_seconds is not None:
                        gpus[name].append(t.gpu_seconds)
        t0 = time.perf_counter()
        model = SK(k, init=init, n_init=1, max_iter=sk_iters, tol=0, algorithm="lloyd").fit(X)
        sk.append((time.perf_counter() - t0) / model.n_iter_)
        load.append(os.getloadavg()[0])
    rows = []
    for name, (device, engine) in engines.items():
        extra = {"load_average": [round(v, 2) for v in load]}
        if device.is_gpu:
            with device.profile() as prof:
                engine.iterate()
            extra["gpu_ms_by_kernel"] = {path: round(sec * 1e3, 3) for path, _, sec, _ in prof.by_kernel()}
        row = _row("kmeans", case, f"{name}[{_kernel_name(engine, device)}]", walls[name], extra)
        if gpus[name]:
            row.gpu_ms = statistics.median(gpus[name]) * 1e3
        rows.append(row)
    rows.append(_row("kmeans", case, "sklearn", sk, {"load_average": [round(v, 2) for v in load]}))
    return rows


def silhouette_rows(n, device_names, repeat) -> list[Row]:
    from sklearn.metrics import silhouette_score as sk_sil

    X, y = make_dataset("blobs", n, centers=5, random_state=0)
    case = f"silhouette {n:,}x2 k=5"
    rows = []
    for name in device_names:
        device = open_device(name)
        silhouette_score(X[:500], y[:500], device=device)
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            s = silhouette_score(X, y, device=device)
            samples.append(time.perf_counter() - t0)
        rows.append(_row("silhouette", case, name, samples, {"score": s}))
    samples = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        s = sk_sil(X, y)
        samples.append(time.perf_counter() - t0)
    rows.append(_row("silhouette", case, "sklearn", samples, {"score": s}))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="native", help="comma-separated gpuml backends (default: native)")
    ap.add_argument("--quick", action="store_true", help="skip the 1M x 16 case")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    names = [b for b in args.backends.split(",") if b]
    rows = lloyd_rows(1000, 2, 10, names, max(args.repeat, 15), 50)
    if not args.quick:
        rows += lloyd_rows(1_000_000, 16, 64, names, args.repeat, 10)
    rows += silhouette_rows(20_000, names, max(1, args.repeat // 3))
    env = environment(names)
    env["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(format_table(rows, env))
    for r in rows:
        if "gpu_ms_by_kernel" in r.extra:
            parts = ", ".join(f"{p} {ms:.2f} ms" for p, ms in r.extra["gpu_ms_by_kernel"].items())
            print(f"GPU time per kernel, {r.case} {r.impl}: {parts}")
    loads = next((r.extra["load_average"] for r in rows if r.case.startswith("1,000,000")), None)
    if loads:
        print(f"1-minute load average before and after each round of the 1M case: {loads}")
    by_case = {}
    for r in rows:
        by_case.setdefault(r.case, {})[r.impl] = r
    for case, impls in by_case.items():
        ref = impls.get("sklearn")
        for impl, r in impls.items():
            if ref is not None and impl != "sklearn":
                print(f"ratio {case}: {impl} / sklearn = {r.median_ms / ref.median_ms:.2f}x the time")
    if args.json:
        write_json(args.json, rows, env)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
