"""k-means on the device: k-means++ and Lloyd with scikit-learn's estimator API, the elbow and silhouette,
labels compared with scikit-learn's KMeans, and a plot of the clusters (kmeans.png).

    python demos/kmeans.py [--out DIR]    (default: $DEMO_OUT or the temp folder)
"""

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import sklearn.cluster
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import gpuml
from gpuml.cluster import KMeans, elbow

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default=os.environ.get("DEMO_OUT", tempfile.gettempdir()), help="folder for the PNG")
out = Path(parser.parse_args().out)
plt.switch_backend("Agg")  # headless: PNG only
print(f"device: {gpuml.get_device()}")

X, y_true = make_blobs(1500, centers=[[-6, -2], [0, 6], [6, -2], [0, 0]], random_state=0)
km = KMeans(n_clusters=4, init="k-means++", random_state=0).fit(X)  # fit / predict / transform / score
print(f"gpuml KMeans: inertia {km.inertia_:.2f} after {km.n_iter_} iterations")
print(f"  centers:\n{km.cluster_centers_.round(3)}")
assert (km.predict(X) == km.labels_).all() and km.transform(X[:5]).shape == (5, 4)

sk = sklearn.cluster.KMeans(n_clusters=4, init="k-means++", n_init=1, random_state=0).fit(X)
ari = adjusted_rand_score(sk.labels_, km.labels_)  # 1.0: the same partition, whatever the label numbers
print(f"scikit-learn KMeans: inertia {sk.inertia_:.2f}; adjusted Rand index vs gpuml {ari:.4f}")
print(f"adjusted Rand index vs the generating blobs: {adjusted_rand_score(y_true, km.labels_):.4f}")

curve = elbow(X, range(1, 9), silhouette=True, random_state=0)
for k, inertia, sil in zip(curve["k"], curve["inertia"], curve["silhouette"], strict=True):
    print(f"  k={k}: inertia {inertia:10.1f}  silhouette {sil:.3f}")
best_sil = curve["k"][max(range(1, 8), key=lambda i: curve["silhouette"][i])]
print(f"elbow (kneedle) suggests k={curve['suggested_k']}, best silhouette at k={best_sil}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5))
ax0.scatter(X[:, 0], X[:, 1], c=km.labels_, s=4, cmap="tab10")
ax0.scatter(*km.cluster_centers_.T, c="black", marker="x", s=90)
ax0.set_title(f"gpuml KMeans, k=4 (ARI vs scikit-learn {ari:.3f})")
ax1.plot(curve["k"], curve["inertia"], "o-", label="inertia")
ax1.axvline(curve["suggested_k"], color="red", linestyle="--", label=f"elbow: k={curve['suggested_k']}")
ax1.set(xlabel="k", ylabel="inertia", title="elbow and silhouette")
ax2 = ax1.twinx()
ax2.plot(curve["k"][1:], curve["silhouette"][1:], "s-", color="C2", label="silhouette")
ax2.set_ylabel("silhouette")
fig.legend(loc="upper right", bbox_to_anchor=(0.9, 0.88))
fig.tight_layout()
fig.savefig(out / "kmeans.png", dpi=90)
print(f"wrote {out / 'kmeans.png'}")

assert ari > 0.99, ari
assert abs(km.inertia_ - sk.inertia_) < 1e-4 * sk.inertia_, (km.inertia_, sk.inertia_)
assert curve["suggested_k"] == 4 and best_sil == 4
print("ok")
