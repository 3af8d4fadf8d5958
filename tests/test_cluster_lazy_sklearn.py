"""gpuml.cluster does not import scikit-learn to fit (it costs 0.8 s in a fresh process), and its estimators
become full scikit-learn estimators once scikit-learn is loaded, whichever was imported first. Each case runs in a
fresh interpreter (the class bases change once per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> dict:
    env = {**os.environ, "GPUML_BACKEND": "cpu", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


FIT_WITHOUT_SKLEARN = r"""
import json, sys
import numpy as np
import gpuml.cluster
from gpuml.cluster import KMeans, MiniBatchKMeans
X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
km = KMeans(2, random_state=0).fit(X)
out = {
    "labels": km.labels_.tolist(), "inertia": float(km.inertia_), "predict": km.predict([[4.9, 5.2]]).tolist(),
    "transform_shape": list(km.transform(X).shape), "score": float(km.score(X)),
    "repr": repr(km), "params": sorted(km.get_params()), "names": list(km.get_feature_names_out()),
    "set_params": km.set_params(max_iter=7).max_iter, "fit_predict": KMeans(2, random_state=0).fit_predict(X).tolist(),
    "minibatch": MiniBatchKMeans(2, batch_size=4, random_state=0).fit(X).cluster_centers_.shape[0],
    "set_output": km.set_output(transform="default").transform(X).shape[1],
}
out["sklearn"] = sorted(m for m in sys.modules if m == "sklearn" or m.startswith("sklearn."))
print(json.dumps(out))
"""


def test_import_and_fit_do_not_import_sklearn():
    got = _run(FIT_WITHOUT_SKLEARN)
    assert got["sklearn"] == []
    assert sorted(got["labels"][:3]) == [got["labels"][0]] * 3 and got["labels"][3] != got["labels"][0]
    assert got["predict"] == [got["labels"][3]]
    assert abs(got["inertia"] / (2 * 12 / 900) - 1) < 1e-4  # each blob: squared distances 2/900 + 5/900 + 5/900
    assert abs(got["score"] + got["inertia"]) < 1e-6 and got["transform_shape"] == [6, 2]
    assert got["repr"] == "KMeans(n_clusters=2, random_state=0)"
    params = ["algorithm", "device", "history", "init", "max_iter", "n_clusters", "n_init", "random_state", "tol"]
    assert got["params"] == params
    assert got["names"] == ["kmeans0", "kmeans1"] and got["set_params"] == 7 and got["set_output"] == 2
    assert got["fit_predict"] == got["labels"] and got["minibatch"] == 2


SKLEARN_AFTER = r"""
import json, pickle, sys
import numpy as np
from gpuml.cluster import KMeans
X = np.random.RandomState(0).rand(40, 3)
early = KMeans(2, random_state=0, n_init=1).fit(X)  # created and fitted before scikit-learn is imported
blob = pickle.dumps(early)
assert "sklearn" not in sys.modules
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, clone, is_clusterer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
out = {"early_before_call": isinstance(early, BaseEstimator)}
out["new_is_estimator"] = isinstance(KMeans(2), ClusterMixin) and isinstance(KMeans(2), TransformerMixin)
out["early_after_new"] = isinstance(early, BaseEstimator) and is_clusterer(early)
twin = clone(early)
out["clone"] = [repr(twin), hasattr(twin, "cluster_centers_")]
out["set_fit_request"] = hasattr(KMeans, "set_fit_request")
out["html"] = "KMeans" in early._repr_html_()
out["unpickled"] = bool(np.allclose(pickle.loads(blob).cluster_centers_, early.cluster_centers_))
pipe = make_pipeline(StandardScaler(), KMeans(2, random_state=0, n_init=1)).fit(X)
out["pipeline"] = len(set(pipe.predict(X).tolist()))
grid = GridSearchCV(KMeans(random_state=0, n_init=1), {"n_clusters": [2, 3]}, cv=2).fit(X)
out["grid"] = int(grid.best_params_["n_clusters"])
from gpuml.cluster import NotFittedError
from sklearn.exceptions import NotFittedError as Sk
try:
    KMeans(2).predict(X)
except Sk as exc:
    out["not_fitted"] = [issubclass(NotFittedError, Sk), type(exc) is NotFittedError]
print(json.dumps(out))
"""


def test_sklearn_imported_after_gpuml_cluster():
    got = _run(SKLEARN_AFTER)
    assert got["early_before_call"] is False  # no scikit-learn call yet: the classes have not adopted it
    assert got["new_is_estimator"] is True and got["early_after_new"] is True  # the class changed, for all
    assert got["clone"] == ["KMeans(n_clusters=2, n_init=1, random_state=0)", False]
    assert got["set_fit_request"] is True and got["html"] is True and got["unpickled"] is True
    assert got["pipeline"] == 2 and got["grid"] in (2, 3) and got["not_fitted"] == [True, True]


SKLEARN_FIRST = r"""
import json
import sklearn.base
from sklearn.utils.estimator_checks import check_estimator
import gpuml.cluster
from gpuml.cluster import KMeans
out = {"subclass": issubclass(KMeans, sklearn.base.BaseEstimator)}
check_estimator(KMeans(n_clusters=2, n_init=2, max_iter=5, device="cpu"),
                expected_failed_checks={"check_sample_weight_equivalence_on_dense_data": "k-means++ draws"})
out["checked"] = True
print(json.dumps(out))
"""


def test_sklearn_imported_first_and_check_estimator():
    assert _run(SKLEARN_FIRST) == {"subclass": True, "checked": True}
