"""k-means on the python backend (pure Python, no numpy; gpuml/impl/python/kmeans.py PythonEngine): the same fits as the
cpu (numpy) backend and scikit-learn, and a run in a subprocess where numpy cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gpuml.backends import open_device
from gpuml.cluster import KMeans, MiniBatchKMeans, make_dataset, silhouette_samples, silhouette_score
from gpuml.cluster._data import as_host
from gpuml.cluster.kmeans import make_engine
from gpuml.impl.python.kmeans import PythonEngine

ROOT = Path(__file__).resolve().parents[1]
CASES = [(300, 5, 2, 1), (257, 7, 3, 2)]  # sizes not multiples of 8


@pytest.fixture(scope="module")
def py():
    return open_device("python")


@pytest.fixture(scope="module")
def cpu():
    return open_device("cpu")


def _blobs(n, k, seed, d=2):
    return make_dataset("blobs", n, centers=k, random_state=seed, n_features=d)[0]


def _same_fit(a, b):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    assert abs(a.inertia_ / b.inertia_ - 1) < 1e-6
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-6, atol=1e-6)


def test_make_engine_picks_python_engine(py):
    engine = make_engine(py, as_host(_blobs(50, 3, 0)), 3)
    assert isinstance(engine, PythonEngine)
    assert engine.record_iteration() is None  # a host engine: the page's kmeans_step takes its synchronous branch
    assert len(engine.last_stats) == 4 and engine.device_buffers() is None


@pytest.mark.parametrize(("n", "k", "d", "seed"), CASES)
def test_fit_predict_transform_equal_cpu_backend(py, cpu, n, k, d, seed):
    X = _blobs(n, k, seed, d)
    for random_state in (0, 7):
        a = KMeans(k, random_state=random_state, device=py).fit(X)
        b = KMeans(k, random_state=random_state, device=cpu).fit(X)
        _same_fit(a, b)
    assert a.labels_.dtype == np.int32 and a.labels_.shape == (n,)
    Y = X[::3] + 0.25
    np.testing.assert_array_equal(a.predict(Y), b.predict(Y))
    np.testing.assert_array_equal(a.predict(X), a.labels_)
    np.testing.assert_allclose(a.transform(Y), b.transform(Y), rtol=1e-5, atol=1e-5)
    assert a.transform(Y).shape == (len(Y), k)
    assert abs(a.score(Y) / b.score(Y) - 1) < 1e-6


def test_random_init_n_init_equal_cpu_backend(py, cpu):
    X = _blobs(257, 4, 5)
    _same_fit(
        KMeans(4, init="random", n_init=3, random_state=2, device=py).fit(X),
        KMeans(4, init="random", n_init=3, random_state=2, device=cpu).fit(X),
    )


def test_empty_cluster_is_reseeded_like_sklearn_and_cpu(py, cpu):
    X = _blobs(601, 4, 3)
    init = np.vstack([X[:3], [[1e3, 1e3]]])  # the far center gets no points in the first iteration
    ours = KMeans(4, init=init, device=py).fit(X)
    _same_fit(ours, KMeans(4, init=init, device=cpu).fit(X))
    sk_cluster = pytest.importorskip("sklearn.cluster")
    ref = sk_cluster.KMeans(4, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 1e-5


def test_minibatch_equal_cpu_backend(py, cpu):
    X = _blobs(1203, 4, 8)
    a = MiniBatchKMeans(4, batch_size=100, random_state=0, device=py).fit(X)
    b = MiniBatchKMeans(4, batch_size=100, random_state=0, device=cpu).fit(X)
    _same_fit(a, b)
    sa = MiniBatchKMeans(4, random_state=1, device=py)
    sb = MiniBatchKMeans(4, random_state=1, device=cpu)
    for start in range(0, 1203, 401):
        sa.partial_fit(X[start : start + 401])
        sb.partial_fit(X[start : start + 401])
    np.testing.assert_allclose(sa.cluster_centers_, sb.cluster_centers_, rtol=1e-6, atol=1e-6)


def test_fit_steps(py, cpu):
    X = _blobs(300, 3, 7)
    a = list(KMeans(3, random_state=0, device=py, history=2).fit_steps(X))
    b = list(KMeans(3, random_state=0, device=cpu, history=2).fit_steps(X))
    assert len(a) == len(b)
    for s, t in zip(a, b, strict=True):
        np.testing.assert_array_equal(s.labels, t.labels)
        np.testing.assert_allclose(s.centers, t.centers, rtol=1e-6, atol=1e-6)


def test_silhouette_equal_cpu_backend(py, cpu):
    X, y = make_dataset("blobs", 301, centers=4, random_state=0)
    y[0] = 9  # a singleton cluster (coefficient 0)
    np.testing.assert_allclose(silhouette_samples(X, y, device=py), silhouette_samples(X, y, device=cpu), atol=1e-5)
    assert abs(silhouette_score(X, y, device=py) - silhouette_score(X, y, device=cpu)) < 1e-6


# Runs with numpy unimportable and GPUML_BACKEND=python: KMeans (fit, predict on a Tensor, transform, score),
# MiniBatchKMeans, silhouette and the web page's k-means loop (KMeansRun, stepped synchronously on a host engine);
# prints the results as JSON.
NO_NUMPY = r"""
import json, sys
sys.modules["numpy"] = None  # any "import numpy" now raises ImportError
import gpuml
from gpuml.cluster import KMeans, KMeansRun, MiniBatchKMeans, silhouette_score

