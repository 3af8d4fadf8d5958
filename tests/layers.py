"""gpuml's layers and an import-graph walk that checks them (run by tests/test_architecture.py in a subprocess).

    python tests/layers.py gpuml        # prints violations and cycles; exit 1 when there are any

Every import counts, function-level ones included. A module may import modules of its own layer or below, never
above, and no set of modules may import each other in a cycle. A module that no layer claims is a violation too,
so a new module gets a place on purpose.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# bottom to top; a prefix claims the module and its submodules
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("settings and shaders", ("gpuml.config", "gpuml.wgsl")),
    ("runtime", ("gpuml.backends", "gpuml.tensor")),
    ("backend implementations", ("gpuml.impl",)),
    ("ops", ("gpuml.ops",)),
    (
        "libraries",
        (
            "gpuml.nn",
            "gpuml.optim",
            "gpuml.cluster",
            "gpuml.augment",
            "gpuml.explain",
            "gpuml.models",
            "gpuml.datasets",
            "gpuml.datasets_fetch",
            "gpuml.serialize",
        ),
    ),
    ("package", ("gpuml",)),  # gpuml/__init__.py, the public facade over ops and the runtime
    (
        "applications",
        (
            "gpuml.augment.cli",
            "gpuml.cli",
            "gpuml.images",
            "gpuml.export",
            "gpuml.train",
            "gpuml.train_config",
            "gpuml.report",
            "gpuml.regularization",
            "gpuml.demos",
            "gpuml.webbuild",
            "gpuml.bench",
            "gpuml.bench_suite",
            "gpuml.bench_cold",
            "gpuml.bench_web",
            "gpuml.plots",
            "gpuml.bundle",
            "gpuml.testing",
            "gpuml.playground",
            "gpuml.web",
            "gpuml.__main__",
        ),
    ),
]


def layer_of(module: str) -> int | None:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph(root: Path) -> dict[str, set[str]]:
    mods = {module_name(p, root): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    edges[mod].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on, stack, out = set(), [], []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def violations(edges: dict[str, set[str]]) -> list[str]:
    out = []
    for mod, targets in sorted(edges.items()):
        lm = layer_of(mod)
        if lm is None:
            out.append(f"{mod}: in no layer (add it to tests/layers.py LAYERS)")
            continue
        for t in sorted(targets):
            lt = layer_of(t)
            if lt is not None and lt > lm:
                out.append(f"{mod} ({LAYERS[lm][0]}) imports {t} ({LAYERS[lt][0]})")
    return out


def main(package: str) -> int:
    root = Path(package).resolve()
    edges = graph(root)
    bad = violations(edges)
    loops = cycles(edges)
    for line in bad:
        print("layer:", line)
    for comp in loops:
        print(f"cycle of {len(comp)}:", " <-> ".join(comp))
    print(f"{len(bad)} layer violation(s), {len(loops)} import cycle(s)")
    return 1 if bad or loops else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "gpuml"))
