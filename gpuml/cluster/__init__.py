"""Clustering on the GPU: k-means (Lloyd and mini-batch), silhouette, the elbow method, toy datasets.

KMeans and MiniBatchKMeans are scikit-learn estimators (get_params/set_params, clone, Pipeline, GridSearchCV,
``sample_weight``; gpuml/cluster/_base.py), without importing scikit-learn until it is used (importing it costs
0.8 s); without scikit-learn (the page) they keep the same parameters API.

>>> import numpy as np
>>> from gpuml.cluster import KMeans
>>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
>>> KMeans(2, random_state=0).fit(X).inertia_ < 0.02
True
"""

from ._base import adopt_sklearn, not_fitted_error
from .datasets import DATASETS, make_dataset
from .kmeans import KMeans, KMeansStep, MiniBatchKMeans, kmeans_plusplus
from .metrics import elbow, knee, silhouette_samples, silhouette_score
from .stepper import KMeansRun

__all__ = [
    "DATASETS",
    "KMeans",
    "KMeansRun",
    "KMeansStep",
    "MiniBatchKMeans",
    "NotFittedError",
    "elbow",
    "kmeans_plusplus",
    "knee",
    "make_dataset",
    "silhouette_samples",
    "silhouette_score",
]

adopt_sklearn(load=False)  # scikit-learn already imported: the classes derive its estimator classes right away


def __getattr__(name: str):
    # NotFittedError subclasses scikit-learn's, so it is created on first use: importing gpuml.cluster (and
    # fitting) does not import scikit-learn (0.8 s)
    if name == "NotFittedError":
        return not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