rows, k, seed, init = json.load(sys.stdin)
device = gpuml.get_device()
assert device.pure, device
km = KMeans(k, init=init or "k-means++", random_state=seed).fit(rows)
out = {
    "labels": km.labels_, "centers": km.cluster_centers_, "inertia": km.inertia_, "n_iter": km.n_iter_,
    "predict": km.predict(gpuml.tensor(rows[::5], device=device)), "transform": km.transform(rows[:4]),
    "score": km.score(rows), "silhouette": silhouette_score(rows, km.labels_),
    "minibatch": MiniBatchKMeans(k, batch_size=64, random_state=seed).fit(rows).labels_,
}
# the page's loop: KMeansRun stepped until it converges; a host engine runs each step synchronously
run = KMeansRun(rows, k, random_state=seed, max_iter=100)
while not run.converged:
    assert run.record_step() is None
inertia = run.assign()
out["page"] = {"labels": [int(v) for v in run.labels()], "inertia": inertia, "n_iter": run.n_iter}
assert sys.modules["numpy"] is None
json.dump(out, sys.stdout)
"""


@pytest.mark.parametrize(("n", "k", "d", "seed", "empty"), [(*c, False) for c in CASES] + [(601, 4, 2, 3, True)])
def test_without_numpy_in_subprocess(cpu, n, k, d, seed, empty):
    X = _blobs(n, k, seed, d)
    init = np.vstack([X[:3], [[1e3, 1e3]]]) if empty else None  # an empty cluster in the first iteration
    env = {**os.environ, "GPUML_BACKEND": "python", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", NO_NUMPY],
        input=json.dumps([X.tolist(), k, seed, None if init is None else init.tolist()]),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    ref = KMeans(k, init="k-means++" if init is None else init, random_state=seed, device=cpu).fit(X)
    assert got["labels"] == ref.labels_.tolist()
    assert got["n_iter"] == ref.n_iter_
    assert abs(got["inertia"] / ref.inertia_ - 1) < 1e-6
    np.testing.assert_allclose(got["centers"], ref.cluster_centers_, rtol=1e-6, atol=1e-6)
    assert got["predict"] == ref.predict(X[::5]).tolist()
    np.testing.assert_allclose(got["transform"], ref.transform(X[:4]), rtol=1e-5, atol=1e-5)
    assert abs(got["score"] / ref.score(X) - 1) < 1e-6
    assert abs(got["silhouette"] - silhouette_score(X, ref.labels_, device=cpu)) < 1e-5
    mb = MiniBatchKMeans(k, batch_size=64, random_state=seed, device=cpu).fit(X)
    assert got["minibatch"] == mb.labels_.tolist()
    page = KMeans(k, random_state=seed, max_iter=100, device=cpu).fit(X)
    assert got["page"]["labels"] == page.labels_.tolist() and got["page"]["n_iter"] == page.n_iter_
    assert abs(got["page"]["inertia"] / page.inertia_ - 1) < 1e-6
