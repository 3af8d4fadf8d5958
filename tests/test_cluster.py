"""gpuml.cluster against scikit-learn, on the native (lavapipe) and cpu backends."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from gpuml.cluster import (
    DATASETS,
    KMeans,
    MiniBatchKMeans,
    NotFittedError,
    elbow,
    knee,
    make_dataset,
    silhouette_samples,
    silhouette_score,
)
from gpuml.cluster._data import as_host
from gpuml.cluster.kmeans import make_engine
from gpuml.impl.webgpu import kmeans as webgpu_kmeans

sk_cluster = pytest.importorskip("sklearn.cluster")
sk_metrics = pytest.importorskip("sklearn.metrics")


def _blobs(n=1003, k=5, seed=1, d=2):
    return make_dataset("blobs", n, centers=k, random_state=seed, n_features=d)[0]


@pytest.mark.parametrize("d", [2, 5, 16])
def test_same_init_matches_sklearn_lloyd(any_device, d):
    device = any_device
    X = _blobs(d=d)
    init = X[np.random.default_rng(0).choice(len(X), 5, replace=False)]
    ours = KMeans(5, init=init, device=device).fit(X)
    ref = sk_cluster.KMeans(5, init=init, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 1e-5
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_kmeanspp_n_init_10_within_1_percent(device):
    X = _blobs(2000, k=6, seed=3)
    ours = KMeans(6, n_init=10, random_state=0, device=device).fit(X)
    ref = sk_cluster.KMeans(6, n_init=10, random_state=0).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.01


def test_random_init_and_predict_transform_score(device):
    X = _blobs(500, k=3, seed=2)
    km = KMeans(3, init="random", random_state=1, device=device).fit(X)
    assert km.fit_predict(X).shape == (500,)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    dist = km.transform(X)
    ref = np.sqrt(((X[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1))
    np.testing.assert_allclose(dist, ref, rtol=1e-4, atol=1e-4)
    assert abs(-km.score(X) / km.inertia_ - 1) < 1e-5


def test_cpu_twin_matches_native_for_same_seed(native_device, cpu_device):
    X = _blobs(1500, k=7, seed=4, d=3)
    a = KMeans(7, random_state=42, device=native_device).fit(X)
    b = KMeans(7, random_state=42, device=cpu_device).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_empty_cluster_is_reseeded_like_sklearn(device):
    X = _blobs(600, k=4, seed=3)
    init = np.vstack([X[:3], [[1e3, 1e3]]])  # the far center gets no points in the first iteration
    ours = KMeans(4, init=init, device=device).fit(X)
    ref = sk_cluster.KMeans(4, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 1e-5


def test_chunked_data_equals_one_binding(native_device):
    X = _blobs(2500, k=4, seed=5)
    whole = KMeans(4, random_state=0, device=native_device).fit(X)
    chunked = KMeans(4, random_state=0, device=native_device)
    chunked._chunk_rows = 700  # as if max_storage_buffer_binding_size held 700 rows
    chunked.fit(X)
    np.testing.assert_array_equal(whole.labels_, chunked.labels_)
    assert abs(whole.inertia_ / chunked.inertia_ - 1) < 1e-6


def test_portable_kernel_without_subgroups(native_device, monkeypatch):
    X = _blobs(3001, k=6, seed=6, d=7)
    init = X[:6]
    # as on an adapter without subgroups
    monkeypatch.setattr(native_device, "caps", dataclasses.replace(native_device.caps, subgroup_size=0))
    assert make_engine(native_device, as_host(X), 6).kind == "portable"
    ours = KMeans(6, init=init, device=native_device).fit(X)
    ref = sk_cluster.KMeans(6, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 1e-5


@pytest.mark.parametrize(("n", "k", "d"), [(5003, 64, 16), (2001, 40, 7), (999, 3, 1)])
def test_tile_kernel_matches_sklearn(native_device, n, k, d):
    """assign_tile.wgsl (the CPU-adapter kernel) at the benchmark's k = 64, d = 16 and with padded clusters/columns."""
    X = _blobs(n, k=k, seed=9, d=d)
    init = X[np.random.default_rng(1).choice(n, k, replace=False)]
    ours = KMeans(k, init=init, max_iter=20, device=native_device).fit(X)
    if native_device.caps.subgroup_size in (4, 8):
        assert make_engine(native_device, as_host(X), k).kind == "tile"
    ref = sk_cluster.KMeans(k, init=init, n_init=1, max_iter=20, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 1e-5
    assert ours.n_iter_ == ref.n_iter_


def test_subgroup_kernel_fallback(native_device, monkeypatch):
    """assign_subgroup.wgsl: the subgroup kernel for centers too many for assign_tile.wgsl's registers."""
    X = _blobs(3001, k=6, seed=6, d=7)
    init = X[:6]
    monkeypatch.setattr(webgpu_kmeans, "TILE_MAX_C4D4", 0)
    if native_device.caps.subgroup_size:
        assert make_engine(native_device, as_host(X), 6).kind == "subgroup"
    ours = KMeans(6, init=init, device=native_device).fit(X)
    ref = sk_cluster.KMeans(6, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ / ref.inertia_ - 1) < 1e-5


def test_fit_steps_and_history(device):
    X = _blobs(400, k=3, seed=7)
    km = KMeans(3, random_state=0, device=device, history=2)
    steps = list(km.fit_steps(X))
    assert len(steps) == km.n_iter_ and steps[-1].n_iter == km.n_iter_
    assert steps[0].labels.shape == (400,) and steps[0].centers.shape == (3, 2)
    assert all(a.inertia >= b.inertia - 1e-3 for a, b in itertools.pairwise(steps))
    assert len(km.history_) == min(2, km.n_iter_)


def test_silhouette_matches_sklearn(device):
    X, y = make_dataset("blobs", 1500, centers=4, random_state=0)
    assert abs(silhouette_score(X, y, device=device) - sk_metrics.silhouette_score(X, y)) < 1e-4
    np.testing.assert_allclose(silhouette_samples(X, y, device=device), sk_metrics.silhouette_samples(X, y), atol=1e-5)
    labels = KMeans(7, random_state=0, device=device).fit(X).labels_
    assert abs(silhouette_score(X, labels, device=device) - sk_metrics.silhouette_score(X, labels)) < 1e-4


def test_elbow_finds_blob_count(device):
    X = make_dataset("blobs", 800, centers=4, random_state=3)[0]
    result = elbow(X, range(2, 9), silhouette=True, device=device)
    assert result["suggested_k"] == 4 and len(result["inertia"]) == 7 and len(result["silhouette"]) == 7
    assert knee([1, 2, 3, 4], [100.0, 20.0, 15.0, 12.0]) == {"kneedle": 2, "second_difference": 2}


def test_minibatch(device):
    X = _blobs(3000, k=4, seed=8)
    mb = MiniBatchKMeans(4, batch_size=256, random_state=0, device=device).fit(X)
    ref = sk_cluster.KMeans(4, n_init=10, random_state=0).fit(X)
    assert mb.inertia_ <= ref.inertia_ * 1.05
    stream = MiniBatchKMeans(4, random_state=0, device=device)
    for start in range(0, 3000, 500):
        stream.partial_fit(X[start : start + 500])
    assert stream.cluster_centers_.shape == (4, 2)


@pytest.mark.parametrize("name", DATASETS)
def test_datasets_are_seeded(name):
    a, _ = make_dataset(name, 100, random_state=3)
    b, _ = make_dataset(name, 100, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100, 2)


def test_input_validation(cpu_device):
    km = KMeans(3, device=cpu_device)
    with pytest.raises(ValueError, match="2-D"):
        km.fit(np.arange(10.0))
    with pytest.raises(ValueError, match="NaN or infinity"):
        km.fit(np.array([[0.0, np.nan]] * 5))
    with pytest.raises(ValueError, match="should be >= n_clusters"):
        km.fit(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="numbers"):
        km.fit(np.array([["a", "b"]] * 4))
    with pytest.raises(ValueError, match="n_clusters"):
        KMeans(0).fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="algorithm"):
        KMeans(2, algorithm="elkan").fit(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="init array has shape"):
        KMeans(2, init=np.zeros((3, 2))).fit(np.random.rand(5, 2))
    with pytest.raises(NotFittedError):
        KMeans(2).predict(np.zeros((3, 2)))
    fitted = KMeans(2, random_state=0, device=cpu_device).fit(np.random.rand(10, 3))
    with pytest.raises(ValueError, match="3 features"):
        fitted.predict(np.zeros((2, 4)))


