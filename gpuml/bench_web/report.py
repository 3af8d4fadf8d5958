"""What ``gpuml bench web`` reports: the environment of a run, the numerical checks and gpuml / tf.js ratios."""

from __future__ import annotations

import os
import platform

import numpy as np

import gpuml
from gpuml.bench import Row, format_table

from .cases import GPUML, JAX, ORT, ROOT, TFJS

# issue 20.4's targets: gpuml's wall time at least this many times faster than the peer's, per case kind
TARGETS = {("train", JAX): 2.0, ("infer", ORT): 1.0}


def _git_commit() -> str | None:
    """HEAD of the source checkout, with "+dirty" when gpuml/, shaders/ or web/bench/ have uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "gpuml", "shaders", "web/bench"], cwd=ROOT, capture_output=True
        )
    except OSError:
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _environment(chromium: str, pyodide: str, gpuml_info: dict, tf_info: dict, wheel_bytes: int) -> dict:
    info = gpuml_info.get("adapter_info", {})
    adapter = f"{info.get('vendor', '')} {info.get('architecture', '')}".strip() or gpuml_info.get("adapter", "")
    tf_adapter = tf_info["adapter"]
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "cpus": os.cpu_count(),
        "gpuml": gpuml.__version__,
        "backends": {
            GPUML: {"adapter": gpuml_info.get("adapter", adapter), "features": gpuml_info.get("features", [])},
            TFJS: {
                "adapter": f"{tf_adapter['vendor']} {tf_adapter['architecture']}".strip(),
                "features": tf_info.get("features", []),
            },
        },
        "browser": {
            "chromium": chromium,
            "user_agent": tf_info.get("user_agent"),
            "adapter": adapter,
            "adapter_info": info,
            "pyodide": pyodide,
            "tfjs": tf_info["tfjs"],
            "tfjs_backend": tf_info["backend"],
            "tfjs_timestamp_query": tf_info["timestamp_query"],
            "tfjs_flags": tf_info.get("flags", {}),
            "gpuml_wheel_bytes": wheel_bytes,
        },
    }


def ratio_lines(rows: list[Row]) -> list[str]:
    """gpuml / tf.js per case (median wall time; > 1 means gpuml is slower), and the same for summed kernel time."""
    out = []
    by_case: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_case.setdefault(r.case, {})[r.impl] = r
    for case, impls in by_case.items():
        g, t = impls.get(GPUML), impls.get(TFJS)
        if g is None or t is None:
            continue
        ratio = g.median_ms / t.median_ms
        verdict = "gpuml faster" if ratio < 1 else "gpuml slower"
        line = f"ratio web {case}: gpuml/tf.js wall time = {ratio:.2f} ({verdict}, {max(ratio, 1 / ratio):.2f}x)"
        if g.gpu_ms and t.gpu_ms:
            kr = g.gpu_ms / t.gpu_ms
            line += f"; summed kernel time = {kr:.2f} ({'gpuml faster' if kr < 1 else 'gpuml slower'})"
        if not (g.extra.get("check", {}).get("ok") and t.extra.get("check", {}).get("ok")):
            line += " -- NUMERICAL CHECK FAILED: not the same work, not comparable"
        out.append(line)
    return out


def _kind(case: str) -> str:
    return case.split(" ", 1)[0]


def peer_lines(rows: list[Row]) -> list[str]:
    """peer / gpuml per case and peer (> 1: gpuml faster), with issue 20.4's targets where one applies."""
    out = []
    by_case: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_case.setdefault(r.case, {})[r.impl] = r
    for case, impls in by_case.items():
        g = impls.get(GPUML)
        if g is None:
            continue
        for impl, p in impls.items():
            peer = next((name for name in (JAX, ORT) if impl.startswith(name + "[")), None)
            if peer is None:
                continue
            speed = p.median_ms / g.median_ms
            how = "even" if abs(speed - 1) < 0.02 else ("gpuml faster" if speed > 1 else "gpuml SLOWER")
            line = f"peer web {case}: {impl} / gpuml wall time = {speed:.2f} ({how})"
            target = TARGETS.get((_kind(case), peer)) if impl.endswith("[webgpu]") else None
            if impl.endswith("[wasm]"):
                line += "; the peer's CPU backend, not the adapter: context, no target"
            same_work = g.extra.get("check", {}).get("ok") and p.extra.get("check", {}).get("ok")
            if target is not None:
                verdict = ("met" if speed >= target else "NOT MET") if same_work else "not comparable"
                line += f"; target gpuml >= {target:g}x {peer}: {verdict}"
            if not same_work:
                failed = [r.impl for r in (g, p) if not r.extra.get("check", {}).get("ok")]
                line += f" -- NUMERICAL CHECK FAILED ({', '.join(failed)}): not the same work, not comparable"
            out.append(line)
    return out


