"""The k-means animation: k-means++ seeding one centre per step (the points show their D^2 sampling weights),
then one Lloyd iteration per step, drawn from the run's device buffers; and the elbow/silhouette sweep (k = 2..10,
one k per call, so the worker interleaves it with the animation)."""

import array
import json
import math
import time

from gpuml.playground.kmeans import SUGGEST_RULE, KMeansModel, check_seed, suggest_k

from .core import PAGE, _binding, _bytes_js, _ms

__all__ = ["kmeans_start", "kmeans_step", "kmeans_sweep_slice", "kmeans_sweep_start"]

SWEEP_KS = tuple(range(2, 11))

# k-means colours of the page (the native window has its own palette): 15 clusters, then "no label yet"
PALETTE = [
    (0.12, 0.47, 0.71),
    (1.0, 0.5, 0.05),
    (0.17, 0.63, 0.17),
    (0.84, 0.15, 0.16),
    (0.58, 0.4, 0.74),
    (0.55, 0.34, 0.29),
    (0.89, 0.47, 0.76),
    (0.5, 0.5, 0.5),
    (0.74, 0.74, 0.13),
    (0.09, 0.75, 0.81),
    (0.3, 0.3, 0.9),
    (0.62, 0.85, 0.9),
    (0.99, 0.75, 0.44),
    (0.6, 0.87, 0.54),
    (0.77, 0.69, 0.84),
    (0.6, 0.6, 0.65),
]


def _rows(rows_json):
    rows = json.loads(rows_json)
    if rows and len(rows[0]) != 2:
        raise ValueError(f"the k-means canvas draws 2-D points, got {len(rows[0])} features")
    return rows


def kmeans_start(rows_json, k, seed):
    """A k-means run on the page's dataset, driven one step per call (kmeans_step): the k-means++ seeding one centre
    at a time, then Lloyd iterations the way ``KMeans(k, random_state=seed, max_iter=100).fit`` runs them, so the
    final labels are native gpuml's. ``k`` is checked against the k slider's range (the model's control: a
    one-line error), ``seed`` as the seed box gives it (its text: the model checks it, in words). The canvas is
    drawn straight from the run's device buffers (points, labels, centers): nothing is read back per frame but the
    16-byte statistics."""
    rows = _rows(rows_json)
    PAGE.kmeans = km = KMeansModel(
        X=rows, k=k, seed=seed, dataset="page", reveal=True, panels=False, max_iter=100,
        playing=False, device=PAGE.device,
    )  # fmt: skip
    PAGE.km_levels = None
    PAGE.km_pending = None
    PAGE.km_result = None
    R = PAGE.renderer
    if R is None:
        return json.dumps({"n": len(rows), "k": km.k, "seed": km.seed})
    buffers = km.run.buffers()
    if buffers is not None:
        pts = _binding(buffers[0])
    else:  # Canvas 2D renderer: the centered points as rows of 4 floats, once
        flat = km.run.points()
        flat = flat.reshape(-1).tolist() if hasattr(flat, "reshape") else flat
        pts = (_bytes_js(array.array("f", [v for i in range(km.n) for v in (*flat[2 * i : 2 * i + 2], 0.0, 0.0)])), 0)
    R.pointsData("kmeans", *pts, km.n, json.dumps(list(km.bounds)), json.dumps(km.run.mean), json.dumps(PALETTE))
    _draw_kmeans()
    return json.dumps({"n": len(rows), "k": km.k, "seed": km.seed, "revealed": km.revealed})


def _draw_kmeans():
    km, R = PAGE.kmeans, PAGE.renderer
    buffers = km.run.buffers()
    if km.seeding:  # the D^2 weights (levels 0..255) and the centres chosen so far
        levels = array.array("I", km.seed_levels(256))
        if buffers is not None:
            import gpuml

            old, PAGE.km_levels = PAGE.km_levels, gpuml.tensor(levels, dtype="uint32", device=PAGE.device)
            PAGE.device.flush()
            R.pointsSeed("kmeans", *_binding(PAGE.km_levels), *_binding(buffers[2]), km.revealed)
            if old is not None:
                old.free()
        else:
            centers = array.array("f", [v for row in km.centers() for v in (*row, 0.0, 0.0)])
            R.pointsSeed("kmeans", _bytes_js(levels), 0, _bytes_js(centers), 0, km.revealed)
    elif buffers is not None:
        PAGE.device.flush()  # the run's recorded work fills the buffers the frame reads (queue order does the rest)
        R.pointsState("kmeans", *_binding(buffers[1]), *_binding(buffers[2]), km.k)
    else:  # Canvas 2D renderer: labels (u32, -1 = none yet) and centers (rows of 4 floats) as bytes
        labels = _bytes_js(array.array("I", [int(v) & 0xFFFFFFFF for v in km.labels()]))
        centers = array.array("f", [v for row in km.centers() for v in (*row, 0.0, 0.0)])
        R.pointsState("kmeans", labels, 0, _bytes_js(centers), 0, km.k)
    R.drawPoints("kmeans")


def _km_finish():
    run = PAGE.kmeans.run
    inertia = run.assign()
    labels = [int(v) for v in run.labels()]
    PAGE.km_result = {"done": True, "labels": labels, "inertia": inertia, "n_iter": run.n_iter}
    if PAGE.renderer is not None:
        _draw_kmeans()
    return json.dumps(PAGE.km_result)


