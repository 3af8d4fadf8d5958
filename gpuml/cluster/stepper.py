"""A k-means fit driven one step at a time, for animations (the native k-means demo and the web page).

:class:`KMeansRun` makes the decisions of :meth:`KMeans.fit` for one run (the init from ``random_state``, the
convergence test, scikit-learn's empty-cluster fix), so a run stepped to convergence has ``KMeans(n_clusters,
random_state=..., n_init=1).fit(X)``'s labels. Between steps a renderer may read the engine's device buffers
(points, labels, centers) in place through :meth:`KMeansRun.buffers`: no labels or centers come back to the host
per frame. Numpy-free (Pyodide core).
"""

from __future__ import annotations

import math

from ..ops import copy
from ._data import as_host
from .kmeans import KMeans, _relocate_empty, _rng, make_engine

__all__ = ["KMeansRun"]


class KMeansRun:
    """One k-means run, stepped by the caller (see the module docstring).

    ``X``: (n, d) rows (numpy array or nested lists); ``n_clusters``, ``init``, ``max_iter``, ``tol``,
    ``random_state`` and ``device`` as :class:`KMeans`. Centers and points are centered on the column means of X
    (``mean``) on the device; :meth:`centers` returns them centered, :meth:`cluster_centers` in X's coordinates.
    """

    def __init__(self, X, n_clusters: int, *, init="k-means++", max_iter: int = 300, tol: float = 1e-4,
                 random_state=None, device=None):  # fmt: skip
        self.estimator = KMeans(
            n_clusters, init=init, n_init=1, max_iter=max_iter, tol=tol, random_state=random_state, device=device
        )
        self.estimator._check_params()
        self._data = as_host(X, min_samples=1)
        if self._data.n < n_clusters:
            raise ValueError(f"n_samples={self._data.n} should be >= n_clusters={n_clusters}.")
        self.k, self.n, self.d = n_clusters, self._data.n, self._data.d
        self.mean = list(self._data.mean)
        self.device = self.estimator._device()
        self._engine = make_engine(self.device, self._data, n_clusters)
        self.tol = self._data.variance_mean * tol
        self.reinit(random_state)

    def reinit(self, random_state=None) -> None:
        """A new initialisation (same data and k) from ``random_state``; the iteration count restarts."""
        self.estimator.random_state = random_state
        self.init_centers = self.estimator._init_centers(self._engine, self._data, _rng(random_state))
        self._engine.set_centers(self.init_centers)
        self.n_iter = 0
        self.inertia = math.nan
        self.shift = math.nan
        self.converged = False

    # --- steps ----------------------------------------------------------------------------------------------
    def step(self) -> tuple[float, float, int, int]:
        """One Lloyd iteration (assignment to the current centers, update, empty-cluster fix); returns (center
        shift, inertia of the assignment, points that changed cluster, empty clusters) and sets ``converged``."""
        return self.finish_step(self._engine.iterate())

    def record_step(self):
        """Record one Lloyd iteration without waiting for the device and return a tensor of its 4 statistics
        (a copy, queue-ordered), to read asynchronously and pass to :meth:`finish_step`; None where the engine
        runs synchronously (cpu, python backends): the iteration is then done and finished already."""
        pending = self._engine.record_iteration()
        if pending is None:  # a host engine ran the iteration already
            self.finish_step(self._engine.last_stats)
            return None
        return copy(pending)  # the next iteration overwrites the engine's statistics

    def finish_step(self, stats) -> tuple[float, float, int, int]:
        """The host's decisions after an iteration with statistics ``stats`` (4 numbers, see :meth:`step`)."""
        shift, inertia, changed, empty = (float(v) for v in stats)
        changed, empty = int(changed), int(empty)
        if empty:
            shift = _relocate_empty(self._engine, self._data)
        self.n_iter += 1
        self.shift, self.inertia = shift, inertia
        if changed == 0 or shift <= self.tol or self.n_iter >= self.estimator.max_iter:
            self.converged = True
        return shift, inertia, changed, empty

    def assign(self) -> float:
        """Assign the points to the current centers (the final labels of a fit); returns the inertia."""
        inertia, _ = self._engine.assign()
        return inertia

    # --- results --------------------------------------------------------------------------------------------
    def labels(self):
        """The current labels (numpy int array, or a list without numpy); 2^32 - 1 before the first step."""
        return self._engine.labels()

    def centers(self) -> list[list[float]]:
        """The current centers, centered on ``mean`` (the coordinates of :meth:`points`)."""
        return self._engine.get_centers()

    def cluster_centers(self) -> list[list[float]]:
        return [[v + m for v, m in zip(r, self.mean, strict=True)] for r in self.centers()]

    def points(self):
        """The centered float32 points: a numpy (n, d) array, or a flat list of n * d floats without numpy."""
        return self._data.x32 if self._data.x32 is not None else self._data.flat

    def buffers(self):
        """The device tensors a renderer binds in place: (points (n, 4 * ceil(d / 4)) float32 rows, labels (n,)
        uint32, centers (k * 4 * ceil(d / 4),) float32), or None on engines without device buffers or whose
        points span more than one storage binding."""
        return self._engine.device_buffers()