def first_call_lines(rows: list[Row]) -> list[str]:
    """The first call of each case per side (shader compiles, tracing, pipelines; caches from earlier cases in the
    same page count)."""
    by_case: dict[str, list[str]] = {}
    for r in rows:
        if r.extra.get("first_ms") is not None:
            by_case.setdefault(r.case, []).append(f"{r.impl} {r.extra['first_ms']:.1f} ms")
    return [f"first call {case}: " + ", ".join(parts) for case, parts in by_case.items()]


def check_lines(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        c = r.extra.get("check", {})
        if "max_rel_err" in c:
            what = f"max rel error {c['max_rel_err']:.2e} vs {c['reference']} (tol {c['tol']:g})"
        elif "max_abs_loss_diff" in c:
            losses = [round(v, 5) for v in c["losses"]]
            what = f"losses {losses}, max |diff| {c['max_abs_loss_diff']:.2e} vs {c['reference']} (tol {c['tol']:g})"
        else:
            what = c.get("error", "no check")
        out.append(f"check {r.case} {r.impl}: {'ok' if c.get('ok') else 'FAILED'}: {what}")
    return out


def format_web(rows: list[Row], env: dict, top: int = 3) -> str:
    b = env["browser"]
    w = env.get("web_bench", {})
    lines = [
        f"adapter (page): {b['adapter']}; Chromium {b['chromium']}; tf.js {b['tfjs']} ({b['tfjs_backend']} backend, "
        f"timestamp-query {'on' if b['tfjs_timestamp_query'] else 'off'}); Pyodide {b['pyodide']}",
        f"gpu ms = summed per-kernel GPU time, each kernel alone under timestamp queries (gpuml device.profile(), "
        f"tf.js tf.time() kernelMs); wall = work + device sync, median of {w.get('repeat', '?')} after "
        f"{w.get('warmup', '?')} warm-up; load average before/after {w.get('loadavg_before')}/{w.get('loadavg_after')}"
        f"; gpuml {env.get('gpuml')} at {w.get('gpuml_commit')}",
        format_table(rows, env),
        *check_lines(rows),
    ]
    for r in rows:
        ks = r.extra.get("kernels", [])[:top]
        if ks:
            desc = ", ".join(f"{name.rsplit('/', 1)[-1]} x{n:g} {ms:.2f} ms" for name, n, ms in ks)
            algo = f" [conv algo {r.extra['gpuml_algo']}]" if r.impl == GPUML and r.extra.get("gpuml_algo") else ""
            lines.append(f"kernels {r.case} {r.impl}{algo}: {desc}")
    lines += first_call_lines(rows)
    lines += ratio_lines(rows)
    lines += peer_lines(rows)
    for peer, info in env.get("peers", {}).items():
        if info.get("skipped"):
            lines.append(f"peer {peer}: not run ({info['skipped']})")
            continue
        states = [b if v["ok"] else f"{b} did not start ({v['reason']})" for b, v in info.get("backends", {}).items()]
        lines.append(f"peer {peer} {info.get('version')}: " + ", ".join(states))
    return "\n".join(lines)