# --- the assignment variant table (gpuml/impl/webgpu/kmeans.py KMEANS_ASSIGN) -------------------------------------
def _kind_before_the_table(sg: int, k: int, d4: int, wg_bytes: int) -> str:
    """The engine's choice before KMEANS_ASSIGN (GPUEngine._kind), written out as the reference."""
    if not sg:
        return "portable"
    c4 = -(-k // (4 * sg))
    fits = d4 <= 4 and c4 <= 8 and c4 * d4 <= 16
    if sg in (4, 8) and fits and 16 * k * d4 <= wg_bytes:
        return "tile"
    return "subgroup"


def test_assign_static_order_reproduces_the_previous_choice():
    from gpuml.backends.variants import DeviceCaps

    table = webgpu_kmeans.KMEANS_ASSIGN
    checked = 0
    for sg, software, wg_bytes in itertools.product((0, 4, 8, 16, 32, 64), (True, False), (4096, 16384, 32768)):
        caps = DeviceCaps("native", software, sg, False, False, max_workgroup_storage=wg_bytes)
        for k, d in itertools.product((1, 2, 3, 7, 8, 16, 31, 32, 33, 64, 65, 100, 128, 256, 300, 1024), range(1, 40)):
            d4 = -(-d // 4)
            geometry = webgpu_kmeans.AssignShape(1000, k, d4)
            assert table.applicable(caps, geometry)[0].name == _kind_before_the_table(sg, k, d4, wg_bytes), (sg, k, d)
            checked += 1
    assert checked == 6 * 2 * 3 * 16 * 39


@pytest.mark.parametrize(("n", "k", "d"), [(1003, 5, 2), (2001, 40, 7), (999, 3, 1), (1501, 6, 17), (700, 64, 16)])
def test_every_applicable_assign_variant_equals_the_numpy_engine(native_device, cpu_device, n, k, d):
    """Five Lloyd iterations from the same centers with each variant that applies on this adapter: the same labels,
    changed counts and empty clusters as the cpu engine, centers and inertia to float32 rounding."""
    X = _blobs(n, k=k, seed=11, d=d)
    data = as_host(X)
    init = [data.row(i) for i in np.random.default_rng(2).choice(n, k, replace=False)]
    shape = webgpu_kmeans.AssignShape(n, k, -(-d // 4))
    names = [v.name for v in webgpu_kmeans.KMEANS_ASSIGN.applicable(native_device.caps, shape)]
    assert "portable" in names
    ref = make_engine(cpu_device, data, k)
    ref.set_centers(init)
    ref_steps = [(ref.iterate(), ref.labels().copy(), np.asarray(ref.get_centers())) for _ in range(5)]
    for name in names:
        engine = webgpu_kmeans.GPUEngine(native_device, data, k, kernel=name)
        assert engine.kind == name
        engine.set_centers(init)
        for it, (stats, labels, centers) in enumerate(ref_steps):
            got = engine.iterate()
            np.testing.assert_array_equal(engine.labels(), labels, err_msg=f"{name}, iteration {it}")
            assert got[2:] == stats[2:], (name, it)
            assert abs(got[1] / stats[1] - 1) < 1e-5, (name, it)
            np.testing.assert_allclose(engine.get_centers(), centers, rtol=1e-5, atol=1e-5)
        inertia, dist = engine.assign(dists=True)
        assert abs(inertia / float(dist.astype(np.float64).sum()) - 1) < 1e-5


def test_forced_assign_variant(native_device, monkeypatch):
    """GPUML_KMEANS forces a variant; one that cannot run on the adapter is a clear error, not a wrong kernel."""
    X = _blobs(500, k=4, seed=3, d=3)
    monkeypatch.setenv("GPUML_KMEANS", "portable")
    assert make_engine(native_device, as_host(X), 4).kind == "portable"
    monkeypatch.setattr(native_device, "caps", dataclasses.replace(native_device.caps, subgroup_size=0))
    monkeypatch.setenv("GPUML_KMEANS", "tile")
    with pytest.raises(ValueError, match="k-means kernel 'tile' does not apply to 4 clusters of 3 features"):
        make_engine(native_device, as_host(X), 4)
    monkeypatch.setenv("GPUML_KMEANS", "fast")
    with pytest.raises(ValueError, match="GPUML_KMEANS='fast': choose one of tile, subgroup, portable"):
        make_engine(native_device, as_host(X), 4)


def test_assign_variant_is_measured_with_tuning_on(native_device, tmp_path, monkeypatch):
    """GPUML_TUNE=1: the first engine of a shape class times the applicable variants and remembers the winner for
    this adapter; the fit is sklearn's whichever wins."""
    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.setenv("GPUML_TUNE_AFTER", "1")  # tune on the first use
    monkeypatch.setattr(native_device.tune_cache, "path", tmp_path / "tune.json")
    native_device.tune_cache.clear()
    X = _blobs(1003, k=5, seed=1, d=3)
    init = X[np.random.default_rng(0).choice(len(X), 5, replace=False)]
    try:
        engine = make_engine(native_device, as_host(X), 5)
        key = ("kmeans_assign", 1024, 8, 1)
        shape = webgpu_kmeans.AssignShape(1003, 5, 1)
        applicable = [v.name for v in webgpu_kmeans.KMEANS_ASSIGN.applicable(native_device.caps, shape)]
        if len(applicable) > 1:
            assert native_device.tune_cache.choices[key] == engine.kind in applicable
        ours = KMeans(5, init=init, device=native_device).fit(X)
        ref = sk_cluster.KMeans(5, init=init, n_init=1, algorithm="lloyd").fit(X)
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        assert ours.n_iter_ == ref.n_iter_
    finally:
        native_device.tune_cache.clear()


def test_values_that_overflow_float32_distances_are_refused(any_device):
    """±1e20 (issue 19): squared distances overflow float32; a clear ValueError instead of inf inertia and
    arbitrary labels (it used to be an IndexError from inside the code)."""
    from gpuml.cluster import KMeans

    X = np.random.default_rng(0).random((60, 2))
    X[:30] *= 1e20
    with pytest.raises(ValueError, match=r"overflow beyond .* for 2 features: rescale"):
        KMeans(3, random_state=0, device=any_device).fit(X if any_device.name != "python" else X.tolist())
    ok = KMeans(3, random_state=0, device=any_device).fit(np.random.default_rng(0).random((60, 2)) * 1e15)
    assert np.isfinite(ok.inertia_)
