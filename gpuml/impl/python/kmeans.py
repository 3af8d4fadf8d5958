"""k-means on the python backend: the pure-Python twin of the engines (no numpy, no WebGPU; Pyodide core offline).

:class:`PythonEngine` has the interface of ``NumpyEngine`` (gpuml/impl/cpu/kmeans.py) and its semantics: float32
data and centers, labels by the nearest center with the lowest index on equal distances (``numpy.argmin``), cluster sums
in float64 rounded to float32, float32 center updates (Lloyd and mini-batch), the same stats tuple, the k-means++
helpers over ``PP_BLOCK`` blocks. Distances are ``math.dist`` (C speed, float64; no ``math.sumprod``, which
Python < 3.12 lacks) and the distance and argmin loops are ``map``/``zip`` over lists (C loops, no bytecode per
pair). It is meant for small data (the page's canvas: a few thousand points); this module never imports numpy.

Results are Python lists, boxed as numpy arrays by ``data.output`` where the caller's data came with numpy.
"""

from __future__ import annotations

import array
import math
import operator
from itertools import repeat

PP_BLOCK = 1024  # points per D^2 block of every backend's engine (host samples a block, then a point inside it)
ROWS = 4096  # points per assignment block (bounds the k x ROWS distance lists)


def _f32(values) -> list[float]:
    """``values`` rounded to float32 (as Python floats)."""
    return array.array("f", values).tolist()


def nearest(rows: list, centers: list) -> tuple[list[int], list[float]]:
    """(index of the nearest center, squared distance to it) of every row; on equal distances the lowest index
    wins, as numpy.argmin."""
    labels, d2 = [], []
    dist = math.dist
    for s in range(0, len(rows), ROWS):
        block = rows[s : s + ROWS]
        per_center = [list(map(dist, block, repeat(c))) for c in centers]
        per_point = list(zip(*per_center, strict=True))  # k distances of each point
        mins = list(map(min, per_point))
        labels.extend(map(tuple.index, per_point, mins))  # first occurrence of the minimum
        d2.extend(map(operator.mul, mins, mins))
    return labels, d2


def kmeans_engine(device, data, k: int, chunk_rows: int | None = None) -> PythonEngine:
    return PythonEngine(device, data, k, chunk_rows)


