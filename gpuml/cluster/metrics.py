"""Cluster quality on the GPU: silhouette coefficients (tiled pairwise distances) and the elbow method."""

from __future__ import annotations

import math

from ..backends import device_for, get_device
from ..tensor import Tensor
from ._data import as_host

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

__all__ = ["elbow", "silhouette_samples", "silhouette_score"]


def _labels_list(labels, n: int) -> list[int]:
    if np is not None:
        arr = np.asarray(labels)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"labels must have shape ({n},), got {arr.shape}")
        return arr.astype(np.int64).tolist()
    out = [int(v) for v in (labels.tolist() if isinstance(labels, Tensor) else labels)]
    if len(out) != n:
        raise ValueError(f"labels must have {n} entries, got {len(out)}")
    return out


def silhouette_samples(X, labels, *, device=None):
    """Silhouette coefficient of every sample (Euclidean), as ``sklearn.metrics.silhouette_samples``.

    On a GPU device the pairwise distances are computed in tiles of 64 points staged in workgroup memory (at most
    1024 clusters); no n x n matrix is ever stored. float32 arithmetic (agrees with scikit-learn's float64 to
    ~1e-6). The python backend computes O(n^2) distances in pure Python (small data)."""
    data = as_host(X)
    n = data.n
    raw = _labels_list(labels, n)
    uniq = sorted(set(raw))
    if not 2 <= len(uniq) <= n - 1:
        raise ValueError(f"Number of labels is {len(uniq)}. Valid values are 2 to n_samples - 1 (inclusive)")
    remap = {v: i for i, v in enumerate(uniq)}
    lab = [remap[v] for v in raw]
    k = len(uniq)
    device = device_for("kmeans") if device is None else get_device(device) if isinstance(device, str) else device
    s = device.impl.silhouette(device, data, lab, k)
    return np.asarray(s, np.float32) if np is not None else s


def silhouette_score(X, labels, *, device=None) -> float:
    """Mean silhouette coefficient over all samples (``sklearn.metrics.silhouette_score``)."""
    s = silhouette_samples(X, labels, device=device)
    if np is not None:
        return float(np.mean(np.asarray(s, np.float64)))
    return math.fsum(s) / len(s)


def knee(ks: list[int], inertias: list[float]) -> dict:
    """Suggested k from an inertia curve by two documented rules.

    - ``kneedle``: normalise k and inertia to [0, 1]; the knee is the k whose point lies farthest below the chord
      from the first to the last point, i.e. argmax ((1 - k_n) - inertia_n) (Satopaa et al. 2011, for a decreasing
      convex curve).
    - ``second_difference``: argmax of inertia[k-1] - 2 inertia[k] + inertia[k+1] (largest bend), interior ks only.
    """
    result = {"kneedle": None, "second_difference": None}
    if len(ks) >= 3:
        k0, k1 = ks[0], ks[-1]
        hi, lo = max(inertias), min(inertias)
        span = (hi - lo) or 1.0
        scores = [(1 - (k - k0) / (k1 - k0)) - (w - lo) / span for k, w in zip(ks, inertias, strict=True)]
        result["kneedle"] = ks[max(range(len(ks)), key=lambda i: (scores[i], -i))]
        second = [inertias[i - 1] - 2 * inertias[i] + inertias[i + 1] for i in range(1, len(ks) - 1)]
        result["second_difference"] = ks[1 + max(range(len(second)), key=lambda i: (second[i], -i))]
    return result


def elbow(X, k_range, *, silhouette: bool = False, random_state=0, n_init="auto", device=None, **kmeans_kw) -> dict:
    """Fit :class:`KMeans` for every k in ``k_range`` and suggest k.

    Returns a dict: ``k`` (list), ``inertia`` (list), ``silhouette`` (list, when ``silhouette=True``),
    ``models`` (the fitted estimators), ``suggested_k`` (the kneedle knee; see :func:`knee`), and
    ``kneedle`` / ``second_difference`` (both rules' answers)."""
    from .kmeans import KMeans

    ks = [int(k) for k in k_range]
    if not ks:
        raise ValueError("k_range is empty")
    models, inertias, sils = [], [], []
    for k in ks:
        model = KMeans(k, random_state=random_state, n_init=n_init, device=device, **kmeans_kw).fit(X)
        models.append(model)
        inertias.append(float(model.inertia_))
        if silhouette:
            sils.append(silhouette_score(X, model.labels_, device=device) if k >= 2 else float("nan"))
    rules = knee(ks, inertias)
    out = {"k": ks, "inertia": inertias, "models": models, **rules}
    out["suggested_k"] = rules["kneedle"] if rules["kneedle"] is not None else ks[0]
    if silhouette:
        out["silhouette"] = sils
    return out
