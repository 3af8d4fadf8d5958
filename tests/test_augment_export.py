"""The augmentation set's export: pure-Python PNGs (read back by Pillow equal to the rounded pixels), the zip of
the original + variants with labels.csv in ``gpuml augment``'s format, and the native window's "e" key writing it."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest

from gpuml.playground.augment_export import png_bytes

Image = pytest.importorskip("PIL.Image")


def test_png_bytes_gray_and_rgb_roundtrip():
    rng = np.random.default_rng(0)
    for c in (1, 3):
        x = rng.random((c, 5, 7)).astype(np.float32)
        x[0, 0, 0], x[-1, -1, -1] = -0.5, 1.5  # clipped
        img = np.asarray(Image.open(io.BytesIO(png_bytes(x.ravel().tolist(), c, 5, 7))))
        want = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
        want = want[0] if c == 1 else want.transpose(1, 2, 0)
        np.testing.assert_array_equal(img, want)
    with pytest.raises(ValueError, match="need 1 or 3 channels"):
        png_bytes([0.0] * 8, 2, 2, 2)


def test_model_export_zip(native_device):
    import gpuml
    from gpuml.playground.augment import AugmentModel

    img = np.zeros((28, 28), np.float32)
    img[8:20, 10:18] = 1
    m = AugmentModel(gpuml.tensor(np.repeat(img[None, None], 9, axis=0), device=native_device), source="bar")
    m.use_spec("rotate 30, crop 20 20")
    z = zipfile.ZipFile(io.BytesIO(m.export(label="bar", stem="bar")))
    rows = list(csv.DictReader(io.StringIO(z.read("labels.csv").decode())))
    assert list(rows[0]) == ["file", "source", "label", "variant", "params"]  # gpuml augment's columns
    assert [r["variant"] for r in rows] == ["original", *map(str, range(9))]
    orig = np.asarray(Image.open(io.BytesIO(z.read("bar_original.png"))))
    np.testing.assert_array_equal(orig, (img * 255).astype(np.uint8))
    v = m.variants.numpy()
    for k in range(9):
        got = np.asarray(Image.open(io.BytesIO(z.read(f"bar_{k}.png"))))
        assert got.shape == (20, 20)
        np.testing.assert_array_equal(got, np.clip(np.round(v[k, 0] * 255), 0, 255).astype(np.uint8))
        assert '"angle"' in rows[k + 1]["params"] and '"top"' in rows[k + 1]["params"]


def test_native_window_e_key_exports(native_device, tmp_path):
    import gpuml
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    previous = gpuml.get_device()
    gpuml.set_device(native_device)
    try:
        app = App(load_demo("augment"), {"export_dir": str(tmp_path)}, offscreen=True)
        app.canvas.draw()
        app.feed({"event_type": "key_down", "key": "e", "modifiers": ()})
        app.demo.export_thread.join(60)
        path = tmp_path / "gpuml-augment-seed0.zip"
        assert app.demo.state()["exported"] == f"exported 1 + 9 PNGs and labels.csv to {path}"
        z = zipfile.ZipFile(path)
        assert len([n for n in z.namelist() if n.endswith(".png")]) == 10
        rows = list(csv.DictReader(io.StringIO(z.read("labels.csv").decode())))
        assert len(rows) == 10
        shown = app.demo._host_variants(app.demo.model.variants)
        got = np.asarray(Image.open(io.BytesIO(z.read("image_4.png"))))
        np.testing.assert_array_equal(got, np.clip(np.round(shown[4, 0] * 255), 0, 255).astype(np.uint8))
        img = np.asarray(app.canvas.draw())[:, :, :3]
        assert img.std() > 10
        app.close()
    finally:
        gpuml.set_device(previous)


def test_native_builder_keys(native_device, tmp_path):
    """The window's builder ("b"): add, remove, reorder and a probability-0 step, as keys; the spec follows."""
    import gpuml
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    previous = gpuml.get_device()
    gpuml.set_device(native_device)
    try:
        app = App(load_demo("augment"), {}, offscreen=True)
        demo = app.demo

        def keys(*names):
            for k in names:
                app.feed({"event_type": "key_down", "key": k, "modifiers": ()})
            app.canvas.draw()
            return demo.state()

        s = keys("b")
        assert s["builder"] and [st["name"] for st in s["steps"]] == [
            "rotate",
            "translate",
            "zoom",
            "brightness",
            "noise",
        ]
        before = demo.model.variants.numpy()
        s = keys("x")  # remove the selected (first) step
        assert s["spec"] == "translate 3, zoom 0.2, brightness 0.3, noise 0.08"
        assert not np.allclose(demo.model.variants.numpy(), before)
        s = keys("ArrowDown", "]")  # zoom moves below brightness
        assert s["spec"] == "translate 3, brightness 0.3, zoom 0.2, noise 0.08"
        s = keys("a")  # adds the catalog's first transform (rotate) at the end
        assert s["spec"].endswith(", rotate 20") and s["error"] == ""
        s = keys(*["x"] * 5)  # remove everything: the variants are copies of the original
        assert s["spec"] == "" and s["steps"] == []
        s = keys("a")
        s = keys("Tab", *["ArrowLeft"] * 20)  # the next add (translate): its probability down to 0: copies
        assert s["spec"] == "translate 3 p=0"
        v = demo.model.variants.numpy()
        np.testing.assert_array_equal(v, np.repeat(v[:1], 9, axis=0))
        np.testing.assert_allclose(v[0, 0], demo.image, atol=1e-6)
        img = np.asarray(app.canvas.draw())[:, :, :3]
        from PIL import Image as PILImage

        (tmp_path / "shots").mkdir()
        PILImage.fromarray(img).save(tmp_path / "shots" / "builder.png")
        import shutil
        from pathlib import Path

        out = Path(__file__).resolve().parents[1] / "test-artifacts"
        out.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "shots" / "builder.png", out / "native_augment_builder.png")
        s = keys("b")
        assert not s["builder"] and s["spec"] == "rotate 25, translate 3, zoom 0.2, brightness 0.3, noise 0.08"
        app.close()
    finally:
        gpuml.set_device(previous)
