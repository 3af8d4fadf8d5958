"""gpuml.cluster.KMeans inside Pyodide (no numpy) on navigator.gpu, against native gpuml for the same seed.

Also records the time of one Lloyd iteration on 1,000 x 2 points, k = 10 (a benchmark figure, not asserted)."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from gpuml.backends import open_device
from gpuml.cluster import KMeans, make_dataset, silhouette_score


def test_kmeans_fit_matches_native(browser):
    X, _ = make_dataset("blobs", 300, centers=4, random_state=2)
    rows = np.round(X, 4).tolist()  # exact decimal rows: both sides start from the same float64 values
    out = browser.run(
        textwrap.dedent(
            """
            import json, sys, gpuml
            from gpuml.cluster import KMeans, silhouette_score
            rows = json.loads(INPUT)
            km = KMeans(4, random_state=7).fit(rows)
            import time
            from gpuml.cluster._data import as_host
            from gpuml.cluster.kmeans import make_engine
            big = [[(i * 7919 % 1000) / 100.0, (i * 104729 % 997) / 100.0] for i in range(1000)]
            eng = make_engine(gpuml.get_device(), as_host(big), 10)
            eng.set_centers([as_host(big).row(i) for i in range(10)])
            eng.iterate()
            t0 = time.perf_counter()
            for _ in range(10):
                eng.iterate()
            ms_per_iter = (time.perf_counter() - t0) * 100
            json.dumps({"ms_per_iter_1000x2_k10": ms_per_iter, "labels": km.labels_,
                        "centers": km.cluster_centers_, "inertia": km.inertia_,
                        "n_iter": km.n_iter_, "numpy": "numpy" in sys.modules,
                        "silhouette": silhouette_score(rows, km.labels_)})
            """
        ),
        json.dumps(rows),
        timeout_s=120,
    )
    assert not out["numpy"]
    browser.timings["kmeans_1000x2_k10_ms_per_iter"] = out["ms_per_iter_1000x2_k10"]
    try:
        native = open_device("native")
    except RuntimeError as exc:
        pytest.skip(f"no native adapter to compare with: {exc}")
    ref = KMeans(4, random_state=7, device=native).fit(np.array(rows))
    np.testing.assert_array_equal(np.array(out["labels"]), ref.labels_)
    np.testing.assert_allclose(np.array(out["centers"]), ref.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert abs(out["inertia"] / ref.inertia_ - 1) < 1e-5
    assert out["n_iter"] == ref.n_iter_
    assert abs(out["silhouette"] - silhouette_score(np.array(rows), ref.labels_, device=native)) < 1e-5
