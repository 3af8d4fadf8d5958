"""k-means step by step: k-means++ seeding revealed one centre per step with every point's D^2 sampling weight
(its squared distance to the nearest centre chosen so far), then Lloyd iterations (a
:class:`gpuml.cluster.stepper.KMeansRun`), with elbow and silhouette panels for k = 1..10 on a 2,000-point
subsample (silhouette costs O(n^2)), one k per :meth:`KMeansModel.panel_step` or computed elsewhere with
:func:`panel_fit` (the native window's worker thread, the page's worker slices). Suggested k: the largest mean
silhouette (:func:`suggest_k`). Numpy-free (the web page runs it in Pyodide core).
"""

from __future__ import annotations

import math
import random

from ..cluster import KMeans, silhouette_score
from ..cluster.stepper import KMeansRun
from .controls import DemoModel, button, choice, got, slider, toggle

DATASETS = ("blobs", "moons", "circles", "anisotropic", "varied", "uniform")
SPEEDS = (0.5, 1, 2, 5, 10, 30, 60)  # Lloyd iterations (or init steps) per second
K_MIN, K_MAX = 2, 15  # the k slider's range, here and in every front end (palettes have K_MAX colours)
PANEL_SAMPLE = 2000
PANEL_KS = 10
SUGGEST_RULE = "largest mean silhouette"
SEED_MAX = 2**32 - 1  # the datasets' generator (scikit-learn, natively) takes seeds below 2**32


def check_seed(value) -> int:
    """The seed as an int: a whole number >= 0 (an int, an integral float, or its digits typed in a box); else a
    one-line ValueError naming the seed and what it got (an empty box is "nothing")."""
    if isinstance(value, str) and value.strip():
        try:
            value = int(value.strip())
        except ValueError:
            pass
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not ok or value < 0 or not float(value).is_integer():
        raise ValueError(f"seed must be a whole number ≥ 0, got {got(value)}")
    if value > SEED_MAX:
        raise ValueError(f"seed must be at most {SEED_MAX}, got {got(value)}")
    return int(value)


def panel_fit(sample, k: int, seed: int, device=None) -> tuple[float, float]:
    """(inertia, mean silhouette) of ``KMeans(k, random_state=seed, n_init=1)`` on ``sample``; silhouette is NaN
    for k = 1. Pure: a worker thread may call it with its own device."""
    model = KMeans(k, random_state=seed, n_init=1, device=device).fit(sample)
    sil = silhouette_score(sample, model.labels_, device=device) if k > 1 else math.nan
    return float(model.inertia_), float(sil)


def suggest_k(ks, silhouettes) -> int | None:
    """The k with the largest mean silhouette (ties: the smaller k); None without a finite silhouette."""
    best = None
    for k, s in zip(ks, silhouettes, strict=True):
        if not math.isnan(s) and (best is None or s > best[1]):
            best = (k, s)
    return best[0] if best else None


def seed_weights(points, n: int, d: int, centers, prev=None):
    """D^2 of every point to its nearest centre among ``centers`` (centered rows), or, with ``prev`` (the D^2 to
    all but the last centre), updated for the last one: the k-means++ sampling weights for the next centre.
    ``points``: the run's points (numpy (n, d) array, or a flat list without numpy)."""
    c = centers if prev is None else centers[-1:]
    if hasattr(points, "shape"):  # numpy
        import numpy as np

        x = np.asarray(points, np.float64)[:, :2]
        d2 = np.min([((x - np.asarray(ci[:2], np.float64)) ** 2).sum(1) for ci in c], axis=0)
        return d2 if prev is None else np.minimum(prev, d2)
    out = list(prev) if prev is not None else [math.inf] * n
    for ci in c:
        cx, cy = float(ci[0]), float(ci[1]) if d > 1 else 0.0
        for i in range(n):
            dx = points[i * d] - cx
            dy = points[i * d + 1] - cy if d > 1 else 0.0
            v = dx * dx + dy * dy
            if v < out[i]:
                out[i] = v
    return out


def default_loader(name: str, n: int, seed: int):
    """The native demo's datasets: ``gpuml.cluster.make_dataset`` (scikit-learn; 4 blobs)."""
    from ..cluster import make_dataset

    X, _ = make_dataset(name, n, random_state=seed, centers=4)
    return X


