"""The k-means animation: one Lloyd iteration per animation frame, drawn from the run's device buffers."""

import array
import json
import time

from gpuml.playground.kmeans import KMeansModel

from .core import PAGE, _binding, _bytes_js, _ms

__all__ = ["kmeans_start", "kmeans_step"]


# k-means colours of the page (the native window has its own palette)
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
    (0.6, 0.6, 0.65),
]


def kmeans_start(rows_json, k, seed):
    """A k-means run on the page's dataset, driven one Lloyd iteration per animation frame (kmeans_step) the way
    ``KMeans(k, random_state=seed, max_iter=100).fit`` runs it, so the final labels are native gpuml's. The canvas
    is drawn straight from the run's device buffers (points, labels, centers): nothing is read back per frame
    but the 16-byte statistics."""
    rows = json.loads(rows_json)
    if rows and len(rows[0]) != 2:
        raise ValueError(f"the k-means canvas draws 2-D points, got {len(rows[0])} features")
    PAGE.kmeans = km = KMeansModel(
        X=rows, k=int(k), seed=int(seed), dataset="page", reveal=False, panels=False, max_iter=100,
        playing=False, device=PAGE.device,
    )  # fmt: skip
    PAGE.km_pending = None
    PAGE.km_result = None
    R = PAGE.renderer
    if R is None:
        return json.dumps({"n": len(rows), "k": km.k})
    buffers = km.run.buffers()
    if buffers is not None:
        pts = _binding(buffers[0])
    else:  # Canvas 2D renderer: the centered points as rows of 4 floats, once
        flat = km.run.points()
        flat = flat.reshape(-1).tolist() if hasattr(flat, "reshape") else flat
        pts = (_bytes_js(array.array("f", [v for i in range(km.n) for v in (*flat[2 * i : 2 * i + 2], 0.0, 0.0)])), 0)
    R.pointsData("kmeans", *pts, km.n, json.dumps(list(km.bounds)), json.dumps(km.run.mean), json.dumps(PALETTE))
    _draw_kmeans()
    return json.dumps({"n": len(rows), "k": km.k})


def _draw_kmeans():
    km, R = PAGE.kmeans, PAGE.renderer
    buffers = km.run.buffers()
    if buffers is not None:
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
    run = PAGE.kmeans.run
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
            "iteration": run.n_iter + (PAGE.km_pending is not None),  # drawn: this iteration's labels and centers
            "inertia": stats[1] if stats else None,  # the statistics of the previous iteration (null at first)
            "shift": stats[0] if stats else None,
            "step_ms": step_ms,
            "draw_ms": _ms(t1),
        }
    )
