"""Clustering on the GPU: k-means (Lloyd and mini-batch), silhouette, the elbow method, toy datasets.

KMeans and MiniBatchKMeans are scikit-learn estimators (get_params/set_params, clone, Pipeline, GridSearchCV,
``sample_weight``; gpuml/cluster/_base.py); without scikit-learn (the page) they keep the same parameters API.

>>> import numpy as np
>>> from gpuml.cluster import KMeans
>>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
>>> KMeans(2, random_state=0).fit(X).inertia_ < 0.02
True
"""

from .datasets import DATASETS, make_dataset
from .kmeans import KMeans, KMeansStep, MiniBatchKMeans, NotFittedError, kmeans_plusplus
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
