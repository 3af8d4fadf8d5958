"""``gpuml kmeans``, ``gpuml augment`` and ``gpuml demo``."""

from __future__ import annotations

import argparse
import os
import sys

from .common import add_backend_option, nonnegative_int, pipeline_spec, positive_int, ranged


def _k_range(text: str) -> list[int]:
    """ "2..10" -> [2, ..., 10]; "3,5,8" -> [3, 5, 8]."""
    try:
        if ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            ks = list(range(lo, hi + 1))
        else:
            ks = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"k range {text!r}: use LO..HI or a comma-separated list") from None
    if not ks or min(ks) < 2:
        raise argparse.ArgumentTypeError(f"k range {text!r}: every k must be at least 2 (and below --n)")
    return ks


def cmd_kmeans(args) -> int:
    from gpuml.backends import device_for
    from gpuml.cluster import elbow, make_dataset, silhouette_samples
    from gpuml.cluster.plots import plot_clusters, plot_curve

    ks = args.k
    if max(ks) >= args.n:
        print(f"gpuml kmeans: --k {max(ks)} needs more points than --n {args.n} (k must be below n)", file=sys.stderr)
        return 2
    device = device_for("kmeans")  # where elbow()'s KMeans fits run
    X, _ = make_dataset(args.dataset, args.n, random_state=args.seed)
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
    from gpuml.augment.cli import run_augment

    return run_augment(args.input_dir, args.pipeline, args.n, args.out, args.seed)


def cmd_demo(args) -> int:
    from gpuml.demos import run_demo

    options = {
        "model": args.model,
        "image": args.image,
        "points": args.points,
        "k": args.k,
        "dataset": args.dataset,
        "surface": args.surface,
        "seed": args.seed,
        "export_dir": args.export_dir,
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


def add_kmeans(sub) -> None:
    km = sub.add_parser(
        "kmeans",
        help="k-means elbow and silhouette tables on a toy dataset, with PNG plots",
        description="Fit gpuml.cluster.KMeans for each k, print inertia and silhouette per k, the elbow's suggested k "
        "(kneedle; max second difference also shown), and write clusters/elbow/silhouette PNGs.",
    )
    from gpuml.cluster.datasets import DATASETS

    km.add_argument("--dataset", choices=DATASETS, default="blobs", help="toy dataset (default: blobs)")
    km.add_argument("--k", type=_k_range, default=list(range(2, 11)), help="k range, LO..HI or a list (default 2..10)")
    km.add_argument("--n", type=ranged(int, 3), default=1000, help="number of points (default 1000)")
    km.add_argument("--seed", type=nonnegative_int, default=0, help="dataset and k-means seed (default 0)")
    km.add_argument("--n-init", type=positive_int, default=3, help="k-means restarts per k (default 3)")
    add_backend_option(km)
    km.add_argument("--out", default="kmeans-plots", help="folder for the PNG plots (default: kmeans-plots)")
    km.set_defaults(func=cmd_kmeans)

    au = sub.add_parser(
        "augment",
        help="write augmented PNGs, a labels CSV and a contact sheet for a folder of images",
        description="Augment every image of INPUT_DIR (PNG/JPEG; sub-folder names are labels) N times on the device. "
        "Writes OUT/<name>_<k>.png, OUT/labels.csv (file, source, label, variant, params) and OUT/contact_sheet.png "
        "(one row per input: original + N variants). Images become 8-bit grayscale or RGB: an alpha channel (RGBA, LA, "
        "transparent palettes) is composited on black; 16-bit grayscale is scaled to [0, 1] by 65535. Unreadable "
        "files are listed on stderr and skipped; the rest are augmented.",
    )
    au.add_argument("input_dir", help="folder of images (or of class sub-folders)")
    au.add_argument(
        "--pipeline",
        type=pipeline_spec,
        default="rotate 15, translate 2, zoom 0.1",
        help='e.g. "rotate 15, brightness 0.2"',
    )
    au.add_argument("--n", type=positive_int, default=9, help="variants per image (default 9)")
    au.add_argument("--out", default="augmented", help="output folder (default augmented)")
    au.add_argument("--seed", type=nonnegative_int, default=0)
    add_backend_option(au)
    au.set_defaults(func=cmd_augment)


def add_demo(sub) -> None:
    from gpuml.demos import DEMOS

    dm = sub.add_parser(
        "demo",
        help="interactive demo windows: digits, kmeans, augment, train, regularization, optimizers",
        description="Open an interactive demo in a window (rendercanvas + glfw), drawn with WebGPU on the device that "
        "computes. With --offscreen, render --frames frames without a window; --screenshot saves the last frame drawn; "
        "frame times (p50/p95) are printed either way. Keys are listed at the bottom of each window; Esc quits.",
    )
    dm.add_argument("name", choices=list(DEMOS), help="which demo")
    dm.add_argument("--offscreen", action="store_true", help="render without a window (rendercanvas offscreen)")
    dm.add_argument("--frames", type=positive_int, default=None, help="stop after N frames (offscreen default: 1)")
    dm.add_argument("--screenshot", metavar="PNG", help="save the last frame drawn as a PNG (window: when it closes)")
    dm.add_argument("--state", metavar="JSON", help="write frame statistics and the demo's final state as JSON")
    dm.add_argument("--model", help="digits: model.npz written by gpuml train (default: the packaged LeNet-5)")
    dm.add_argument("--image", help="augment: an image file instead of an MNIST digit")
    dm.add_argument("--points", type=positive_int, default=None, help="kmeans: number of points (default 10,000)")
    # the k slider's range (gpuml.playground.kmeans.K_MIN, K_MAX; tests/test_playground.py checks they match)
    dm.add_argument("--k", type=ranged(int, 2, 15), default=None, help="kmeans: initial k (2..15, default 4)")
    dm.add_argument("--dataset", default=None, help="kmeans: blobs | moons | circles | anisotropic | varied | uniform")
    dm.add_argument("--surface", default=None, help="optimizers: rosenbrock | beale | saddle | bowl")
    dm.add_argument("--seed", type=nonnegative_int, default=None)
    dm.add_argument("--export-dir", default=None, metavar="DIR", help="augment: where 'e' writes the zip (default .)")
    add_backend_option(dm, ["native"])
    dm.set_defaults(func=cmd_demo)
