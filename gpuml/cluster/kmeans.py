"""k-means on the GPU: :class:`KMeans` (Lloyd) and :class:`MiniBatchKMeans`, scikit-learn conventions.

The host driver here owns every decision (RNG, convergence, empty clusters); the device's engine
(:func:`make_engine`: ``device.impl.kmeans_engine``, in gpuml/impl/{webgpu,cpu,python}/kmeans.py) owns the data and
the arithmetic. One RNG on every backend: Python's ``random.Random(seed)`` draws the
k-means++ D^2 samples and the random init, so a seed picks the same centers natively, in the browser and on
the cpu backend.
"""

from __future__ import annotations

import bisect
import collections
import math
import numbers
import random
from dataclasses import dataclass
from typing import Any

from ..backends import device_for, get_device
from ._base import ClusterEstimator, check_sample_weight, not_fitted_error
from ._data import HostData, as_host, as_rows
from ._weights import WeightedLloyd, kmeans_plusplus_weighted, minibatch_step, weighted_inertia

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

__all__ = ["KMeans", "KMeansStep", "MiniBatchKMeans", "make_engine"]  # and NotFittedError, via __getattr__


def __getattr__(name: str):
    if name == "NotFittedError":  # created on first use: it may import scikit-learn (gpuml/cluster/_base.py)
        return not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_engine(device, data: HostData, k: int, chunk_rows: int | None = None):
    """The k-means engine of ``device`` for the centered data ``data`` (:func:`gpuml.cluster._data.as_host`) and
    ``k`` clusters: the object the host driver steps (set_centers, iterate, assign, labels, ...; see
    gpuml/impl/webgpu/kmeans.py). ``chunk_rows`` caps the rows per device chunk (tests)."""
    return device.impl.kmeans_engine(device, data, k, chunk_rows)


@dataclass
class KMeansStep:
    """State after one Lloyd iteration (yielded by :meth:`KMeans.fit_steps`).

    ``labels`` are the assignment to the centers *before* the update and ``inertia`` its inertia;
    ``centers`` are the updated centers; ``center_shift`` is the sum of squared center moves.
    """

    n_iter: int
    centers: Any
    labels: Any
    inertia: float
    center_shift: float


def _rng(random_state) -> random.Random:
    if isinstance(random_state, random.Random):
        return random_state
    if random_state is None or isinstance(random_state, int):
        return random.Random(random_state)
    if hasattr(random_state, "randint"):  # numpy RandomState: derive a seed
        return random.Random(int(random_state.randint(0, 2**31 - 1)))
    if hasattr(random_state, "integers"):  # numpy Generator
        return random.Random(int(random_state.integers(0, 2**31 - 1)))
    raise ValueError(f"random_state must be None, an int or a random.Random, got {random_state!r}")


