"""The demo models of gpuml.playground, without any window: controls and their validation, and each model's
step() changing its state as expected (k-means against scikit-learn, the digit pad classifying known digits,
augmentation, training, optimizers, regularization)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from gpuml.playground import MODELS, model_class
from gpuml.playground.controls import button, choice, slider
from gpuml.playground.mnist import ink_to_mnist, upsample_map

# --- controls -----------------------------------------------------------------------------------------------------


def test_control_validation_is_one_line_naming_control_and_range():
    k = slider("k", 4, 2, 10, integer=True)
    assert k.validate(7) == 7 and k.validate(7.0) == 7
    for bad, got in ((11, "11"), (1, "1"), (2.5, "2.5"), (True, "True"), ("3", "'3'"), (math.nan, "nan")):
        with pytest.raises(ValueError) as err:
            k.validate(bad)
        assert str(err.value) == f"control 'k' takes an integer in [2, 10], got {got}"
    lr = slider("lr_scale", 0.0, -2.0, 1.5)
    with pytest.raises(ValueError, match=r"^control 'lr_scale' takes a number in \[-2, 1.5\], got 1.75$"):
        lr.validate(1.75)
    ds = choice("dataset", "blobs", ("blobs", "moons"))
    with pytest.raises(ValueError, match=r"^control 'dataset' takes one of 'blobs', 'moons', got 'rings'$"):
        ds.validate("rings")
    with pytest.raises(ValueError, match=r"^control 'reset' is a button: press it, it takes no value$"):
        button("reset").validate(1)


def test_every_model_declares_its_controls():
    assert set(MODELS) == {"digits", "kmeans", "augment", "train", "regularization", "optimizers"}
    for name in MODELS:
        cls = model_class(name)
        assert cls.name == name and cls.controls, name
        for c in cls.controls:
            spec = c.as_dict()
            assert spec["kind"] in ("slider", "choice", "button"), spec
            if c.kind != "button":
                assert c.validate(c.default) == c.default, spec  # defaults are valid
    with pytest.raises(ValueError, match="unknown demo 'nope'"):
        model_class("nope")


# --- k-means ---------------------------------------------------------------------------------------------------------


def _blobs():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(600, centers=4, cluster_std=1.2, random_state=3)
    return X


def test_kmeans_model_steps_like_sklearn(device):
    from sklearn.cluster import KMeans as SKMeans

    from gpuml.cluster import KMeans
    from gpuml.playground.kmeans import KMeansModel

    X = _blobs()
    m = KMeansModel(X=X, k=4, seed=5, dataset="blobs", reveal=True, panels=False, device=device)
    assert m.revealed == 1 and m.n_iter == 0
    for _ in range(3):  # reveals the k-means++ centroids one per step, no iteration yet
        m.step()
    assert m.revealed == 4 and m.n_iter == 0
    while not m.converged:
        m.step()
    inertia = m.inertia_history
    assert len(inertia) == m.n_iter >= 2
    assert all(b <= a * (1 + 1e-6) for a, b in itertools.pairwise(inertia)), inertia
    init = np.asarray(m.run.init_centers, np.float64) + np.asarray(m.run.mean)
    ref = SKMeans(4, init=init, n_init=1, random_state=0).fit(X)
    m.run.assign()
    np.testing.assert_array_equal(np.asarray(m.labels()), ref.labels_)
    np.testing.assert_allclose(m.run.cluster_centers(), ref.cluster_centers_, rtol=1e-5, atol=1e-5)
    # the same run as KMeans.fit with that seed (the web page's promise)
    fit = KMeans(4, random_state=5, n_init=1, device=device).fit(X)  # the first run's seed is the model's
    np.testing.assert_array_equal(np.asarray(m.labels()), fit.labels_)
    assert m.state()["iterations"] == m.n_iter


def test_kmeans_model_controls(device):
    from gpuml.playground.kmeans import KMeansModel

    m = KMeansModel(X=_blobs(), k=3, seed=0, panels=False, device=device)
    m.press("step")
    assert m.get("playing") is False and m.revealed == 2
    m.set("k", 5)
    assert m.k == 5 and m.revealed == 1 and m.run.k == 5
    with pytest.raises(ValueError, match=r"^control 'k' takes an integer in \[2, 15\], got 16$"):
        m.set("k", 16)
    assert m.k == 5
    m.nudge("speed", True)
    assert m.get("speed") == 30
    with pytest.raises(ValueError, match="kmeans has no control 'points'"):
        m.set("points", 3)
    m.set("playing", True)
    m.advance(10.0)  # 10 s at 30 steps/s, at most steps_per_frame (1) per advance
    assert m.revealed == 2


def test_kmeans_model_panels(device):
    from gpuml.playground.kmeans import KMeansModel

    m = KMeansModel(X=_blobs(), k=4, seed=0, playing=False, device=device)
    for _ in range(10):
        m.advance(0.0)
    ks, inertia = m.view()["elbow"]
    assert ks == list(range(1, 11)) and m.view()["panels_done"]
    assert all(b <= a for a, b in itertools.pairwise(inertia[:4]))  # the elbow falls to k = 4
    sil = dict(m.view()["silhouette"])
    assert max(sil, key=sil.get) == 4 == m.view()["suggested_k"]


def test_kmeans_model_seeding_weights(device):
    """Seeding reveals one centre per step; the D^2 weights are each point's squared distance to the nearest
    revealed centre (numpy reference), zero at the chosen centres, and shrink as centres are added."""
    from gpuml.playground.kmeans import KMeansModel

    X = _blobs()
    m = KMeansModel(X=X, k=5, seed=2, panels=False, playing=False, device=device)
    pts = np.asarray(m.run.points(), np.float64).reshape(m.n, -1)[:, :2]
    previous = None
    for revealed in range(1, 5):
        assert m.revealed == revealed and m.seeding and m.n_iter == 0
        c = np.asarray(m.run.init_centers[:revealed], np.float64)[:, :2]
        want = ((pts[:, None] - c[None]) ** 2).sum(-1).min(1)
        np.testing.assert_allclose(np.asarray(m.d2, np.float64), want, rtol=1e-5, atol=1e-6)
        levels = m.seed_levels(256)
        assert max(levels) == 255 and min(levels) == 0
        if previous is not None:
            assert (want <= previous + 1e-9).all() and want.sum() < previous.sum()
        previous = want
        m.step()
    assert m.revealed == 5 and not m.seeding and m.d2 is None and m.n_iter == 0
    m.step()
    assert m.n_iter == 1


def test_kmeans_model_range_and_cli_agree():
    """The k slider's range is the CLI's --k range; a bad k or dataset is a one-line error."""
    from gpuml.cli import build_parser
    from gpuml.playground.kmeans import K_MAX, K_MIN, KMeansModel

    assert (KMeansModel.controls[1].lo, KMeansModel.controls[1].hi) == (K_MIN, K_MAX) == (2, 15)
    parser = build_parser()
    assert parser.parse_args(["demo", "kmeans", "--k", "15"]).k == 15
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "kmeans", "--k", "16"])
    with pytest.raises(ValueError, match=r"^control 'dataset' takes one of .*got 'nope'$"):
        KMeansModel(dataset="nope", loader=lambda *a: [[0.0, 0.0]] * 20)


def test_kmeans_seed_is_checked_in_words(device):
    """The seed (the page's box, the native --seed): nothing or letters are refused in one line, not run as 0; a
    whole number >= 0, typed or given, runs; the native demo checks it before its window opens."""
    from gpuml.demos.kmeans import KMeansDemo
    from gpuml.playground.kmeans import SEED_MAX, KMeansModel, check_seed

    for value, shown in (("", "nothing"), ("  ", "nothing"), (None, "nothing"), ("abc", "'abc'"), ("4.5", "'4.5'"),
                         (-1, "-1"), ("-3", "-3"), (2.5, "2.5"), (True, "True"), (float("nan"), "nan")):  # fmt: skip
        with pytest.raises(ValueError) as err:
            check_seed(value)
        assert str(err.value) == f"seed must be a whole number ≥ 0, got {shown}", (value, str(err.value))
    with pytest.raises(ValueError, match=rf"^seed must be at most {SEED_MAX}, got {SEED_MAX + 1}$"):
        check_seed(str(SEED_MAX + 1))
    assert [check_seed(v) for v in ("0", " 7 ", 3, 3.0, SEED_MAX)] == [0, 7, 3, 3, SEED_MAX]
    rows = [[float(i % 7), float(i // 7)] for i in range(40)]
    with pytest.raises(ValueError, match=r"^seed must be a whole number ≥ 0, got 'abc'$"):
        KMeansModel(X=rows, k=3, seed="abc", dataset="page", panels=False, device=device)
    assert KMeansModel(X=rows, k=3, seed="5", dataset="page", panels=False, device=device).seed == 5
    with pytest.raises(ValueError, match=r"^seed must be at most "):
        KMeansDemo.check_options({"seed": SEED_MAX + 1})
    KMeansDemo.check_options({"seed": 0})


# --- digits ----------------------------------------------------------------------------------------------------------


def test_ink_to_mnist_centres_a_20px_box():
    size = 112
    ink = [0.0] * size * size
    for y in range(10, 50):  # a 40 x 20 bar: scaled to 20 x 10, centred by mass
        for x in range(70, 90):
            ink[y * size + x] = 1.0
    out = np.asarray(ink_to_mnist(ink, size)).reshape(28, 28)
    rows, cols = np.nonzero(out > 0.5)
    # mass centre (9.5, 4.5) -> top round(4.5) = 4, left round(9.5) = 10 (round half to even)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 23, 10, 19)
    assert out.sum() == pytest.approx(200.0)
    assert ink_to_mnist([0.0] * size * size, size) is None


def test_upsample_map_pixel_centres():
    out = upsample_map([0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4)
    assert out[:4] == pytest.approx([0.0, 1 / 12, 3 / 12, 1 / 3])
    assert max(out) == 1.0


@pytest.fixture(scope="module")
def lenet(native_device):
    from gpuml.demos.digits import default_model_path
    from gpuml.train import load_model

    path = default_model_path()
    if path is None:
        pytest.skip("no shipped model")
    return load_model(path, native_device)[0]


def test_digits_model_classifies_drawn_and_known_digits(lenet):
    from gpuml.datasets import data_dir, mnist
    from gpuml.playground.digits import PAD, DigitsModel

    m = DigitsModel(lenet, name="lenet5")
    m.step()  # an empty pad: no prediction
    assert m.label is None and m.updates == 1 and m.probs == [0.1] * 10
    m.sample()
    assert m.dirty
    m.step()
    assert m.label == 2 and max(m.probs) > 0.9 and not m.dirty
    assert len(m.activations) == 6 and max(m.cam_image) == pytest.approx(1.0)
    cam = m.cam.numpy()
    s = m.state()
    assert s["prediction"] == 2 and s["strokes"] == 1 and 0.02 < s["ink"] < 0.2
    m.predict(host_maps=False)  # the page's path: class first, then Grad-CAM's own passes, maps left on the device
    assert m.label == 2 and m.activations == [] and len(m.map_layers()) == 2
    np.testing.assert_allclose(m.cam.numpy(), cam, rtol=1e-5, atol=1e-6)
    m.press("clear")
    m.stroke([(PAD * 0.5, PAD * 0.15), (PAD * 0.52, PAD * 0.85)])  # a vertical bar: a 1
    m.step()
    assert m.label == 1
    with pytest.raises(ValueError, match=r"^control 'brush' takes a number in \[4, 24\], got 30$"):
        m.set("brush", 30)
    if (data_dir() / "mnist").exists():
        test = mnist("test")
        for i in range(5):
            label, probs = m.classify(m.image(test.images[i, 0].reshape(-1).tolist()))
            assert label == int(test.labels[i]) and len(probs) == 10


# --- augment, training, optimizers, regularization -------------------------------------------------------------------


def test_augment_model_steps_and_controls(native_device):
    import gpuml
    from gpuml.playground.augment import AugmentModel

    img = np.zeros((28, 28), np.float32)
    img[8:20, 10:18] = 1
    batch = gpuml.tensor(np.repeat(img[None, None], 9, axis=0), device=native_device)
    m = AugmentModel(batch, source="bar")
    assert m.spec() == "rotate 25, translate 3, zoom 0.2, brightness 0.3, noise 0.08"
    m.step()
    v1 = m.variants.numpy()
    assert v1.shape == (9, 1, 28, 28) and not np.allclose(v1[0], v1[1])
    m.press("new")
    m.step()
    assert m.get("seed") == 1 and not np.allclose(m.variants.numpy(), v1)
    m.nudge("cutout_strength", True)  # a strength change switches its transform on
    assert m.get("cutout") and m.get("cutout_strength") == pytest.approx(0.3125)
    assert m.spec().endswith("cutout 9")
    with pytest.raises(ValueError, match=r"^control 'hflip_strength' takes a number in \[0, 1\], got 2$"):
        m.set("hflip_strength", 2)
    m.use_spec("hflip 1")
    m.step()
    np.testing.assert_allclose(m.variants.numpy()[0, 0], img[:, ::-1])


def test_augment_text_spec_holds_the_builder_ranges():
    """The text spec (page and native builder) refuses what the builder's sliders refuse, from the one table of
    ranges (augment_steps.STEPS), in one line naming the step, parameter, value and range; gpuml.augment itself
    (gpuml augment --pipeline, gpuml train --augment) keeps its wider domain."""
    from gpuml.augment import parse_pipeline
    from gpuml.playground.augment_steps import STEPS, edit, spec_to_steps

    cases = {
        "rotate 1e9": "step 1 (rotate): degrees takes a number in [0, 180], got 1e9 (text spec item 'rotate 1e9')",
        "zoom 0.2, translate 17": "step 2 (translate): shift takes a whole number in [0, 16], got 17",
        "translate 3 40": "step 1 (translate): shift takes a whole number in [0, 16], got 40",
        "crop 24 60": "step 1 (crop): size takes a whole number in [4, 48], got 60",
        "elastic 2 0.5": "step 1 (elastic): spacing takes a number in [1, 16], got 0.5",
        "hue 0.6 p=0.5": "step 1 (hue): turns takes a number in [0, 0.5], got 0.6",
        "cutout 8 9": "step 1 (cutout): holes takes a whole number in [1, 8], got 9",
        "affine 200 2 0.1 5": "step 1 (affine): degrees takes a number in [0, 180], got 200",
    }
    for spec, message in cases.items():
        with pytest.raises(ValueError) as err:
            spec_to_steps(spec)
        assert str(err.value).startswith(message) and "\n" not in str(err.value), (spec, str(err.value))
        parse_pipeline(spec)  # the library's own domain is wider: only the demos hold the builder's ranges
    # the builder's own edit refuses the same value in the same words (the table is the same)
    steps = spec_to_steps("rotate 20")
    with pytest.raises(
        ValueError, match=r"^step 1 \(rotate\): degrees takes a number in \[0, 180\], got 1000000000\.0$"
    ):
        edit(steps, "set", 0, 1e9, 0)
    assert STEPS["rotate"][0][0][2:4] == (0, 180)
    # in range: steps with their values; numbers the builder has no slider for keep the item as written
    assert spec_to_steps("rotate 180, crop 24 24")[0]["values"] == [180.0]
    assert spec_to_steps("crop 24 24")[0]["values"] == [24]
    assert spec_to_steps("translate 3 2") == [{"name": "translate", "raw": "translate 3 2"}]
    assert spec_to_steps("affine 10 2 0.1 5") == [{"name": "affine", "raw": "affine 10 2 0.1 5"}]
    # the native switches' spec (sizes scale with the image) is taken as it is: values past a slider stay raw
    assert spec_to_steps("translate 23", strict=False) == [{"name": "translate", "raw": "translate 23"}]


def test_augment_model_refuses_an_out_of_range_spec_and_keeps_its_pipeline(native_device):
    import gpuml
    from gpuml.playground.augment import AugmentModel

    batch = gpuml.tensor(np.zeros((9, 1, 28, 28), np.float32), device=native_device)
    m = AugmentModel(batch, source="zeros")
    m.use_spec("rotate 20")
    with pytest.raises(ValueError, match=r"^step 2 \(rotate\): degrees takes a number in \[0, 180\], got 1e9 "):
        m.use_spec("hflip, rotate 1e9")
    assert m.spec() == "rotate 20" and [s["name"] for s in m.steps] == ["rotate"]  # nothing changed
    m.use_spec("translate 23", strict=False)  # the native switches' own spec on a large image
    assert m.steps == [{"name": "translate", "raw": "translate 23"}]


def test_train_model_learns(native_device):
    import gpuml
    from gpuml.playground.training import TrainModel, device_batches

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256).astype(np.int32)
    x = np.zeros((256, 1, 28, 28), np.float32)
    x[y == 0, :, 4:24, 8:12] = 1  # class 0: a vertical bar, class 1: a horizontal bar
    x[y == 1, :, 12:16, 4:24] = 1
    xt, yt = gpuml.tensor(x, device=native_device), gpuml.tensor(y, device=native_device)
    batches, per_epoch = device_batches(xt, yt, 32)
    m = TrainModel(batches, per_epoch, (xt, yt), batch=32, lr=2e-3, eval_every=None, steps_per_frame=4)
    m.step()
    assert m.steps == 4 and len(m.losses) == 1 and m.test_accs == []
    for _ in range(3):
        m.step()
    assert m.steps == 16 and m.epoch == 1
    assert m.test_steps == [8, 16] and m.test_accs[-1] >= 0.9
    assert m.losses[-1] < m.losses[0] and len(m.filters()) == 6
    m.press("step")
    assert m.steps == 17 and m.get("playing") is False
    m.step()  # paused
    assert m.steps == 17


def test_train_model_stops_when_done_and_validates_settings(native_device):
    import gpuml
    from gpuml.playground.training import TrainModel, device_batches

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 128).astype(np.int32)
    x = np.zeros((128, 1, 28, 28), np.float32)
    x[y == 0, :, 4:24, 8:12] = 1
    x[y == 1, :, 12:16, 4:24] = 1
    xt, yt = gpuml.tensor(x, device=native_device), gpuml.tensor(y, device=native_device)
    m = TrainModel(*device_batches(xt, yt, 32), (xt, yt), batch=32, eval_every=3, steps_per_frame=3, epochs=2,
                   rebatch=lambda b: device_batches(xt, yt, b))  # fmt: skip
    assert m.total_steps == 8
    for _ in range(5):
        m.step()
    assert m.steps == 8 and m.done and m.get("playing") is False  # 3 + 3 + 2: clamped to the last epoch
    assert m.test_steps == [3, 6, 8] and m.view()["state"] == "done"
    assert TrainModel.check({"lr": 5, "batch": 48, "epochs": 2})[1].keys() == {"lr", "batch"}
    with pytest.raises(ValueError, match="'lr'"):
        m.configure(lr=0)
    assert m.steps == 8  # nothing changed
    m.configure(batch=64, optimizer="sgd", epochs=1)
    assert (m.steps, m.per_epoch, m.total_steps, m.opt.rule) == (0, 2, 2, "sgd")
    m.set("playing", True)
    m.step()
    assert m.done and len(m.test_accs) == 1


def test_optimizers_model_descends(native_device):
    from gpuml.playground.optimizers import OptimizersModel

    m = OptimizersModel(surface="bowl", steps_per_frame=10, device=native_device)
    start = m.state()["loss"]
    assert all(v == pytest.approx(21.0125) for v in start.values())  # 0.05 * 4.5^2 + 5 * 2^2
    for _ in range(3):
        m.advance(None)  # no time budget: steps_per_frame steps each
    s = m.state()
    assert s["steps"] == 30 and all(v < 21.0 for v in s["loss"].values()), s
    assert len(m.view()["background"]) == 240 * 240
    m.nudge("lr_scale", True)
    assert m.state()["restarts"] == 2 and m.steps == 0 and m.state()["lr_scale"] == pytest.approx(10**0.25)


def test_regularization_model_lambda_live(native_device):
    from gpuml.playground.regularization import RegularizationModel

    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, 64 * 784).astype(np.uint8).tobytes(), rng.integers(0, 10, 64).tolist())
    m = RegularizationModel(data, data, device=native_device)
    m.step()  # one batch of 64: an epoch
    assert m.epoch == 1 and all(len(h["test_acc"]) == 2 for h in m.history.values())  # epoch 0 and 1
    m.nudge("log_l2", True)  # live: the running L2 optimizer takes the new strength, no restart
    assert m.state()["restarts"] == 1 and m.lam("L2") == pytest.approx(10**-1.25) and m.epoch == 1
    with pytest.raises(ValueError, match=r"^control 'log_l2' takes a number in \[-5, 0\], got 1$"):
        m.set("log_l2", 1)
