"""Seeded toy datasets for clustering demos and tests (scikit-learn's generators; needs numpy and scikit-learn)."""

from __future__ import annotations

DATASETS = ("blobs", "moons", "circles", "anisotropic", "varied", "uniform")


def make_dataset(name: str, n_samples: int = 1000, *, random_state: int = 0, n_features: int = 2, centers: int = 3):
    """(X, y) for one of :data:`DATASETS` (y is the generating label, all zeros for "uniform").

    blobs: isotropic Gaussian blobs; moons, circles: two interleaved shapes; anisotropic: blobs sheared by
    [[0.6, -0.6], [-0.4, 0.8]]; varied: blobs with standard deviations 1.0, 2.5, 0.5; uniform: the unit cube."""
    import numpy as np
    from sklearn import datasets as skd

    if name == "blobs":
        return skd.make_blobs(n_samples, n_features=n_features, centers=centers, random_state=random_state)
    if name == "moons":
        return skd.make_moons(n_samples, noise=0.05, random_state=random_state)
    if name == "circles":
        return skd.make_circles(n_samples, factor=0.5, noise=0.05, random_state=random_state)
    if name == "anisotropic":
        X, y = skd.make_blobs(n_samples, centers=centers, random_state=random_state)
        return X @ np.array([[0.6, -0.6], [-0.4, 0.8]]), y
    if name == "varied":
        return skd.make_blobs(n_samples, cluster_std=[1.0, 2.5, 0.5], random_state=random_state)
    if name == "uniform":
        rng = np.random.default_rng(random_state)
        return rng.random((n_samples, n_features)), np.zeros(n_samples, np.int64)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
