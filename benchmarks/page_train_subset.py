# Picks the page training default: TrainModel on gpuml's numpy backend ("cpu") with the site's MNIST subsets
# (same permutations as gpuml.webbuild._mnist_subset). Usage: page_train_subset.py N_TRAIN BATCH LR EPOCHS
import sys
import time

import numpy as np

import gpuml
from gpuml import ops
from gpuml.datasets import mnist
from gpuml.playground.training import TrainModel, device_batches

dev = gpuml.device("cpu")
N, batch, lr, epochs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])


def sub(split, n, seed):
    d = mnist(split)
    idx = np.random.default_rng(seed).permutation(len(d.labels))[:n]
    im = np.rint(d.images[idx, 0] * 255).astype(np.uint8)
    return im, d.labels[idx].astype(np.uint8)


xi, yi = sub("train", N, 0)
xt, yt = sub("test", 512, 1)
x = ops.mul(gpuml.tensor(xi.astype(np.float32), device=dev), 1 / 255).reshape(N, 1, 28, 28)
y = gpuml.tensor(yi.astype(np.int32), device=dev)
xtt = ops.mul(gpuml.tensor(xt.astype(np.float32), device=dev), 1 / 255).reshape(512, 1, 28, 28)
ytt = gpuml.tensor(yt.astype(np.int32), device=dev)
b, per = device_batches(x, y, batch)
# epochs=: as the page, the learning rate is cosine-annealed over the run
m = TrainModel(b, per, (xtt, ytt), batch=batch, lr=lr, eval_every=None, device=dev, epochs=epochs)
t = time.time()
while m.steps < per * epochs:
    m.train_steps(1)
print(
    N,
    batch,
    lr,
    epochs,
    "steps",
    m.steps,
    "test",
    [round(a, 4) for a in m.test_accs],
    f"{time.time() - t:.0f}s",
    flush=True,
)
