"""The small representative workload of each op family that ``auto`` times on a software adapter and on numpy
(gpuml.backends.auto). Each ``setup(device)`` builds its inputs on that device and returns ``run()``, one unit of
work that ends in a read, as users' code does. Sizes are the README's: LeNet-5 on MNIST at batch 64, k-means on
20,000 3-D points, an augmentation pipeline on a batch of small colour images, Grad-CAM of one digit.

Registered when gpuml is imported (cheap: the libraries are imported only when a workload is set up).
"""

from __future__ import annotations

from .backends.auto import register_workload

LENET_BATCH = 64
TRAIN_STEPS = 4  # steps per timed unit: the Trainer reads the loss only every 50 steps


def _lenet(device):
    from .nn import from_spec

    return from_spec("lenet5", (1, 28, 28), device, seed=0)


def _digits(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n).astype(np.int32)


def train(device):
    from . import ops
    from .nn.functional import softmax_cross_entropy
    from .optim import AdamW
    from .tensor import tensor

    model = _lenet(device)
    opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    images, labels = _digits(LENET_BATCH)

    def run():
        total = None
        for _ in range(TRAIN_STEPS):  # the batch is uploaded every step, as the Trainer does
            x, y = tensor(images, device=device), tensor(labels, device=device)
            row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
            model.backward(grad)
            opt.step()
            s = ops.sum(row_loss)
            total = s if total is None else ops.add(total, s)
        return total.numpy()

    return run


def predict(device):
    from .tensor import tensor

    model = _lenet(device).eval()
    images, _ = _digits(LENET_BATCH, seed=1)
    return lambda: model.forward(tensor(images, device=device)).numpy()


def kmeans(device):
    import numpy as np

    from .cluster import KMeans

    X = np.random.default_rng(2).standard_normal((20_000, 3)).astype(np.float32)
    X[::2] += 4.0
    est = KMeans(n_clusters=8, n_init=1, max_iter=10, tol=0.0, random_state=0, device=device)
    return lambda: est.fit(X).inertia_


def augment(device):
    import numpy as np

    from . import augment as A
    from .tensor import tensor

    images = np.random.default_rng(3).random((16, 3, 64, 64), dtype=np.float32)
    pipe = A.Compose([A.RandomResizedCrop(56, scale=(0.5, 1.0)), A.HorizontalFlip(), A.Rotate(10), A.Brightness(0.2)])
    state = {"seed": 0}

    def run():
        state["seed"] += 1  # new draws each run, as a training loop makes
        return pipe(tensor(images, device=device), seed=state["seed"]).numpy()

    return run


def explain(device):
    from .explain import grad_cam

    model = _lenet(device).eval()
    images, _ = _digits(1, seed=4)
    return lambda: grad_cam(model, images)


register_workload("train", train, f"{TRAIN_STEPS} LeNet-5 training steps (batch {LENET_BATCH})")
register_workload("predict", predict, f"LeNet-5 forward (batch {LENET_BATCH})")
register_workload("kmeans", kmeans, "KMeans.fit (20,000 x 3, k=8, 10 iterations)")
register_workload("augment", augment, "augmentation of 16 3x64x64 images (crop, flip, rotate, brightness)")
register_workload("explain", explain, "Grad-CAM of one 28x28 digit (LeNet-5)")
