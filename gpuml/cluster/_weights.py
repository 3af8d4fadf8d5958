"""Weighted k-means (``sample_weight``): scikit-learn's weighted Lloyd update, weighted inertia, weighted k-means++.

The device's engine does what it does unweighted, the O(n k d) part: the assignment (labels and squared distances)
and the k-means++ distance updates. The weighted sums (O(n d), float64), the empty-cluster fix and the D^2 sampling
run on the host, as :func:`gpuml.cluster.kmeans._relocate_empty` does: one readback of labels and distances per
iteration. Weights are float64 (a numpy array, or a list without numpy).
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


def weighted_dot(w, values) -> float:
    """sum_i w_i * values_i in float64."""
    if np is not None:  # numpy's pairwise sum: no BLAS threads for a dot product
        return float((np.asarray(w, np.float64) * np.asarray(values, np.float64)).sum())
    return math.fsum(map(operator.mul, w, values))


def _ints(labels) -> list[int]:
    return labels.tolist() if hasattr(labels, "tolist") else [int(v) for v in labels]


def weighted_sums(data, labels, w, k: int) -> tuple[list[list[float]], list[float]]:
    """(sum of w_i x_i per cluster, sum of w_i per cluster) over the centered float32 rows, in float64."""
    if data.x32 is not None:
        lab = np.asarray(labels, np.int64)
        wt = np.asarray(w, np.float64)
        x = data.x32.astype(np.float64)
        sums = np.stack([np.bincount(lab, weights=x[:, j] * wt, minlength=k) for j in range(data.d)], axis=1)
        return sums.tolist(), np.bincount(lab, weights=wt, minlength=k).tolist()
    sums = [[0.0] * data.d for _ in range(k)]
    totals = [0.0] * k
    for i, (j, wi) in enumerate(zip(_ints(labels), w, strict=True)):
        if wi:
            row = sums[j]
            for t, v in enumerate(data.row(i)):
                row[t] += wi * v
            totals[j] += wi
    return sums, totals


def weighted_inertia(engine, w) -> float:
    """The weighted inertia of the engine's current centers (the final assignment of a fit)."""
    _, dist = engine.assign(dists=True)
    return weighted_dot(w, dist)


class WeightedLloyd:
    """Weighted Lloyd iterations on ``engine`` (its centers are the current ones): :meth:`iterate` has the engine's
    ``iterate`` contract (shift, inertia of the assignment, changed labels, empty clusters) with the empty clusters
    already re-seeded (scikit-learn's weighted fix), so it reports 0 of them."""

    def __init__(self, engine, data, w):
        self.engine, self.data, self.w = engine, data, w
        self.previous = None

    def iterate(self) -> tuple[float, float, int, int]:
        engine, data, w, k = self.engine, self.data, self.w, self.engine.k
        old = engine.get_centers()
        _, dist = engine.assign(dists=True)
        labels = _ints(engine.labels())
        changed = data.n if self.previous is None else sum(map(operator.ne, labels, self.previous))
        self.previous = labels
        inertia = weighted_dot(w, dist)
        sums, totals = weighted_sums(data, labels, w, k)
        empty = [j for j in range(k) if totals[j] == 0]
        if empty:  # scikit-learn: each empty cluster takes one of the farthest points, which leaves its cluster
            dist = [float(v) for v in dist]
            far = sorted(range(data.n), key=lambda i: (-dist[i], i))[: len(empty)]
            for j, i in zip(empty, far, strict=False):
                row, wi, src = data.row(i), float(w[i]), labels[i]
                sums[src] = [a - wi * b for a, b in zip(sums[src], row, strict=True)]
                totals[src] -= wi
                sums[j] = [wi * b for b in row]
                totals[j] = wi
        new = [[v / totals[j] for v in sums[j]] if totals[j] > 0 else list(old[j]) for j in range(k)]
        engine.set_centers(new, reset_labels=False)
        new = engine.get_centers()  # as stored (float32)
        shift = math.fsum((a - b) ** 2 for r, o in zip(new, old, strict=True) for a, b in zip(r, o, strict=True))
        return shift, inertia, changed, 0


def minibatch_step(engine, batch, w, counts: list[float]) -> tuple[list[list[float]], list[float], float, float]:
    """scikit-learn's weighted mini-batch update of the engine's centers with the batch's weights ``w``: each center
    moves to (old * W + sum w x) / (W + sum w), W += sum w. Returns (new centers, new W, shift, weighted inertia)."""
    old = engine.get_centers()
    _, dist = engine.assign(dists=True)
    sums, totals = weighted_sums(batch, engine.labels(), w, engine.k)
    new, seen = [], list(counts)
    for j in range(engine.k):
        if totals[j] > 0:
            seen[j] = counts[j] + totals[j]
            new.append([(c * counts[j] + s) / seen[j] for c, s in zip(old[j], sums[j], strict=True)])
        else:
            new.append(list(old[j]))
    engine.set_centers(new, reset_labels=False)
    new = engine.get_centers()
    shift = math.fsum((a - b) ** 2 for r, o in zip(new, old, strict=True) for a, b in zip(r, o, strict=True))
    return new, seen, shift, weighted_dot(w, dist)


def _cumsum(w, values=None):
    """Running sums of w (times values) in float64, in order (as numpy.cumsum): a numpy array or a list."""
    if np is not None:
        terms = np.asarray(w, np.float64) * (1.0 if values is None else np.asarray(values, np.float64))
        return np.cumsum(terms)
    return list(itertools.accumulate(w if values is None else map(operator.mul, w, values)))


def kmeans_plusplus_weighted(engine, data, k: int, rng, w) -> list[list[float]]:
    """scikit-learn's weighted greedy k-means++: the first center drawn with probability w_i / sum w, then
    2 + ln k candidates per step drawn with probability w_i D_i^2 / sum w D^2, keeping the one that lowers the
    weighted potential most. The draws come from ``rng`` (Python's random, as the unweighted seeding)."""
    n = data.n
    trials = 2 + int(math.log(k))
    cw = _cumsum(w)
    first = min(bisect.bisect_right(cw, rng.random() * float(cw[-1])), n - 1)
    centers = [data.row(first)]
    outs, _ = engine.pp_distances([centers[0]], None)
    closest = engine.pp_select(outs, 0)
    values = engine.pp_values(closest)
    pot = weighted_dot(w, values)
    for _ in range(1, k):
        cum = _cumsum(w, values)
        targets = [rng.random() * pot for _ in range(trials)]
        ids = [min(bisect.bisect_left(cum, t), n - 1) for t in targets]
        cands = [data.row(i) for i in ids]
        outs, _ = engine.pp_distances(cands, closest)
        chosen = [engine.pp_select(outs, j) for j in range(trials)]
        per_cand = [engine.pp_values(c) for c in chosen]
        pots = [weighted_dot(w, v) for v in per_cand]
        best = min(range(trials), key=lambda j: (pots[j], j))
        closest, values, pot = chosen[best], per_cand[best], pots[best]
        centers.append(cands[best])
    return centers
