"""Host-side input handling for gpuml.cluster: validation and the centered float32 copy of X.

With numpy, X becomes a numpy array (scikit-learn conventions). Without numpy (Pyodide core), X may be nested
lists, an ``array.array`` with ``n_features`` given, or a gpuml Tensor; rows are then kept as Python floats.
Either way the data is centered on its column means (computed in float64), as scikit-learn does for precision,
and the device works on the centered float32 copy.
"""

from __future__ import annotations

import array
import math

from ..tensor import Tensor

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


class HostData:
    """Centered data: ``n``, ``d``, ``mean`` (list of d floats), ``x32`` (numpy n x d float32, or None) or
    ``flat`` (list of n * d Python floats, numpy-free), and ``variance_mean`` (mean of the column variances)."""

    def __init__(self, n: int, d: int, mean: list[float], x32=None, flat: list[float] | None = None, dtype=None):
        self.n, self.d, self.mean, self.x32, self.flat, self.dtype = n, d, mean, x32, flat, dtype
        self._var = None

    @property
    def variance_mean(self) -> float:
        if self._var is None:
            if self.x32 is not None:
                self._var = float(np.mean(np.var(self.x32, axis=0, dtype=np.float64)))
            else:
                n, d, f = self.n, self.d, self.flat
                total = 0.0
                for j in range(d):
                    col = f[j::d]
                    m = math.fsum(col) / n
                    total += math.fsum((v - m) ** 2 for v in col) / n
                self._var = total / d
        return self._var

    def output(self, values, kind: str):
        """Results of an engine computed as lists (the python backend's): numpy arrays where numpy is importable
        (int32 for ``kind`` "labels", float32 otherwise), else the lists themselves."""
        if np is None:
            return values
        return np.asarray(values, np.int32 if kind == "labels" else np.float32)

    def row(self, i: int) -> list[float]:
        if self.x32 is not None:
            return [float(v) for v in self.x32[i]]
        return self.flat[i * self.d : (i + 1) * self.d]

    def padded_rows(self, start: int, stop: int, d4: int):
        """Rows [start, stop) zero-padded to 4 * d4 columns: a numpy float32 array or an array.array('f')."""
        width = 4 * d4
        if self.x32 is not None:
            out = np.zeros((stop - start, width), np.float32)
            out[:, : self.d] = self.x32[start:stop]
            return out
        out = array.array("f", bytes(4 * width * (stop - start)))
        d = self.d
        for i in range(start, stop):
            out[(i - start) * width : (i - start) * width + d] = array.array("f", self.flat[i * d : (i + 1) * d])
        return out


def _shape_error(what: str, shape) -> ValueError:
    return ValueError(
        f"Expected a 2-D array for {what}, got shape {shape}. Reshape your data with X.reshape(-1, 1) for a single "
        "feature or X.reshape(1, -1) for a single sample."
    )


def as_host(
    X, what: str = "X", mean: list[float] | None = None, min_samples: int = 1, owner: str = "the estimator"
) -> HostData:
    """Validate X (2-D, numeric, finite, at least ``min_samples`` rows) and center it (on ``mean`` when given,
    else on its own column means). ``owner`` names the estimator in a feature-count mismatch."""
    if isinstance(X, Tensor):
        X = X.numpy() if np is not None else X.tolist()
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{what}: sparse input is not supported by gpuml.cluster; pass a dense array (X.toarray())")
    if np is not None:
        try:
            arr = np.asarray(X)
        except ValueError as exc:  # ragged lists
            raise ValueError(f"{what} is not a rectangular 2-D array: {exc}") from None
        if arr.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {what} has dtype {arr.dtype}")
        if arr.dtype == object:  # numbers boxed as objects (e.g. from a DataFrame) are fine
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{what} must hold numbers (float or int), got dtype object: {exc}") from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{what} must hold numbers (float or int), got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise _shape_error(what, arr.shape)
        n, d = arr.shape
        _check_size(what, n, d, min_samples, mean, owner)
        arr64 = arr.astype(np.float64, copy=False)
        if not np.isfinite(arr64).all():
            raise ValueError(f"{what} contains NaN or infinity; gpuml.cluster needs finite values")
        mu = arr64.mean(axis=0) if mean is None else np.asarray(mean, np.float64)
        centered = arr64 - mu
        _check_range(what, float(np.abs(centered).max()) if centered.size else 0.0, d)
        x32 = centered.astype(np.float32)
        return HostData(n, d, [float(v) for v in mu], x32=x32, dtype=arr.dtype)
    rows = X
    if isinstance(rows, array.array):
        raise TypeError(f"{what}: pass a list of rows (an array.array has no shape)")
    if not isinstance(rows, list | tuple) or (rows and not isinstance(rows[0], list | tuple)):
        raise _shape_error(what, "1-D" if isinstance(rows, list | tuple) else type(rows).__name__)
    n = len(rows)
    d = len(rows[0]) if n else 0
    _check_size(what, n, d, min_samples, mean, owner)
    flat = []
    for r in rows:
        if len(r) != d:
            raise ValueError(f"{what} is not a rectangular 2-D array: rows of {d} and {len(r)} values")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TypeError(f"{what} must hold numbers (float or int), got {type(v).__name__}")
            if not math.isfinite(v):
                raise ValueError(f"{what} contains NaN or infinity; gpuml.cluster needs finite values")
            flat.append(float(v))
    if mean is None:
        mean = [math.fsum(flat[j::d]) / n for j in range(d)]
    centered = [flat[i] - mean[i % d] for i in range(n * d)]
    _check_range(what, max(map(abs, centered), default=0.0), d)
    # round to float32 like the device copy, so host-side rows equal device rows
    centered = array.array("f", centered).tolist()
    return HostData(n, d, list(mean), flat=centered, dtype="float64")


def _check_range(what: str, largest: float, d: int) -> None:
    """gpuml computes squared distances in float32: centered values whose squares overflow it would give infinite
    inertia and arbitrary labels, so they are refused (scikit-learn, in float64, would go on)."""
    limit = math.sqrt(3.4028234663852886e38 / (4 * max(d, 1)))
    if largest > limit:
        raise ValueError(
            f"{what} has values {largest:.3g} away from the column means; gpuml.cluster computes squared distances "
            f"in float32, which overflow beyond {limit:.3g} for {d} features: rescale the data (e.g. StandardScaler)"
        )


def _check_size(what: str, n: int, d: int, min_samples: int, mean=None, owner: str = "the estimator") -> None:
    """Shape checks, worded as scikit-learn's check_array (its estimator checks match these messages)."""
    if mean is not None and len(mean) != d:
        raise ValueError(f"{what} has {d} features, but {owner} is expecting {len(mean)} features as input")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is required.")
    if n < min_samples:
        raise ValueError(
            f"Found array with {n} sample(s) (shape=({n}, {d})) while a minimum of {min_samples} is required "
            f"({what} has n_samples={n})."
        )


def as_rows(a) -> list[list[float]]:
    """A 2-D array-like as a list of float rows (numpy or not)."""
    if np is not None:
        return np.asarray(a, np.float64).tolist()
    if isinstance(a, Tensor):
        return a.tolist()
    return [[float(v) for v in r] for r in a]
