"""The digit pad's feature cue (gpuml.playground.novelty, issue #17 point 1): the cosine distance against float64
numpy and scikit-learn, the verdict's "unlike the 9s it learned from" and "or maybe 3" hints, the cue stored in the
shipped model (re-made bit for bit from MNIST), its share of real digits, and a drawing on the native pad."""

from __future__ import annotations

import numpy as np
import pytest

from gpuml.playground.digits_explain import NOVELTY_PERCENTILE, novelty_distance, verdict


def test_distance_against_numpy_and_sklearn():
    from sklearn.metrics.pairwise import cosine_distances

    rng = np.random.default_rng(0)
    protos = rng.normal(size=(7, 13))
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    for x in [rng.normal(size=13), np.abs(rng.normal(size=13)) * 1e-6, np.full(13, 1e6), protos[3] * 2.5]:
        want = 1.0 - (protos @ x / np.linalg.norm(x)).max()
        got = novelty_distance(x.tolist(), protos.tolist())
        assert got == pytest.approx(want, abs=1e-12)
        assert got == pytest.approx(cosine_distances(x[None], protos).min(), abs=1e-9)
    assert novelty_distance(protos[3].tolist(), protos.tolist()) == pytest.approx(0.0, abs=1e-12)
    assert novelty_distance([0.0] * 13, protos.tolist()) == 1.0  # nothing fires: as far as it gets


def test_verdict_hints():
    e = np.eye(4).tolist()
    cue = {"layer": 0, "line": 0.25, "prototypes": [[e[0], e[1]], [e[2]], [e[3]]]}
    logits = [9.0, 1.0, 0.0]  # sure "0" on plenty of evidence
    near = verdict(logits, 2.0, 3.0, [1.0, 0.2, 0.0, 0.0], cue)
    assert not near["weak"] and near["text"] == "0 (100.0%)" and near["novelty"] == pytest.approx(1 - 1 / 1.04**0.5)
    far = verdict(logits, 2.0, 3.0, [0.0, 0.0, 1.0, 1.0], cue)  # like the 1s' and 2s' prototypes, not the 0s'
    assert far["weak"] and not far["unsure"] and far["novelty"] == pytest.approx(1.0)
    assert far["text"] == "0 (100.0%), unlike the 0s it learned from"
    share = f"{NOVELTY_PERCENTILE:.0f}% of real test digits are nearer than 0.25"
    assert far["reason"] == f"features 1.00 away from the training 0s ({share})"
    # no cue, or no features: as before
    assert not verdict(logits, 2.0, 3.0)["weak"] and verdict(logits, 2.0, 3.0, None, cue)["novelty"] is None
    # sure under 90%: the runner-up is named
    maybe = verdict([5.0, 3.0, 0.0], 2.0, 3.0)
    assert maybe["weak"] and maybe["text"] == "0 (87.6%), or maybe 1 (12%)", maybe
    assert maybe["reason"] == "top probability 87.6% < 90%"
    # a value and its line never read alike: one more decimal until they differ (review19: "evidence 8.4 < 8.4")
    close = verdict([9.0, 1.0, 0.0], 2.0, 9.0004 + 0.0340)
    assert close["weak"] and close["reason"].startswith("evidence 9.00 < 9.03 ("), close
    from gpuml.playground.digits_explain import _apart

    assert _apart(8.37, 8.38, 1) == ("8.37", "8.38") and _apart(6.1, 8.4, 1) == ("6.1", "8.4")
    assert _apart(1.0, 1.0, 1) == ("1.0000", "1.0000")  # equal values stop at 4 decimals
    # two hints: the first that holds, and the runner-up under 90% (review18: "8 (89.1%), weak evidence" hid the 9)
    both = verdict([5.0, 3.0, 0.0], 2.0, 6.0, [0.0, 0.0, 1.0, 1.0], cue)
    assert both["text"] == "0 (87.6%), weak evidence, or maybe 1 (12%)", both
    both = verdict([5.0, 3.0, 0.0], 2.0, 3.0, [0.0, 0.0, 1.0, 1.0], cue)
    assert both["text"] == "0 (87.6%), unlike the 0s it learned from, or maybe 1 (12%)", both
    # unsure wins over every hint
    assert verdict([0.2, 0.1, 0.0], 2.0, 3.0, [0.0, 0.0, 1.0, 1.0], cue)["weak"] is False