def _out_rows(rows: list[list[float]], mean: list[float], dtype):
    """Centers back in data coordinates: numpy (X's float dtype) with numpy, else lists."""
    if np is not None:
        out = np.asarray(rows, np.float64) + np.asarray(mean, np.float64)
        return out.astype(np.float64 if np.dtype(dtype or "float64") == np.float64 else np.float32)
    return [[v + m for v, m in zip(r, mean, strict=True)] for r in rows]


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class _Base(ClusterEstimator):
    """What KMeans and MiniBatchKMeans share: validation, init, predict/transform/score (scikit-learn's API; the
    estimator protocol comes from :class:`gpuml.cluster._base.ClusterEstimator`)."""

    def _check_params(self) -> None:
        k = self.n_clusters
        if not _is_int(k) or k < 1:
            raise ValueError(f"n_clusters must be a positive int, got {k!r}")
        if not _is_int(self.max_iter) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive int, got {self.max_iter!r}")
        if not isinstance(self.tol, numbers.Real) or isinstance(self.tol, bool) or self.tol < 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}")
        init = self.init
        if isinstance(init, str):
            if init not in ("k-means++", "random"):
                raise ValueError(
                    f"init must be 'k-means++', 'random' or an array of shape (n_clusters, n_features), got {init!r}"
                )
        elif callable(init):
            raise ValueError("a callable init is not supported; pass 'k-means++', 'random' or an array")

    def _device(self):
        if self.device is None:
            return device_for("kmeans")
        return get_device(self.device) if isinstance(self.device, str) else self.device

    def _init_centers(self, engine, data: HostData, rng: random.Random, w=None) -> list[list[float]]:
        k, init = int(self.n_clusters), self.init
        if isinstance(init, str) and init == "random":  # uniform, as scikit-learn even with sample_weight
            return [data.row(i) for i in rng.sample(range(data.n), k)]
        if isinstance(init, str):
            if w is None:
                return kmeans_plusplus(engine, data, k, rng)
            return kmeans_plusplus_weighted(engine, data, k, rng, w)
        rows = as_rows(init)
        if len(rows) != k or any(len(r) != data.d for r in rows):
            raise ValueError(
                f"init array has shape ({len(rows)}, {len(rows[0]) if rows else 0}); expected "
                f"(n_clusters, n_features) = ({k}, {data.d})"
            )
        for r in rows:
            if not all(math.isfinite(v) for v in r):
                raise ValueError("init contains NaN or infinity")
        return [[v - m for v, m in zip(r, data.mean, strict=True)] for r in rows]

    def _validate_new(self, X) -> HostData:
        self._check_fitted()
        self._check_feature_names(X)
        return as_host(X, mean=self._mean, owner=type(self).__name__)

    def _engine_for(self, X):
        data = self._validate_new(X)
        engine = make_engine(self._device(), data, self.n_clusters, self._chunk_rows)
        engine.set_centers(self._centers_c)
        return data, engine

    def predict(self, X):
        """Index of the nearest center for each sample of X."""
        _, engine = self._engine_for(X)
        engine.assign()
        return engine.labels()

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the labels of X (``labels_``)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Euclidean distances of each sample to every center, shape (n_samples, n_clusters)."""
        _, engine = self._engine_for(X)
        return self._wrap_output(engine.transform(), X)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit and return the distances of X to the centers (:meth:`transform`)."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Opposite of the (weighted) inertia of X on the fitted centers (higher is better)."""
        data, engine = self._engine_for(X)
        w = check_sample_weight(sample_weight, data.n)
        return -(engine.assign()[0] if w is None else weighted_inertia(engine, w))

    def _fitted(self, X, data: HostData) -> None:
        self._mean = data.mean
        self.n_features_in_ = data.d
        self._set_feature_names(X)


def kmeans_plusplus(engine, data: HostData, k: int, rng: random.Random) -> list[list[float]]:
    """Greedy k-means++ (scikit-learn's variant: 2 + ln k candidates per step, keep the one that lowers the
    potential most). Distances and their block sums come from the device; the D^2 sampling finishes on the host
    (pick a block from the block sums, then a point inside it)."""
    n = data.n
    trials = 2 + int(math.log(k))
    first = rng.randrange(n)
    centers = [data.row(first)]
    outs, block_sums = engine.pp_distances([centers[0]], None)
    closest = engine.pp_select(outs, 0)
    sums = block_sums[0]
    pot = math.fsum(sums)
    for _ in range(1, k):
        cum = []
        acc = 0.0
        for s in sums:
            acc += s
            cum.append(acc)
        targets = [rng.random() * pot for _ in range(trials)]
        blocks = [min(bisect.bisect_left(cum, t), len(cum) - 1) for t in targets]
        values = engine.pp_read_blocks(closest, blocks)
        ids = []
        for t, b in zip(targets, blocks, strict=True):
            r = t - (cum[b - 1] if b else 0.0)
            vals = values[b]
            run, pick = 0.0, len(vals) - 1
            for i, v in enumerate(vals):
                run += v
                if run >= r:
                    pick = i
                    break
            ids.append(min(engine.block_start(b) + pick, n - 1))
        cands = [data.row(i) for i in ids]
        outs, block_sums = engine.pp_distances(cands, closest)
        pots = [math.fsum(s) for s in block_sums]
        best = min(range(trials), key=lambda j: (pots[j], j))
        closest = engine.pp_select(outs, best)
        sums, pot = block_sums[best], pots[best]
        centers.append(cands[best])
    return centers