class KMeansModel(DemoModel):
    """``loader(name, n, seed)`` gives the (n, 2) points of a dataset (default :func:`default_loader`); ``reveal``
    shows the k-means++ centres one per step with the D^2 weights (else all at once); ``panels`` keeps the
    elbow/silhouette panels (filled by :meth:`panel_step`, or by :meth:`add_panel` from a worker); ``bench``
    iterates on every :meth:`advance` and starts a new init on convergence. The first run is ``KMeans(k,
    random_state=seed, n_init=1)``'s; each reset press seeds the next with ``seed * 1000 + resets``."""

    name = "kmeans"
    title = "k-means step by step"
    controls = (
        choice("dataset", "blobs", DATASETS),
        slider("k", 4, K_MIN, K_MAX, integer=True, step=1),
        choice("speed", 10, SPEEDS, label="steps per second"),
        toggle("playing", True),
        toggle("voronoi", True, label="Voronoi cells"),
        button("step"),
        button("reset", label="reset (new k-means++ init)"),
    )

    def __init__(self, *, points: int = 10_000, k: int = 4, dataset: str = "blobs", seed: int = 0, speed=10,
                 playing: bool = True, steps_per_frame: int = 1, bench: bool = False, reveal: bool = True,
                 panels: bool = True, max_iter: int = 300, loader=None, X=None, device=None):  # fmt: skip
        super().__init__()
        self.n = int(points)
        self.seed = check_seed(seed)
        self.device = device
        self.loader = loader or default_loader
        self.max_per_frame = int(steps_per_frame)
        self.bench, self.reveal, self.panels, self.max_iter = bool(bench), bool(reveal) and not bench, panels, max_iter
        self.iterations = 0  # Lloyd iterations since start, over resets
        self.panel_frames = 0  # advances that fitted a panel k (the slow first frames)
        self.resets = 0
        self.points_version = 0  # bumped when the points change (renderers cache what depends on positions)
        self.values["speed"] = self.control("speed").validate(speed if speed in SPEEDS else 10)
        self.values["playing"] = bool(playing)
        self.values["k"] = self.control("k").validate(k)
        self.values["dataset"] = dataset if X is not None else self.control("dataset").validate(dataset)
        self._accum = 0.0
        self.panel_generation = 0  # bumped when the panels restart (a worker's late result is then dropped)
        self.load(dataset, X)

    # --- model state ----------------------------------------------------------------------------------------
    @property
    def k(self) -> int:
        return self.values["k"]

    @property
    def dataset(self) -> str:
        return self.values["dataset"]

    def load(self, dataset: str, X=None) -> None:
        """Points of ``dataset`` (from the loader unless ``X`` is given); new run, panels restart."""
        self.values["dataset"] = dataset
        self.X = self.loader(dataset, self.n, self.seed) if X is None else X
        self.n = len(self.X)
        self.bounds = _bounds(self.X)
        picks = random.Random(self.seed).sample(range(self.n), min(PANEL_SAMPLE, self.n)) if self.panels else []
        self.sample = [list(map(float, self.X[i])) for i in picks]
        self.panel_k: list[int] = []
        self.panel_inertia: list[float] = []
        self.panel_sil: list[float] = []
        self.panel_generation += 1
        self.new_run()

    def new_run(self) -> None:
        self.run = None
        self.points_version += 1
        self.reset()

    def reset(self) -> None:
        """A new k-means++ initialisation (seeded by the reset count on the native demo's scheme)."""
        self.resets += 1
        state = self.seed if self.resets == 1 else self.seed * 1000 + self.resets
        if self.run is None:
            self.run = KMeansRun(self.X, self.k, random_state=state, max_iter=self.max_iter, device=self.device)
        else:
            self.run.reinit(state)
        self.revealed = 1 if self.reveal else self.k
        self.d2 = None  # D^2 to the revealed centres (seeding only)
        if self.revealed < self.k:
            self._update_d2()
        self.inertia_history: list[float] = []
        self._accum = 0.0

    def _update_d2(self) -> None:
        run = self.run
        self.d2 = seed_weights(run.points(), run.n, run.d, run.init_centers[: self.revealed], self.d2)

    @property
    def seeding(self) -> bool:
        """k-means++ seeding is on screen: the next step reveals a centre."""
        return self.revealed < self.k

    def seed_levels(self, levels: int = 256) -> list[int]:
        """The D^2 sampling weights quantised to 0..levels-1 (linear: level = D^2 / max D^2 * (levels - 1))."""
        d2 = self.d2
        if d2 is None:
            return [0] * self.n
        top = float(max(d2)) or 1.0
        scale = (levels - 1) / top
        return [int(v * scale + 0.5) for v in (d2.tolist() if hasattr(d2, "tolist") else d2)]

    @property
    def converged(self) -> bool:
        return self.run.converged

    @property
    def n_iter(self) -> int:
        return self.run.n_iter

    def step(self) -> None:
        """One step: reveal the next k-means++ centroid, or one Lloyd iteration."""
        if self.run.converged:
            return
        if self.revealed < self.k:
            self.revealed += 1
            if self.revealed < self.k:
                self._update_d2()
            else:
                self.d2 = None
            return
        _, inertia, _, _ = self.run.step()
        self.iterations += 1
        self.inertia_history.append(inertia)

    def panel_next(self) -> int | None:
        """The next k the panels need (1..PANEL_KS), or None when they are complete (or off)."""
        k = len(self.panel_k) + 1
        return k if self.panels and k <= PANEL_KS else None

    def panel_step(self) -> None:
        """Fit one more k of the elbow/silhouette panels (k = 1..10) on the subsample, here."""
        k = self.panel_next()
        if k is None:
            return
        self.panel_frames += 1
        self.add_panel(self.panel_generation, k, *panel_fit(self.sample, k, self.seed, self.device))

    def add_panel(self, generation: int, k: int, inertia: float, silhouette: float) -> bool:
        """Record one k of the panels computed elsewhere; dropped (False) when the data changed since."""
        if generation != self.panel_generation or k != self.panel_next():
            return False
        self.panel_k.append(k)
        self.panel_inertia.append(inertia)
        self.panel_sil.append(silhouette)
        return True

    @property
    def suggested_k(self) -> int | None:
        """:func:`suggest_k` over the panels, once complete."""
        if self.panel_next() is not None or not self.panels:
            return None
        return suggest_k(self.panel_k, self.panel_sil)

    def advance(self, dt: float, panels: bool = True) -> None:
        """``dt`` seconds of the animation: steps at ``speed`` per second (at most ``steps_per_frame``), or one
        iteration in bench mode; then one panel k (unless ``panels`` is False: a worker computes them)."""
        if self.bench:
            if self.run.converged:
                self.reset()
            self.step()
        elif self.values["playing"] and not self.run.converged:
            self._accum += dt * self.values["speed"]
            steps = min(int(self._accum), self.max_per_frame)
            self._accum = min(self._accum - steps, 1.0)
            for _ in range(steps):
                self.step()
        if panels:
            self.panel_step()

    # --- input ----------------------------------------------------------------------------------------------
    def _changed(self, name, value) -> None:
        if name == "k":
            self.new_run()
        elif name == "dataset":
            self.load(value)

    def _pressed(self, name) -> None:
        if name == "step":
            self.values["playing"] = False
            self.step()
        elif name == "reset":
            self.reset()

    # --- output ---------------------------------------------------------------------------------------------
    def phase(self) -> str:
        if self.revealed < self.k:
            return f"k-means++ seeding: centre {self.revealed} of {self.k}"
        if self.run.converged:
            return f"converged after {self.run.n_iter} iterations"
        return "Lloyd iterations" + ("" if self.values["playing"] else " (paused)")

    def view(self) -> dict:
        """What to draw: the points' device buffers (``buffers``: points, labels, centers; or None: then
        ``labels()`` / ``centers()`` on the host) and ``mean`` (they are centered), the data ``bounds``, how many
        centroids and cells show (``revealed``), the state panel's rows and the elbow/silhouette series."""
        run, it = self.run, self.run.n_iter
        speed = self.values["speed"]
        playing = self.values["playing"]
        return {
            "title": f"k-means · {self.dataset} · {self.n:,} points",
            "buffers": run.buffers(),
            "mean": run.mean,
            "bounds": self.bounds,
            "revealed": self.revealed,
            "k": self.k,
            "voronoi": self.values["voronoi"],
            "phase": self.phase(),
            "converged": run.converged,
            "rows": [
                ("k", f"{self.k}"),
                ("iteration", f"{it}"),
                ("inertia", f"{run.inertia:,.1f}" if it else "-"),
                ("center shift", f"{run.shift:.3g}" if it else "-"),
                ("speed", f"{speed:g} steps/s" + ("" if playing else ", paused")),
            ],
            "elbow": (list(self.panel_k), list(self.panel_inertia)),
            "silhouette": [(k, s) for k, s in zip(self.panel_k, self.panel_sil, strict=True) if k > 1],
            "panels_done": len(self.panel_k) >= PANEL_KS or not self.panels,
            "suggested_k": self.suggested_k,
            "seeding": self.seeding,
        }

    def labels(self):
        return self.run.labels()

    def centers(self) -> list[list[float]]:
        """The current centers (centered coordinates, like the points)."""
        return self.run.centers()

    def state(self) -> dict:
        return {
            "dataset": self.dataset,
            "k": self.k,
            "n_points": self.n,
            "n_iter": self.run.n_iter,
            "revealed": self.revealed,
            "inertia": self.run.inertia,
            "converged": self.run.converged,
            "playing": self.values["playing"],
            "speed": self.values["speed"],
            "voronoi": self.values["voronoi"],
            "resets": self.resets,
            "iterations": self.iterations,
            "panel_k": list(self.panel_k),
            "panel_frames": self.panel_frames,
            "suggested_k": self.suggested_k,
            "seeding": self.seeding,
        }


def _bounds(X) -> tuple[float, float, float, float]:
    xs = [float(r[0]) for r in X]
    ys = [float(r[1]) for r in X]
    return min(xs), min(ys), max(xs), max(ys)