class PythonEngine:
    """The k-means engine of the python backend: NumpyEngine's interface and arithmetic on Python lists."""

    def __init__(self, device, data, k: int, chunk_rows: int | None = None):
        self.device, self.data, self.k = device, data, k
        self.n, self.d = data.n, data.d
        d = self.d
        if data.x32 is not None:  # numpy is importable here (not on the numpy-free path): its float32 rows
            self.rows = data.x32.tolist()
        else:
            flat = data.flat
            self.rows = [flat[i * d : (i + 1) * d] for i in range(self.n)]
        self.centers = [[0.0] * d for _ in range(k)]
        self.old = self.centers
        self.labels_ = [-1] * self.n
        self.weights = [0.0] * k
        self.sums = [[0.0] * d for _ in range(k)]
        self.counts = [0.0] * k
        self.chunk_rows = self.n

    # --- output (lists, or numpy arrays where the data came as numpy: HostData.output) --------------------
    def _out(self, values: list, kind: str):
        """``kind``: "labels" (ints), "dists" (floats) or "rows" (list of float lists)."""
        return self.data.output(values, kind)

    # --- centers ----------------------------------------------------------------------------------------
    def set_centers(self, rows, reset_labels: bool = True) -> None:
        rows = [_f32(r) for r in rows]
        if len(rows) != self.k or any(len(r) != self.d for r in rows):
            raise ValueError(f"expected {self.k} centers of {self.d} values")
        self.centers = rows
        if reset_labels:
            self.labels_ = [-1] * self.n

    def get_centers(self, which=None) -> list[list[float]]:
        return [list(r) for r in self.centers]

    # --- Lloyd --------------------------------------------------------------------------------------------
    def _update(self, minibatch: bool) -> tuple[float, float, int, int]:
        labels, dist = nearest(self.rows, self.centers)
        changed = sum(map(operator.ne, labels, self.labels_))
        self.labels_ = labels
        members = [[] for _ in range(self.k)]
        for i, j in enumerate(labels):
            members[j].append(i)
        cols = [[r[t] for r in self.rows] for t in range(self.d)]
        # float64 sums (correctly rounded: the same on every Python) rounded to float32, like NumpyEngine
        sums = [_f32(math.fsum(map(col.__getitem__, m)) for col in cols) for m in members]
        counts = [float(len(m)) for m in members]
        self.sums, self.counts = sums, counts
        old = self.centers
        new = []
        if minibatch:
            w = _f32(map(operator.add, self.weights, counts))
            for j in range(self.k):
                if counts[j] > 0:
                    scaled = _f32(v * self.weights[j] for v in old[j])
                    moved = _f32(map(operator.add, scaled, sums[j]))
                    new.append(_f32(v / w[j] for v in moved))
                else:
                    new.append(list(old[j]))
            self.weights = w
        else:
            new = [_f32(v / counts[j] for v in sums[j]) if counts[j] > 0 else list(old[j]) for j in range(self.k)]
        self.old, self.centers = old, new
        diffs = _f32(a - b for r, o in zip(new, old, strict=True) for a, b in zip(r, o, strict=True))
        shift = _f32([math.fsum(v * v for v in diffs)])[0]
        empty = sum(1 for c in counts if c == 0)
        return shift, math.fsum(dist), changed, empty

    def iterate(self) -> tuple[float, float, int, int]:
        return self._update(False)

    def record_iteration(self) -> None:
        """Host engines run the iteration now: its statistics are in ``last_stats``; None says so."""
        self.last_stats = self.iterate()
        return None

    def device_buffers(self) -> None:
        return None  # no device buffers to bind

    def minibatch_step(self) -> tuple[float, float, int, int]:
        return self._update(True)

    def set_weights(self, weights) -> None:
        """The per-center counts of points seen so far (mini-batch learning rates), as float32."""
        self.weights = _f32(weights)

    def get_weights(self) -> list[float]:
        return list(self.weights)

    def reset_weights(self) -> None:
        self.weights = [0.0] * self.k

    def assign(self, dists: bool = False):
        """Labels for the current centers; returns (inertia, per-point squared distances or None)."""
        labels, dist = nearest(self.rows, self.centers)
        self.labels_ = labels
        return math.fsum(dist), (self._out(dist, "dists") if dists else None)

    def previous_distances(self):
        """(the centers before the last iteration, each point's squared distance to its nearest one)."""
        current = self.centers
        self.centers = self.old
        try:
            _, dist = self.assign(dists=True)
        finally:
            self.centers = current
        return [[float(v) for v in r] for r in self.old], dist

    def labels(self):
        return self._out(list(self.labels_), "labels")

    def sums_counts(self) -> tuple[list[list[float]], list[float]]:
        return [list(r) for r in self.sums], list(self.counts)

    # --- k-means++ ------------------------------------------------------------------------------------
    def pp_distances(self, cand_rows, closest=None):
        """For each candidate: min(closest, |x - cand|^2) per point (kept as lists) and its per-block sums."""
        outs, per_cand = [], []
        for c in cand_rows:
            d = list(map(math.dist, self.rows, repeat(_f32(c))))
            d2 = list(map(operator.mul, d, d))
            if closest is not None:
                d2 = list(map(min, closest[0], d2))
            outs.append(d2)
            per_cand.append([math.fsum(d2[b : b + PP_BLOCK]) for b in range(0, len(d2), PP_BLOCK)])
        return outs, per_cand

    def pp_select(self, outs, j: int):
        return [outs[j]]

    def pp_values(self, closest) -> list[float]:
        """All n values of ``closest`` (the weighted seeding samples from them)."""
        return closest[0]

    def pp_read_blocks(self, closest, blocks) -> dict[int, list[float]]:
        return {b: closest[0][b * PP_BLOCK : (b + 1) * PP_BLOCK] for b in set(blocks)}

    def block_start(self, b: int) -> int:
        return b * PP_BLOCK

    # --- transform ----------------------------------------------------------------------------------------
    def transform(self):
        """Euclidean distance of every point to every center (n rows of k)."""
        per_center = [list(map(math.dist, self.rows, repeat(c))) for c in self.centers]
        return self._out([list(r) for r in zip(*per_center, strict=True)], "rows")


def silhouette(device, data, lab: list[int], k: int) -> list[float]:
    """Silhouette coefficient of every row (Euclidean; ``lab`` in 0..k-1), as sklearn.metrics.silhouette_samples:
    O(n^2) ``math.dist`` calls, for small data."""
    n = data.n
    rows = data.x32.tolist() if data.x32 is not None else [data.row(i) for i in range(n)]
    members = [[] for _ in range(k)]
    for i, c in enumerate(lab):
        members[c].append(rows[i])
    sizes = [len(m) for m in members]
    out = []
    dist = math.dist
    for i in range(n):
        x, own = rows[i], lab[i]
        sums = [math.fsum(map(dist, m, repeat(x))) for m in members]
        if sizes[own] <= 1:
            out.append(0.0)
            continue
        a = sums[own] / (sizes[own] - 1)
        b = min(sums[c] / sizes[c] for c in range(k) if c != own)
        m = max(a, b)
        out.append((b - a) / m if m > 0 else 0.0)
    return out