def kmeans_step():
    """One frame of the animation: the convergence test on the previous iteration's statistics (as KMeans.fit
    decides after each iteration), then either the next Lloyd iteration (recorded, submitted and drawn without
    waiting for the device; its statistics' readback started) or the end of the fit (final assignment, labels).

    Pipelining the statistics' readback keeps the device's work (the iteration, the previous frame's drawing) off
    the call: the call records and submits, the device runs while the worker waits for the next animation frame."""
    import asyncio

    from pyodide.ffi import run_sync

    if PAGE.km_result is not None:
        return json.dumps(PAGE.km_result)
    km = PAGE.kmeans
    if km.seeding:  # reveal the next k-means++ centre (no iteration yet)
        t0 = time.perf_counter()
        km.step()
        seed_ms = _ms(t0)
        t1 = time.perf_counter()
        if PAGE.renderer is not None:
            _draw_kmeans()
        return json.dumps(
            {"done": False, "phase": "seed", "revealed": km.revealed, "k": km.k, "seed_ms": seed_ms, "draw_ms": _ms(t1)}
        )
    run = km.run
    t0 = time.perf_counter()
    stats = None
    if PAGE.km_pending is not None:
        fut, PAGE.km_pending = PAGE.km_pending, None
        raw = fut.result() if fut.done() else run_sync(fut)
        stats = run.finish_step(array.array("f", raw).tolist())
        if run.converged:
            return _km_finish()
    snap = run.record_step()
    if snap is None:  # a synchronous engine (cpu, python backends): the iteration is done and decided
        stats = (run.shift, run.inertia)
        if run.converged:
            return _km_finish()
    else:
        PAGE.km_pending = asyncio.ensure_future(snap.to_bytes_async())
    step_ms = _ms(t0)
    t1 = time.perf_counter()
    if PAGE.renderer is not None:
        _draw_kmeans()
    return json.dumps(
        {
            "done": False,
            "phase": "lloyd",
            "revealed": km.revealed,
            "iteration": run.n_iter + (PAGE.km_pending is not None),  # drawn: this iteration's labels and centers
            "inertia": stats[1] if stats else None,  # the statistics of the previous iteration (null at first)
            "shift": stats[0] if stats else None,
            "step_ms": step_ms,
            "draw_ms": _ms(t1),
        }
    )


def kmeans_sweep_start(rows_json, seed):
    """An elbow/silhouette sweep over k = 2..10 on the dataset's points: per k the run of ``KMeans(k,
    random_state=seed, n_init=1, max_iter=100).fit`` (a KMeansRun: the same decisions) and the mean silhouette,
    computed in short slices by :func:`kmeans_sweep_slice` so the worker interleaves them with the animation."""
    PAGE.km_sweep = {"rows": _rows(rows_json), "seed": check_seed(seed), "k": [], "inertia": [], "silhouette": [],
                     "run": None, "stage": "init"}  # fmt: skip
    return json.dumps({"ks": list(SWEEP_KS), "rule": SUGGEST_RULE, "seed": PAGE.km_sweep["seed"]})


def _sweep_work(sw, budget_ms):
    """Advance the sweep by one stage's slice: "init" (the run's k-means++ seeding), "iterate" (Lloyd iterations
    until ``budget_ms`` is spent or the run converges), "assign" (the final assignment) or "silhouette"."""
    from gpuml.cluster import KMeansRun, silhouette_score

    t0 = time.perf_counter()
    k = SWEEP_KS[len(sw["k"])]
    if sw["stage"] == "init":
        sw["run"] = KMeansRun(sw["rows"], k, random_state=sw["seed"], max_iter=100, device=PAGE.device)
        sw["stage"] = "iterate"
    elif sw["stage"] == "iterate":
        run = sw["run"]
        while not run.converged and (time.perf_counter() - t0) * 1e3 < budget_ms:
            run.step()
        if run.converged:
            sw["stage"] = "assign"
    elif sw["stage"] == "assign":
        sw["inertia_k"] = float(sw["run"].assign())
        sw["labels"] = [int(v) for v in sw["run"].labels()]
        sw["stage"] = "silhouette"
    else:
        sil = silhouette_score(sw["rows"], sw["labels"], device=PAGE.device)
        sw["k"].append(k)
        sw["inertia"].append(sw["inertia_k"])
        sw["silhouette"].append(float(sil) if math.isfinite(sil) else None)
        sw["run"], sw["labels"], sw["stage"] = None, None, "init"
    return sw["stage"]


def kmeans_sweep_slice(budget_ms=20):
    """One slice of the sweep (see :func:`_sweep_work`); returns the curves so far, ``done`` and, when done, the
    suggested k (largest mean silhouette) and the kneedle elbow of the inertia curve for comparison."""
    from gpuml.cluster import knee

    sw = PAGE.km_sweep
    t0 = time.perf_counter()
    stage = sw["stage"]
    if len(sw["k"]) < len(SWEEP_KS):
        _sweep_work(sw, float(budget_ms))
    done = len(sw["k"]) == len(SWEEP_KS)
    out = {"k": sw["k"], "inertia": sw["inertia"], "silhouette": sw["silhouette"], "done": done,
           "slice_ms": _ms(t0), "stage": stage, "rule": SUGGEST_RULE}  # fmt: skip
    if done:
        sils = [math.nan if s is None else s for s in sw["silhouette"]]
        out["suggested_k"] = suggest_k(sw["k"], sils)
        out["kneedle_k"] = knee(sw["k"], sw["inertia"])["kneedle"]
    return json.dumps(out)