@pytest.fixture(scope="module")
def shipped():
    from gpuml.demos.digits import default_model_path
    from gpuml.playground import novelty

    path = default_model_path()
    if path is None:
        pytest.skip("no shipped model")
    return path, novelty.from_file(path)


def _mnist():
    from gpuml.datasets import data_dir, mnist

    if not (data_dir() / "mnist").exists():
        pytest.skip("MNIST is not on disk")
    return mnist("train"), mnist("test")


def test_shipped_cue_is_remade_bit_for_bit(shipped, tmp_path):
    """scripts/train_shipped_model.py adds the cue with gpuml.playground.novelty.add_to_file: doing it again on the
    shipped file gives the same float16 prototypes and line (gpuml's KMeans on the numpy backend, seeded)."""
    from gpuml import serialize
    from gpuml.playground import novelty

    _mnist()
    path, cue = shipped
    assert cue is not None and cue["layer"] == 8  # the ReLU after fc 120
    info = novelty.add_to_file(path, tmp_path / "again.npz", log=lambda *_: None)
    a, meta = serialize.read(path)
    b, meta2 = serialize.read(tmp_path / "again.npz")
    assert np.array_equal(a["novelty/prototypes"], b["novelty/prototypes"]) and meta2["novelty"] == meta["novelty"]
    protos = a["novelty/prototypes"].astype(np.float64)
    assert protos.shape == (10, novelty.PER_CLASS, 120) and a["novelty/prototypes"].dtype == np.float16
    assert np.allclose(np.linalg.norm(protos, axis=-1), 1.0, atol=2e-3)
    assert 0.1 < info["line"] < 0.25, info  # measured 0.164


def test_shipped_cue_on_real_digits_and_native_pad(shipped, native_device):
    """~2% of real digits beyond the line (the calibration digits by construction; held-out ones measured), the
    native backend's features agree with numpy's, and the native pad passes the cue to its verdict."""
    from gpuml.backends import open_device
    from gpuml.playground.digits import DigitsModel
    from gpuml.playground.novelty import features
    from gpuml.train import load_model

    _, test = _mnist()
    path, cue = shipped
    x = test.images[1000:1500].astype(np.float32) / (255.0 if test.images.dtype == np.uint8 else 1.0)
    cpu_net = load_model(path, open_device("cpu"))[0]
    logits, f = features(cpu_net, x, cue["layer"])
    dist = np.array(
        [novelty_distance(r.tolist(), cue["prototypes"][int(lg.argmax())]) for lg, r in zip(logits, f, strict=True)]
    )
    share = float((dist > cue["line"]).mean())
    print(f"held-out test digits beyond the line: {share:.1%}")
    # measured 4.6% of these 500, 3.5% of 4,000 (2% of the calibration digits by construction); most of them are
    # unsure or weak by the other rules already: the cue adds a hint to 0.3% of real digits (benchmarks/RESULTS.md)
    assert share <= 0.06, share
    net = load_model(path, native_device)[0]
    _, f_native = features(net, x[:64], cue["layer"])
    assert np.allclose(f_native, f[:64], atol=1e-3)
    m = DigitsModel(net, name="lenet5", host_ink=True)
    m.set_novelty(cue)
    m.calibrate(test.images[:512].reshape(512, -1).tolist())
    # review17b's hash: sure "7" on weak evidence, and features far from the training 7s
    for stroke in [[(105, 45), (95, 235)], [(185, 45), (175, 235)], [(45, 105), (235, 100)], [(45, 180), (235, 175)]]:
        m.stroke(stroke)
    m.predict()
    v = m.result["verdict"]
    print(v["text"], "|", v["reason"])
    assert v["label"] == 7 and v["weak"] and not v["unsure"], v
    assert v["novelty"] > cue["line"] and "features" in v["reason"] and "away from the training 7s" in v["reason"]
    assert m.view()["novelty_line"] == cue["line"]
