"""``gpuml bench cold``: what a new process waits for before each op family's first result, natively.

Every measurement is a fresh Python process with ``GPUML_BACKEND=native``: it times ``import gpuml`` (numpy
included), opening the device, preparing the case's host inputs (a model file read, random data), the first call
of the op (through the result on the host), the second call, and the median of a few more (the warm reference).
Each case runs with a cold variant-tuning cache (a new file: the first-ever use on this adapter, where the tuner
may time variants) and with a warm one (a copy of the file a previous process of the same case left: the
realistic second-process case). Processes alternate case by case and cache state by cache state, so drift on a
shared machine hits all alike; medians over ``repeat`` rounds are reported, with the load average of each run.
``compare=`` runs the same cases from another gpuml source tree (e.g. an older checkout) in alternation with this
one, for before/after figures. Imports read bytecode as an installed package's do (a private PYTHONPYCACHEPREFIX
filled by an untimed first process per case), also where PYTHONDONTWRITEBYTECODE is set.

This module imports only the standard library at the top: the child processes load it by file path (also
under another tree) and time ``import gpuml`` themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The targets on lavapipe (seconds) and what they time: the first prediction from the open device (reading
# the model file included), the first KMeans.fit and the first augmentation call (the modules already imported).
TARGETS = {"predict": ("after_device_s", 0.150), "kmeans": ("first_s", 0.5), "augment": ("first_s", 0.5)}
CASES = ("matmul", "conv_forward", "conv_backward", "predict", "kmeans", "augment", "gradcam")
WARM_CALLS = 3
MARK = "gpuml-cold-result: "
HERE = Path(__file__).resolve()
TREE = HERE.parent.parent


# --- the cases (run in the child; numpy and gpuml passed in) ---------------------------------------------------------
def _import_case(case: str) -> None:
    """The library modules a case needs beyond ``import gpuml`` (timed on their own: gpuml.cluster imports
    scikit-learn)."""
    import importlib

    module = {"kmeans": "gpuml.cluster", "augment": "gpuml.augment", "gradcam": "gpuml.explain"}.get(case)
    if module:
        importlib.import_module(module)


def _prepare(case: str, np, gpuml, example: bool = False):
    """Host inputs of ``case`` and the call to time (returns a host array). ``example``: what a program would warm
    the kernels with (``device.warm``) before the real data exists: inputs of the same shapes (so the same shape
    classes, hence the same tuned variants) with other values, and k-means for one iteration."""
    rng = np.random.default_rng(1 if example else 0)
    if case == "matmul":  # a 256^3 GEMM
        a = rng.standard_normal((256, 256)).astype(np.float32)
        return lambda: gpuml.ops.matmul(a, a).numpy()
    if case == "conv_forward":  # 3x3 'same' convolution, 16 -> 32 channels, batch 4 of 32x32
        x = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
        w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
        return lambda: gpuml.ops.conv2d(x, w, padding=1).numpy()
    if case == "conv_backward":  # its gradients (input and weights)
        x = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
        w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
        gy = rng.standard_normal((4, 32, 32, 32)).astype(np.float32)

        def conv_backward():
            gx, gw, gb = gpuml.ops.conv2d_backward(x, w, gy, padding=1)
            return np.concatenate([gx.numpy().ravel(), gw.numpy().ravel(), gb.numpy().ravel()])

        return conv_backward
    if case in ("predict", "gradcam"):  # the shipped LeNet-5 on one 28x28 image
        model, _ = gpuml.load_model(gpuml.models.path())
        x = rng.random((1, 1, 28, 28)).astype(np.float32)
        if case == "predict":
            return lambda: model(x).numpy()
        import gpuml.explain

        return lambda: gpuml.explain.grad_cam(model, x)
    if case == "kmeans":  # KMeans.fit of 20k points in 3-D, 8 clusters
        from gpuml.cluster import KMeans

        X = rng.standard_normal((20000, 3)).astype(np.float32)
        if example:  # one iteration meets every kernel of the fit (seeding, Lloyd, final assign)
            return lambda: KMeans(8, random_state=0, max_iter=1).fit(X).cluster_centers_
        return lambda: KMeans(8, random_state=0).fit(X).cluster_centers_
    if case == "augment":  # demos/augment.py's pipeline on 3 photos (uint8 NCHW, 120 x 160)
        import gpuml.augment as A

        images = (rng.random((3, 3, 120, 160)) * 255).astype(np.uint8)
        pipeline = A.Compose(
            [
                A.HorizontalFlip(),
                A.Rotate(25),
                A.RandomResizedCrop((120, 160), scale=(0.4, 1.0)),
                A.Brightness(0.3),
                A.Contrast(0.3),
                A.Saturation(0.6),
                A.Hue(0.08),
                A.Cutout(24),
            ]
        )
        return lambda: pipeline(images, seed=0)
    raise ValueError(f"unknown cold-start case {case!r}; choose from {', '.join(CASES)}")


def child(case: str, import_s: float, opts: dict) -> None:
    """One measurement in this (fresh) process; prints one JSON line after MARK."""
    import numpy as np

    import gpuml

    t0 = time.perf_counter()
    device = gpuml.get_device()
    device_s = time.perf_counter() - t0
    if device.name != "native":
        raise SystemExit(f"bench cold needs the native backend, got {device.name}")
    t0 = time.perf_counter()
    _import_case(case)
    case_import_s = time.perf_counter() - t0
    warmup = None
    if opts.get("warm"):  # a demo warms its kernels on a blank input right after the device opens ...
        warmup = device.warm(_prepare(case, np, gpuml, example=True))
    t0 = time.perf_counter()
    call = _prepare(case, np, gpuml)
    prepare_s = time.perf_counter() - t0
    time.sleep(float(opts.get("think", 0.0)))  # ... while the user reads for this long
    pipelines0 = device.stats.get("pipelines_created", 0)
    compile0 = getattr(device, "compile_seconds", None)
    times, cpu = [], []
    for i in range(2 + WARM_CALLS):
        t0, c0 = time.perf_counter(), time.process_time()  # lavapipe's threads are in-process: CPU time counts
        out = call()  # its work, and moves less than wall time on a loaded machine
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if i == 0:
            first_pipelines = device.stats.get("pipelines_created", 0) - pipelines0
            compile_s = None if compile0 is None else device.compile_seconds - compile0
            digest = hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()[:16]
            warm_done = None if warmup is None else warmup.done()
    if warmup is not None:
        warmup.wait()
    result = {
        "case": case,
        "import_s": import_s,
        "device_s": device_s,
        "case_import_s": case_import_s,
        "prepare_s": prepare_s,
        "first_s": times[0],
        "first_cpu_s": cpu[0],
        "warm_cpu_s": statistics.median(cpu[2:]),
        "second_s": times[1],
        "warm_s": statistics.median(times[2:]),
        "think_s": float(opts.get("think", 0.0)),
        "warmup_done": warm_done,
        "warmup_s": None if warmup is None else warmup.seconds,
        "compile_first_s": compile_s,
        "pipelines_first": first_pipelines,
        "pipelines_total": device.stats.get("pipelines_created", 0),
        "adapter": device.adapter,
        "digest": digest,
    }
    print(MARK + json.dumps(result), flush=True)


_BOOT = (
    "import sys, time; sys.path.insert(0, {tree!r}); t0 = time.perf_counter(); import numpy, gpuml; "
    "t1 = time.perf_counter(); import importlib.util as u; "
    "s = u.spec_from_file_location('gpuml_bench_cold_child', {here!r}); m = u.module_from_spec(s); "
    "s.loader.exec_module(m); m.child({case!r}, t1 - t0, {opts!r})"
)


def run_one(
    case: str, tune_cache: str, tree: Path = TREE, opts: dict | None = None, pycache: str | None = None
) -> dict:
    """One fresh process measuring ``case`` from the gpuml source tree ``tree`` with the tune cache file
    ``tune_cache``; returns its result dict (plus the load average when it ended). ``pycache``: a folder for
    Python's bytecode (PYTHONPYCACHEPREFIX), so imports read .pyc files as an installed package's do even where
    PYTHONDONTWRITEBYTECODE is set, without writing into the source tree."""
    code = _BOOT.format(tree=str(tree), here=str(HERE), case=case, opts=opts or {})
    child_env = dict(os.environ)  # (settings for the child, not read here)
    child_env.update(GPUML_BACKEND="native", GPUML_TUNE_CACHE=tune_cache)
    child_env.pop("GPUML_TUNE", None)  # tuning as a user gets it
    if pycache:
        child_env.pop("PYTHONDONTWRITEBYTECODE", None)
        child_env["PYTHONPYCACHEPREFIX"] = pycache
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env, cwd=str(tree), timeout=600
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"bench cold: case {case} failed (exit {proc.returncode}): " + " | ".join(tail))
    result = json.loads(lines[-1][len(MARK) :])
    result["load1"] = os.getloadavg()[0]
    return result


def run(
    cases=CASES,
    repeat: int = 3,
    tunes=("cold", "warm"),
    compare: str | None = None,
    warm: bool = False,
    think: float = 0.0,
    log=None,
) -> list[dict]:
    """Every (case, tune cache state[, tree]) ``repeat`` times in alternating fresh processes. ``warm``: also run
    each with ``device.warm`` started after ``think`` seconds of idle time (a demo warming while the user reads)."""
    trees = [("this", TREE)] + ([("compare", Path(compare).resolve())] if compare else [])
    modes = [("plain", {})] + ([("warm-up", {"warm": True, "think": think})] if warm else [])
    runs = []
    with tempfile.TemporaryDirectory(prefix="gpuml-cold-") as tmp:
        pycache, seeded = os.path.join(tmp, "pycache"), {}
        # one untimed process per case and tree first: it leaves the bytecode every later process reads and the
        # tune cache a second process finds ("warm")
        for case in cases:
            for label, tree in trees:
                path = os.path.join(tmp, f"seed-{label}-{case}.json")
                run_one(case, path, tree, pycache=pycache)
                seeded[label, case] = path
        for r in range(repeat):
            for case in cases:
                for tune in tunes:
                    for label, tree in trees:
                        for mode, opts in modes:
                            if opts and label != "this":  # device.warm is new: not in older trees
                                continue
                            path = os.path.join(tmp, f"run-{r}-{label}-{case}-{tune}-{mode}.json")
                            if tune == "warm" and os.path.exists(seeded[label, case]):
                                shutil.copy(seeded[label, case], path)
                            res = run_one(case, path, tree, opts, pycache)
                            res.update(tune=tune, tree=label, mode=mode, round=r)
                            runs.append(res)
                            if log:
                                log(_line(res))
    return runs


def _line(r: dict) -> str:
    return (
        f"{r['case']:<14} {r['tree']:<8} {r['tune']:<5} {r['mode']:<8} import {r['import_s']:.3f} "
        f"device {r['device_s']:.3f} prepare {r['prepare_s']:.3f} first {r['first_s']:.3f} "
        f"second {r['second_s']:.3f} warm {r['warm_s']:.4f} pipelines {r['pipelines_first']} load {r['load1']:.2f}"
    )


FIELDS = (
    "import_s",
    "device_s",
    "case_import_s",
    "prepare_s",
    "first_s",
    "first_cpu_s",
    "second_s",
    "warm_s",
    "warm_cpu_s",
    "pipelines_first",
)


def summarize(runs: list[dict]) -> list[dict]:
    """Medians per (case, tree, tune, mode), with the target (:data:`TARGETS`) and whether the median meets it."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["case"], r["tree"], r["tune"], r["mode"]), []).append(r)
    rows = []
    for (case, tree, tune, mode), rs in groups.items():
        row = {"case": case, "tree": tree, "tune": tune, "mode": mode, "n": len(rs)}
        for f in FIELDS:
            row[f] = statistics.median(r[f] for r in rs)
        compiles = [r["compile_first_s"] for r in rs if r.get("compile_first_s") is not None]
        row["compile_first_s"] = statistics.median(compiles) if compiles else None
        row["after_device_s"] = statistics.median(r["prepare_s"] + r["first_s"] for r in rs)
        row["first_min_s"] = min(r["first_s"] for r in rs)
        row["load1"] = [round(r["load1"], 2) for r in rs]
        row["digests"] = sorted({r["digest"] for r in rs})
        metric, target = TARGETS.get(case, (None, None))
        row["target_s"], row["target_of"] = target, metric
        row["met"] = None if target is None else row[metric] <= target
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    head = (
        f"{'case':<14} {'tree':<8} {'tune':<5} {'mode':<8} {'import s':>8} {'device s':>8} {'+imp s':>7} {'prep s':>7} "
        f"{'first s':>8} {'cpu s':>6} {'2nd s':>7} {'warm s':>7} {'cpu s':>6} {'pipes':>5} {'target':>7}  met"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        target = f"{r['target_s']:.3f}" if r["target_s"] is not None else "-"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(
            f"{r['case']:<14} {r['tree']:<8} {r['tune']:<5} {r['mode']:<8} {r['import_s']:>8.3f} "
            f"{r['device_s']:>8.3f} {r['case_import_s']:>7.3f} {r['prepare_s']:>7.3f} {r['first_s']:>8.3f} "
            f"{r['first_cpu_s']:>6.3f} {r['second_s']:>7.3f} "
            f"{r['warm_s']:>7.4f} {r['warm_cpu_s']:>6.3f} {r['pipelines_first']:>5.0f} {target:>7}  {met}"
        )
    return "\n".join(lines)


def environment(runs: list[dict]) -> dict:
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "adapter": runs[0]["adapter"] if runs else None,
    }
    try:
        from importlib.metadata import version

        env["wgpu"] = version("wgpu")
    except Exception:  # not installed as a distribution
        pass
    return env


def main(cases=None, repeat: int = 3, json_path: str | None = None, compare=None, warmup=None, tunes=None):
    """``gpuml bench cold``. ``warmup``: seconds of idle time after ``device.warm`` (None: no warm-up runs)."""
    cases = list(cases or CASES)
    if compare and not (Path(compare) / "gpuml" / "__init__.py").is_file():
        raise ValueError(f"--compare {compare}: not a gpuml source tree (no gpuml/__init__.py)")
    tunes = tuple(tunes or ("cold", "warm"))
    runs = run(cases, repeat, tunes, compare, warmup is not None, warmup or 0.0, log=print)
    rows = summarize(runs)
    env = environment(runs)
    print(f"\n{env['adapter']}; {env['machine']}; python {env['python']}; wgpu {env.get('wgpu')}; {env['date']}")
    print(format_table(rows))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump({"environment": env, "targets_s": TARGETS, "summary": rows, "runs": runs}, f, indent=1)
        print(f"wrote {json_path}")
    return 0
