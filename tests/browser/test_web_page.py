"""The gpuml web page (web/site, built by gpuml.webbuild) in headless Chromium on SwiftShader.

One built site and one page serve the module: it loads with no console errors and reports its time to
interactive; digits drawn on the pad with real mouse events are classified; k-means on a served dataset gives
native gpuml's labels for the same seed; the augmentation gallery and live training run (no main-thread long
task while training); without WebGPU the page says so; after the first load it works offline (service worker).
Screenshots and timings go to test-artifacts/web/ (timings are benchmark figures, recorded, not asserted, except
the issue's hard budgets: payload < 2 MB).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from page_site import ARTIFACTS, open_page, wait, wait_ready

ROOT = Path(__file__).resolve().parents[2]
RESULTS: dict = {"timings": {}}
PAD_CSS = 280


@pytest.fixture(scope="module")
def page(site, chrome):
    console: list = []
    context, page = open_page(chrome, site["url"], console)
    state = wait_ready(page)
    assert state["ready"], state
    # the gallery's first frame is made when its section comes near the viewport (as a user scrolls to it)
    page.locator("#augment").scroll_into_view_if_needed()
    wait(page, "gpumlPage.augment !== null", timeout=60_000)
    RESULTS["build"] = {k: site["info"][k] for k in ("version", "payload_bytes", "model_source", "model_test_accuracy")}
    RESULTS["adapter"] = state["adapter"]
    RESULTS["timings"]["tti_ms"] = state["tti"]
    RESULTS["timings"]["worker"] = state["worker"]["timings"]
    yield page
    page.screenshot(path=str(ARTIFACTS / "page_final.png"), full_page=True)
    context.close()
    (ARTIFACTS / "results.json").write_text(json.dumps(RESULTS, indent=2, default=str))


_open, _wait_ready, _wait = open_page, wait_ready, wait


def _errors(console):
    return [f"{t}: {m}" for t, m in console if t in ("error", "pageerror")]


def test_page_loads_without_errors(page, site):
    page.screenshot(path=str(ARTIFACTS / "page_loaded.png"), full_page=True)
    assert _errors(page.console) == []
    assert page.evaluate("gpumlPage.errors") == []
    assert page.evaluate("gpumlPage.backend") == "browser"
    assert "swiftshader" in RESULTS["adapter"].lower() or RESULTS["adapter"]
    payload = site["info"]["payload_bytes"]["total"]
    assert payload < 2_000_000, f"gpuml payload {payload:,} B exceeds the 2 MB budget"
    assert page.evaluate("gpumlPage.worker.setup.numpy") is False  # Pyodide core only
    assert "time to interactive" in page.inner_text("#facts")


def _draw_digit(page, image: np.ndarray, cell: float = 9.0):
    """Draw a 28x28 digit with real mouse events: one stroke per run of inked pixels in each row."""
    box = page.locator("#pad-canvas").bounding_box()
    scale = box["width"] / PAD_CSS
    x0 = box["x"] + (PAD_CSS - 28 * cell) / 2 * scale
    y0 = box["y"] + (PAD_CSS - 28 * cell) / 2 * scale
    ink = image > 0.35
    for r in range(28):
        c = 0
        while c < 28:
            if not ink[r, c]:
                c += 1
                continue
            start = c
            while c < 28 and ink[r, c]:
                c += 1
            y = y0 + (r + 0.5) * cell * scale
            page.mouse.move(x0 + (start + 0.5) * cell * scale, y)
            page.mouse.down()
            page.mouse.move(x0 + (c - 0.5) * cell * scale, y, steps=2)
            page.mouse.up()


def test_digit_pad_classifies_drawn_mnist_digits(page):
    from gpuml.datasets import mnist

    test = mnist("test")
    page.locator("#pad-live").uncheck()
    page.locator("#pad-brush").fill("6")
    picks = [int(np.flatnonzero(test.labels == d)[0]) for d in range(10)]
    got, times = [], []
    for i, idx in enumerate(picks):
        page.click("#pad-clear")
        _draw_digit(page, test.images[idx, 0])
        out = page.evaluate("gpumlPredict()")
        got.append(out["label"])
        times.append(out["predict_ms"])
        if i in (0, 7):
            page.locator("#pad").screenshot(path=str(ARTIFACTS / f"pad_digit_{test.labels[idx]}.png"))
    want = [int(test.labels[i]) for i in picks]
    RESULTS["pad"] = {"want": want, "got": got, "predict_ms": times}
    correct = sum(a == b for a, b in zip(got, want, strict=True))
    assert correct >= 9, f"pad classified {correct}/10: want {want}, got {got}"
    # benchmark: the classifier alone on 20 test digits in the page (forward + readback per image)
    bench = page.evaluate(
        "async () => { const d = await gpumlCall('mnist_test_pixels', 20); "
        "return await gpumlCall('predict_pixels', d.pixels); }"
    )
    RESULTS["timings"]["predict_ms_per_image"] = sorted(bench["ms"])[len(bench["ms"]) // 2]
    RESULTS["timings"]["predict_ms_all"] = bench["ms"]
    assert _errors(page.console) == []


def test_kmeans_matches_native(page, site):
    page.evaluate(  # set the controls without change events, then one reset
        "async () => { document.getElementById('km-dataset').value = 'blobs'; "
        "document.getElementById('km-k').value = '5'; document.getElementById('km-seed').value = '3'; "
        "await gpumlKmeansReset(); }"
    )
    page.click("#km-step")
    _wait(page, "gpumlPage.kmeans.steps.length >= 1")
    page.locator("#kmeans").screenshot(path=str(ARTIFACTS / "kmeans_step1.png"))
    page.click("#km-play")
    _wait(page, "gpumlPage.kmeans.done === true", timeout=60_000)
    page.locator("#kmeans").screenshot(path=str(ARTIFACTS / "kmeans_done.png"))
    steps = page.evaluate("gpumlPage.kmeans.steps")
    labels = page.evaluate("gpumlPage.kmeans.labels")
    frames = [s for s in steps if not s.get("done") and "step_ms" in s]
    bench = page.evaluate("gpumlCall('kmeans_bench', 60)")
    # the sustained animation rate: 240 requestAnimationFrame-paced frames (fits restarted on convergence)
    anim = page.evaluate("gpumlCall('kmeans_anim_bench', 'uniform', 10, 240)")
    frame_ms = sorted(anim["frame_ms"])
    RESULTS["kmeans"] = {
        "iterations": len(frames),
        "ms_per_iteration_step": float(np.median([s["step_ms"] for s in frames])),
        "ms_per_iteration_draw": float(np.median([s["draw_ms"] for s in frames])),
        "animation_frame_ms": float(np.median([s["frame_ms"] for s in frames[1:]])) if len(frames) > 1 else None,
        "render_only": bench,
        "animation": {
            "frames": len(frame_ms),
            "restarts": anim["restarts"],
            "fps_from_median_frame": 1000 / float(np.median(frame_ms)),
            "fps_wall": len(frame_ms) / (sum(frame_ms) / 1000),
            "frame_ms_p10_median_p90": [float(np.percentile(frame_ms, q)) for q in (10, 50, 90)],
            "call_ms_median_p90": [float(np.percentile(anim["call_ms"], q)) for q in (50, 90)],
        },
    }
    from gpuml.cluster import KMeans

    rows = json.loads((site["dir"] / "data" / "kmeans.json").read_text())["blobs"]
    ref = KMeans(5, random_state=3, max_iter=100, device=_native_or_cpu()).fit(np.array(rows))
    np.testing.assert_array_equal(np.array(labels), ref.labels_)
    assert _errors(page.console) == []


def test_augmentation_gallery(page):
    """The colour gallery's 9 variants equal native gpuml's for the same images, pipeline and seed (per-image
    means; SwiftShader and lavapipe may round a bilinear sample differently), and differ from each other."""
    page.click("button[data-src=color]")
    _wait(page, "gpumlPage.augment && gpumlPage.augment.shape[1] === 3", timeout=30_000)
    page.locator("#augment").screenshot(path=str(ARTIFACTS / "augment_color.png"))
    RESULTS["timings"]["augment_color_16_ms"] = page.evaluate("gpumlPage.augment.ms")
    control = "document.getElementById('aug-{}').value"
    spec, seed = page.evaluate(f"[{control.format('spec')}, Number({control.format('seed')})]")
    means = np.array(page.evaluate("gpumlCall('augment_means')"))
    assert page.evaluate("gpumlPage.augment.shape") == [9, 3, 48, 48]

    import gpuml
    from gpuml.playground.augment import AugmentModel, color_card

    dev = _native_or_cpu()
    model = AugmentModel(gpuml.tensor(np.tile(color_card(), 9), device=dev).reshape(9, 3, 48, 48), source="color")
    model.set("seed", seed)
    model.use_spec(spec)
    model.step()
    ref = model.variants.numpy().reshape(9, -1).mean(axis=1)
    np.testing.assert_allclose(means, ref, atol=2e-3)
    assert np.ptp(means) > 1e-3, means  # the variants are not all the same image
    page.click("button[data-spec^=elastic]")
    _wait(page, "gpumlPage.augment && gpumlPage.augment.shape[1] === 1", timeout=30_000)
    RESULTS["timings"]["augment_elastic_16_ms"] = page.evaluate("gpumlPage.augment.ms")
    digits = np.array(page.evaluate("gpumlCall('augment_means')"))
    assert digits.shape == (9,) and np.all((digits > 0.02) & (digits < 0.6)), digits  # ink on black, not blank
    assert _errors(page.console) == []


def test_live_training_keeps_main_thread_responsive(page):
    page.click("#train-start")
    _wait(
        page,
        "gpumlPage.train && gpumlPage.train.steps.length >= 50 && "
        "gpumlPage.train.steps.some((s) => s.test_acc !== null)",
        timeout=300_000,
    )
    page.click("#train-pause")
    _wait(page, "gpumlPage.training === false", timeout=30_000)
    page.locator("#train").screenshot(path=str(ARTIFACTS / "training.png"))
    steps = page.evaluate("gpumlPage.train.steps")
    long_tasks = page.evaluate("gpumlPage.trainLongTasks")
    test_acc = [s["test_acc"] for s in steps if s["test_acc"] is not None]
    RESULTS["training"] = {
        "steps": len(steps),
        "ms_per_step_median": float(np.median([s["ms_per_step"] for s in steps[2:]])),
        "first_loss": steps[0]["loss"],
        "last_loss": steps[-1]["loss"],
        "test_accuracy_after_50_steps": test_acc[0],
        "main_thread_long_tasks": long_tasks,
        "all_long_tasks_since_load": page.evaluate("gpumlPage.longTasks"),
    }
    # the 50 ms budget is a timing: recorded in results.json (and benchmarks/bench_page_responsive.py), not asserted
    assert steps[-1]["loss"] < steps[0]["loss"] * 0.7
    assert test_acc[0] > 0.5
    assert _errors(page.console) == []


def test_kernel_timings_next_to_native(page):
    """GPU time per kernel (timestamp queries) of the page's workloads on SwiftShader and natively: the page
    dispatches the kernels the native engine dispatches for the same workload, each timed."""
    from gpuml.train import load_model
    from gpuml.webbuild.workload import profile_workload

    web = page.evaluate("gpumlCall('profile_kernels')")
    RESULTS["kernels_browser"] = web
    native = _native_or_cpu()
    if not native.is_gpu:  # GPUML_EXPECT_GPU=1 (CI) makes a missing adapter an error before this point
        pytest.skip(f"no native WebGPU adapter to compare kernels with ({native.adapter})")
    model, _ = load_model(RESULTS["build"]["model_source"], native)
    RESULTS["kernels_native"] = ref = profile_workload(native, model)
    assert "kernels" in web, web
    assert set(web["sections_gpu_ms"]) == set(ref["sections_gpu_ms"]), (web, ref)
    for rows in (web["kernels"], ref["kernels"]):  # [shader, dispatches, gpu_ms]: every kernel ran and was timed
        assert rows and all(n > 0 and ms >= 0 for _, n, ms in rows), rows
        assert sum(ms for _, _, ms in rows) > 0, rows
    # the same engine on two software adapters: mostly the same kernels (subgroup widths may pick others)
    shared = {r[0] for r in web["kernels"]} & {r[0] for r in ref["kernels"]}
    assert len(shared) >= 0.5 * len(ref["kernels"]), (web["kernels"], ref["kernels"])


def test_offline_after_first_load(chrome, site):
    console: list = []
    context, page = _open(chrome, site["url"], console)
    _wait_ready(page)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    _wait(page, "!!navigator.serviceWorker.controller", timeout=30_000)
    context.set_offline(True)
    page.reload()
    state = _wait_ready(page)
    assert state["ready"], state
    page.locator("#augment").scroll_into_view_if_needed()  # the gallery starts near the viewport
    _wait(page, "gpumlPage.augment !== null", timeout=60_000)
    RESULTS["timings"]["tti_offline_ms"] = state["tti"]
    page.screenshot(path=str(ARTIFACTS / "offline.png"))
    manifest = page.evaluate("fetch('manifest.webmanifest').then((r) => r.json())")
    assert manifest["display"] == "standalone" and manifest["icons"]
    context.close()


def _native_or_cpu():
    from gpuml.backends import open_device

    try:
        return open_device("native")
    except RuntimeError:
        return open_device("cpu")


def _reference_losses(site, steps: int, batch: int) -> list[float]:
    """The page's first training steps (LeNet-5 seed 0, Adam 3e-3, its MNIST subset in the first epoch's order of
    gpuml.train.Trainer with seed 0) run natively."""
    from gpuml import ops, tensor
    from gpuml.nn import from_spec
    from gpuml.nn.functional import softmax_cross_entropy
    from gpuml.optim import Adam

    dev = _native_or_cpu()
    images = np.frombuffer((site["dir"] / "data" / "mnist_train_images.u8").read_bytes(), np.uint8)
    labels = np.frombuffer((site["dir"] / "data" / "mnist_train_labels.u8").read_bytes(), np.uint8)
    from gpuml.train.data import permutation

    order = np.array(permutation(len(labels), 0, 0))
    model = from_spec("lenet5", (1, 28, 28), dev, 0)
    opt = Adam(model.parameters(), lr=3e-3)
    out = []
    for i in range(steps):
        idx = order[i * batch : (i + 1) * batch]
        raw = images.reshape(-1, 784)[idx].astype(np.float32)
        x = ops.mul(tensor(raw, device=dev), 1.0 / 255).reshape(batch, 1, 28, 28)
        y = tensor(labels[idx].astype(np.int32), device=dev)
        row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
        model.backward(grad)
        opt.step()
        out.append(ops.sum(row_loss).item() / batch)
    return out


def _colours(png: bytes) -> int:
    import io

    from PIL import Image

    return len(Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 20) or [])


def test_without_webgpu_every_demo_runs_on_the_cpu(chrome, site):
    """?gpu=off hides navigator.gpu from the page. Offline (here: no numpy from Pyodide's CDN) gpuml's pure-Python
    backend runs every demo, drawn with Canvas 2D; where numpy loads, its numpy backend does. The page says it is
    slower; digits drawn with the mouse are classified, k-means gives native gpuml's labels, the gallery renders
    and training steps give native gpuml's losses."""
    console: list = []
    context, page = _open(chrome, site["url"] + "?gpu=off", console)
    state = _wait_ready(page, timeout=120_000)
    notices = page.inner_text("#notices")
    RESULTS["no_webgpu"] = {"notices": notices, "ready": state["ready"], "tti_ms": state["tti"]}
    assert state["ready"], (state, notices)
    assert "No WebGPU" in notices and "slower" in notices
    backend = page.evaluate("gpumlPage.backend")
    assert backend in ("python", "cpu")
    assert ("pure-Python" if backend == "python" else "numpy") in page.inner_text("#facts")
    page.locator("#augment").scroll_into_view_if_needed()  # the gallery starts near the viewport
    _wait(page, "gpumlPage.augment !== null", timeout=120_000)

    # digit pad
    from gpuml.datasets import mnist

    test = mnist("test")
    page.locator("#pad-live").uncheck()
    page.locator("#pad-brush").fill("6")
    want, got, ms = [2, 5, 7], [], []
    for d in want:
        page.click("#pad-clear")
        _draw_digit(page, test.images[int(np.flatnonzero(test.labels == d)[0]), 0])
        out = page.evaluate("gpumlPredict()")
        got.append(out["label"])
        ms.append(out["predict_ms"])
    page.locator("#pad").screenshot(path=str(ARTIFACTS / f"cpu_{backend}_pad.png"))
    assert got == want, f"pad on the {backend} backend: want {want}, got {got}"

    # k-means, to convergence, against native gpuml
    page.evaluate(
        "async () => { document.getElementById('km-dataset').value = 'blobs'; "
        "document.getElementById('km-k').value = '5'; document.getElementById('km-seed').value = '3'; "
        "await gpumlKmeansReset(); }"
    )
    page.click("#km-play")
    _wait(page, "gpumlPage.kmeans.done === true", timeout=120_000)
    shot = page.locator("#kmeans-canvas").screenshot(path=str(ARTIFACTS / f"cpu_{backend}_kmeans.png"))
    assert _colours(shot) > 5, "the k-means canvas was not drawn"
    from gpuml.cluster import KMeans

    rows = json.loads((site["dir"] / "data" / "kmeans.json").read_text())["blobs"]
    ref = KMeans(5, random_state=3, max_iter=100, device=_native_or_cpu()).fit(np.array(rows))
    np.testing.assert_array_equal(np.array(page.evaluate("gpumlPage.kmeans.labels")), ref.labels_)

    # augmentation gallery
    page.click("button[data-src=color]")
    _wait(page, "gpumlPage.augment && gpumlPage.augment.shape[1] === 3", timeout=60_000)
    shot = page.locator("#gallery-canvas").screenshot(path=str(ARTIFACTS / f"cpu_{backend}_augment.png"))
    assert _colours(shot) > 50, "the gallery was not drawn"
    augment_ms = page.evaluate("gpumlPage.augment.ms")

    # training: the first steps' losses match native gpuml's on the same batches
    page.click("#train-start")
    _wait(page, "gpumlPage.train && gpumlPage.train.steps.length >= 4", timeout=120_000)
    page.click("#train-pause")
    _wait(page, "gpumlPage.training === false", timeout=60_000)
    steps = page.evaluate("gpumlPage.train.steps")
    batch = page.evaluate("gpumlPage.train.setup.batch")
    ref_losses = _reference_losses(site, len(steps), batch)
    np.testing.assert_allclose([s["loss"] for s in steps], ref_losses, atol=1e-4)
    page.screenshot(path=str(ARTIFACTS / f"cpu_{backend}_page.png"), full_page=True)
    RESULTS["no_webgpu"].update(
        {
            "backend": backend,
            "predict_ms": ms,
            "augment_color_16_ms": augment_ms,
            "train_batch": batch,
            "train_ms_per_step": [s["ms_per_step"] for s in steps],
        }
    )
    assert page.evaluate("gpumlPage.errors") == []
    assert _errors(console) == []
    context.close()


def test_browser_without_webgpu_adapter(playwright_session, site, chromium_args):
    """A Chromium whose WebGPU is off (no --enable-unsafe-webgpu: navigator.gpu exists, requestAdapter() gives
    null): the page names the reason and classifies test digits on the CPU path."""
    args = [a for a in chromium_args if a != "--enable-unsafe-webgpu"] + ["--disable-features=WebGPU,Vulkan"]
    browser = playwright_session.chromium.launch(executable_path=shutil.which("chromium"), args=args, headless=True)
    try:
        console: list = []
        context, page = _open(browser, site["url"], console)
        state = _wait_ready(page, timeout=120_000)
        notices = page.inner_text("#notices")
        assert state["ready"], (state, notices)
        assert "requestAdapter() returned null" in notices and "slower" in notices
        assert page.evaluate("gpumlPage.backend") in ("python", "cpu")
        out = page.evaluate(
            "async () => { const d = await gpumlCall('mnist_test_pixels', 5); "
            "return {want: d.labels, got: (await gpumlCall('predict_pixels', d.pixels)).labels}; }"
        )
        assert out["got"] == out["want"], out
        assert _errors(console) == []
        context.close()
    finally:
        browser.close()