class KMeans(_Base):
    """K-means clustering (Lloyd's algorithm) on a gpuml device.

    Parameters follow ``sklearn.cluster.KMeans``: ``n_clusters``, ``init`` ("k-means++", "random" or an array
    of shape (n_clusters, n_features)), ``n_init`` ("auto": 1 for k-means++ or an array, 10 for random; the run of
    lowest inertia is kept),
    ``max_iter``, ``tol`` (relative to the mean variance of the features, as scikit-learn), ``random_state``
    (None, an int or a ``random.Random``), ``algorithm`` ("lloyd" only). ``device`` picks the gpuml device
    (default: the current one); ``history`` bounds :attr:`history_` (per-iteration inertia, shift and centers
    of the best run).

    X may be a numpy array, nested lists or a gpuml Tensor. **Computation is float32 on the device**: float64
    input is centered on its column means in float64, then converted to float32 (so results agree with
    scikit-learn's float64 Lloyd to about 1e-6 relative, not bit for bit). Without numpy (Pyodide core),
    inputs are lists of rows and results are lists.

    ``fit(X, sample_weight=...)`` weights the samples as scikit-learn does (weighted centroids and inertia,
    weighted k-means++ seeding; see gpuml/cluster/_weights.py). A scikit-learn estimator: ``get_params``,
    ``set_params``, ``clone``, Pipeline, GridSearchCV (``score`` is minus the inertia).

    Attributes: ``cluster_centers_``, ``labels_``, ``inertia_``, ``n_iter_``, ``n_features_in_``,
    ``feature_names_in_`` (DataFrames with string column names), ``history_``.

    Examples
    --------
    >>> import numpy as np
    >>> from gpuml.cluster import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]], dtype=float)
    >>> km = KMeans(n_clusters=2, random_state=0, n_init="auto").fit(X)
    >>> sorted(km.cluster_centers_.round(3).tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> km.predict([[0, 0], [12, 3]]).tolist() == [km.labels_[0], km.labels_[3]]
    True
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state=None,
        algorithm: str = "lloyd",
        device=None,
        history: int = 100,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.algorithm = algorithm
        self.device = device
        self.history = history

    # rows per device chunk (None: as many as one storage binding holds); tests set it to exercise chunking
    _chunk_rows: int | None = None

    def _n_init(self) -> int:
        if isinstance(self.n_init, str) and self.n_init == "auto":
            return 1 if not (isinstance(self.init, str) and self.init == "random") else 10
        if not _is_int(self.n_init) or self.n_init < 1:
            raise ValueError(f"n_init must be 'auto' or a positive int, got {self.n_init!r}")
        return int(self.n_init) if isinstance(self.init, str) else 1

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering (``sample_weight``: one non-negative weight per sample); returns self."""
        for _ in self.fit_steps(X, sample_weight=sample_weight, _yield=False):
            pass
        return self

    def fit_steps(self, X, y=None, sample_weight=None, *, labels: bool = True, _yield: bool = True):
        """Fit like :meth:`fit`, yielding a :class:`KMeansStep` after every Lloyd iteration (for animation).

        With n_init > 1 the steps of every run are yielded in turn; the model keeps the best run. ``labels=False``
        skips reading the labels back each step (they are None then). When the generator is exhausted the
        estimator is fitted."""
        self._check_params()
        if self.algorithm != "lloyd":
            raise ValueError(f"algorithm={self.algorithm!r} is not supported; gpuml implements 'lloyd'")
        k = int(self.n_clusters)
        data = as_host(X, min_samples=1)
        w = check_sample_weight(sample_weight, data.n)
        if data.n < k:
            raise ValueError(f"n_samples={data.n} should be >= n_clusters={k}.")
        n_init = self._n_init()
        device = self._device()
        rng = _rng(self.random_state)
        tol = data.variance_mean * self.tol
        engine = make_engine(device, data, k, self._chunk_rows)
        best = None
        for _run in range(n_init):
            history = collections.deque(maxlen=max(0, int(self.history)))
            engine.set_centers(self._init_centers(engine, data, rng, w))
            step = engine.iterate if w is None else WeightedLloyd(engine, data, w).iterate
            n_iter = 0
            for it in range(self.max_iter):
                shift, inertia, changed, empty = step()
                n_iter = it + 1
                if empty:
                    shift = _relocate_empty(engine, data)
                centers = engine.get_centers()
                history.append((n_iter, inertia, shift, centers))
                if _yield:
                    lab = engine.labels() if labels else None
                    yield KMeansStep(n_iter, _out_rows(centers, data.mean, data.dtype), lab, inertia, shift)
                if changed == 0 or shift <= tol:
                    break
            inertia = engine.assign()[0] if w is None else weighted_inertia(engine, w)
            if best is None or inertia < best[0]:
                best = (inertia, engine.get_centers(), engine.labels(), n_iter, list(history))
        inertia, centers, lab, n_iter, history = best
        self._fitted(X, data)
        self._centers_c = centers
        self.cluster_centers_ = _out_rows(centers, data.mean, data.dtype)
        self.labels_ = lab
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self.history_ = [(i, w, s, _out_rows(c, data.mean, data.dtype)) for i, w, s, c in history]


