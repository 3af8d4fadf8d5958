"""k-means benchmarks: time per Lloyd iteration and silhouette, gpuml beside scikit-learn in the same run.

Per-iteration time of gpuml is the wall time of one full iteration (fused assignment + partial sums, the
reduction/update kernel, and the 16-byte readback of the convergence scalars), median over repeats after a
warm-up. scikit-learn's is fit time / n_iter_ of a Lloyd fit from the same initial centers with tol=0.

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
from gpuml.cluster._engine import make_engine


def _row(bench, case, impl, samples, extra=None) -> Row:
    med = statistics.median(samples) * 1e3
    return Row(bench, case, impl, med, min(samples) * 1e3, max(samples) * 1e3, 1e3 / med, "iter/s", None, extra or {})


def lloyd_rows(n, d, k, device_names, repeat, sk_iters) -> list[Row]:
    from sklearn.cluster import KMeans as SK

    X, _ = make_dataset("blobs", n, centers=k, n_features=d, random_state=0)
    X = X.astype(np.float32)
    init = X[np.random.default_rng(0).choice(n, k, replace=False)]
    case = f"{n:,}x{d} k={k}"
    rows = []
    data = as_host(X)
    for name in device_names:
        device = open_device(name)
        engine = make_engine(device, data, k)
        engine.set_centers((init - np.asarray(data.mean, np.float32)).tolist())
        for _ in range(2):
            engine.iterate()
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            engine.iterate()
            samples.append(time.perf_counter() - t0)
        kernel = "assign_subgroup" if getattr(engine, "sg", 0) else ("assign" if device.is_gpu else "numpy")
        rows.append(_row("kmeans", case, f"{name}[{kernel}]", samples))
    samples = []
    for _ in range(max(2, repeat // 3)):
        t0 = time.perf_counter()
        model = SK(k, init=init, n_init=1, max_iter=sk_iters, tol=0, algorithm="lloyd").fit(X)
        samples.append((time.perf_counter() - t0) / model.n_iter_)
    rows.append(_row("kmeans", case, "sklearn", samples))
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
    print(format_table(rows, env))
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