def _relocate_empty(engine, data: HostData) -> float:
    """scikit-learn's fix for empty clusters: each takes one of the points farthest from their center (in the
    assignment just made), which leaves its old cluster. Host-side (a rare path); returns the new shift."""
    sums, counts = engine.sums_counts()
    old, dist = engine.previous_distances()  # distances to the OLD centers, under the labels just computed
    labels = engine.labels()
    dist = [float(v) for v in dist]
    labels = [int(v) for v in labels]
    empty = [j for j in range(engine.k) if counts[j] == 0]
    far = sorted(range(len(dist)), key=lambda i: (-dist[i], i))[: len(empty)]
    for j, i in zip(empty, far, strict=False):
        row = data.row(i)
        src = labels[i]
        sums[src] = [a - b for a, b in zip(sums[src], row, strict=True)]
        counts[src] -= 1
        sums[j] = list(row)
        counts[j] = 1
    new = [[v / counts[j] for v in sums[j]] if counts[j] > 0 else list(old[j]) for j in range(engine.k)]
    engine.set_centers(new, reset_labels=False)
    return math.fsum((a - b) ** 2 for r, o in zip(new, old, strict=True) for a, b in zip(r, o, strict=True))


class MiniBatchKMeans(_Base):
    """Mini-batch k-means (scikit-learn's update: each center moves by the batch mean of its points with a
    per-center learning rate 1 / (points seen so far)) for streaming data: :meth:`partial_fit` takes one batch
    at a time, :meth:`fit` streams X in ``batch_size`` batches for ``max_iter`` epochs.

    Each batch runs the same fused assignment + reduction kernels as :class:`KMeans` (MODE 1 of update.wgsl).
    Stops early when the squared center shift of a batch falls to ``tol`` (relative to the data variance)
    or when the batch inertia has not improved for ``max_no_improvement`` batches. ``sample_weight`` (fit,
    partial_fit) weights each point's pull on its center as scikit-learn does (host-side update). Not implemented:
    scikit-learn's random reassignment of small clusters (``reassignment_ratio``) and ``n_init``.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init="k-means++",
        max_iter: int = 100,
        batch_size: int = 1024,
        tol: float = 0.0,
        max_no_improvement: int | None = 10,
        init_size: int | None = None,
        random_state=None,
        device=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.random_state = random_state
        self.device = device

    _chunk_rows: int | None = None

    def _start(self, X, data: HostData, rng: random.Random, w=None) -> None:
        k = int(self.n_clusters)
        size = min(data.n, self.init_size or max(3 * self.batch_size, 3 * k))
        idx = sorted(rng.sample(range(data.n), size)) if size < data.n else list(range(data.n))
        sub = as_host([data.row(i) for i in idx], mean=[0.0] * data.d) if np is None else None
        if sub is None:
            sub = HostData(size, data.d, [0.0] * data.d, x32=data.x32[idx])
        engine = make_engine(self._device(), sub, k)
        w_sub = None if w is None else [w[i] for i in idx]
        if w_sub is not None and not any(w_sub):
            w_sub = None  # every sampled point weighs 0: seed unweighted
        self._centers_c = self._init_centers(engine, sub, rng, w_sub)
        self._weights = [0.0] * k
        self._fitted(X, data)
        self._rng = rng
        self._tol_abs = data.variance_mean * self.tol
        self.n_steps_ = 0

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centers with one batch X (the first call also initialises them from X)."""
        self._check_params()
        if not hasattr(self, "_centers_c"):
            data = as_host(X)
            w = check_sample_weight(sample_weight, data.n)
            if data.n < self.n_clusters:
                raise ValueError(f"n_samples={data.n} should be >= n_clusters={self.n_clusters}.")
            self._start(X, data, _rng(self.random_state), w)
        self._check_feature_names(X)
        data = as_host(X, mean=self._mean, owner=type(self).__name__)
        self._batch_step(data, check_sample_weight(sample_weight, data.n))
        self._finish_attrs()
        return self

    def _batch_step(self, batch: HostData, w=None) -> tuple[float, float]:
        engine = make_engine(self._device(), batch, int(self.n_clusters))
        engine.set_centers(self._centers_c)
        if w is None:
            engine.set_weights(self._weights)
            shift, inertia, _, _ = engine.minibatch_step()
            self._centers_c = engine.get_centers()
            self._weights = engine.get_weights()
        else:
            self._centers_c, self._weights, shift, inertia = minibatch_step(engine, batch, w, self._weights)
        self.n_steps_ += 1
        return shift, inertia

    def _finish_attrs(self) -> None:
        self.cluster_centers_ = _out_rows(self._centers_c, self._mean, "float64")

    def fit(self, X, y=None, sample_weight=None):
        """Stream X in shuffled batches of ``batch_size`` for up to ``max_iter`` epochs; returns self."""
        self._check_params()
        data = as_host(X)
        w = check_sample_weight(sample_weight, data.n)
        if data.n < self.n_clusters:
            raise ValueError(f"n_samples={data.n} should be >= n_clusters={self.n_clusters}.")
        rng = _rng(self.random_state)
        for attr in ("_centers_c",):
            if hasattr(self, attr):
                delattr(self, attr)
        self._start(X, data, rng, w)
        bs = max(1, min(self.batch_size, data.n))
        steps = self.max_iter * max(1, data.n // bs)
        ewa, best, no_improve = None, math.inf, 0
        for _ in range(steps):
            idx = rng.sample(range(data.n), bs) if bs < data.n else list(range(data.n))
            if data.x32 is not None:
                batch = HostData(bs, data.d, data.mean, x32=data.x32[np.asarray(idx)])
            else:
                batch = HostData(bs, data.d, data.mean, flat=[v for i in idx for v in data.row(i)])
            shift, inertia = self._batch_step(batch, None if w is None else [w[i] for i in idx])
            if self._tol_abs > 0 and shift <= self._tol_abs:
                break
            ewa = (
                inertia / bs
                if ewa is None
                else ewa * (1 - min(1.0, 2 * bs / data.n)) + inertia / bs * min(1.0, 2 * bs / data.n)
            )
            if ewa < best:
                best, no_improve = ewa, 0
            else:
                no_improve += 1
            if self.max_no_improvement is not None and no_improve >= self.max_no_improvement:
                break
        self._finish_attrs()
        engine = make_engine(self._device(), data, self.n_clusters, self._chunk_rows)
        engine.set_centers(self._centers_c)
        self.inertia_ = engine.assign()[0] if w is None else weighted_inertia(engine, w)
        self.labels_ = engine.labels()
        self.n_iter_ = -(-self.n_steps_ * bs // data.n)
        return self
