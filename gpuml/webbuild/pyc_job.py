"""Runs inside Pyodide (under node, at build time; see gpuml.webbuild.pyc), never on the host: compiles the page's
Python to bytecode with the page's own CPython, so the browser does not compile it on every first visit.

``main(job)`` reads the archives named in ``job`` from Pyodide's file system and writes:

- the stdlib zip with every module that Pyodide's boot and ``import gpuml_web`` import as an unchecked hash-based
  ``.pyc`` in place of its ``.py`` (zipimport loads it without reading a source), the other modules as source, and
  the packages the page never imports (``DROP``) left out;
- gpuml's wheel with every module as ``.pyc`` in place of its ``.py`` (sourceless, without docstrings), minus
  native-only packages.

Compiling in Pyodide gives exactly its CPython's bytecode format (magic number, cache tag) whatever the host runs.
"""

import ast
import base64
import hashlib
import importlib._bootstrap_external as _bootstrap
import importlib.util
import io
import json
import sys
import zipfile

# stdlib packages the page never imports (REPL, debuggers, test frameworks, mail/XML-RPC servers, GUI toolkits,
# process pools): left out of the page's stdlib to pay for the bytecode (tests/browser run every demo without them)
DROP = (
    "unittest/",
    "pdb.py",
    "pydoc.py",
    "pydoc_data/",
    "doctest.py",
    "_pyrepl/",
    "xmlrpc/",
    "mailbox.py",
    "imaplib.py",
    "wsgiref/",
    "pickletools.py",
    "idlelib/",
    "tkinter/",
    "turtledemo/",
    "turtle.py",
    "lib2to3/",
    "ensurepip/",
    "venv/",
    "multiprocessing/",
    "xml/",
)
# what the page imports before Ready (web/site/snapshot.js's PRELOAD): their stdlib imports get bytecode
PRELOAD = (
    "gpuml_web",
    "gpuml.backends.browser",
    "gpuml.backends.python",
    "gpuml.shaders",
    "importlib.resources",
    "platform",
)
# gpuml packages that only run natively (glfw windows, the command line): not in the page's wheel
NATIVE_ONLY = ("gpuml/demos/", "gpuml/cli/")


class _NoDocstrings(ast.NodeTransformer):
    """Drops module, class and function docstrings (gpuml's, in the page: nothing there reads them, and they are
    ~12% of the wheel's compressed bytecode); line numbers and asserts stay, unlike ``-OO``."""

    def _strip(self, node):
        self.generic_visit(node)
        first = node.body[0] if node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            node.body = node.body[1:] or [ast.copy_location(ast.Pass(), first)]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def _pyc(source: bytes, filename: str, docstrings: bool = True) -> bytes:
    tree = compile(source, filename, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    if not docstrings:
        tree = _NoDocstrings().visit(tree)
    code = compile(tree, filename, "exec", dont_inherit=True)
    return bytes(_bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


def _hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def _module(name: str) -> str:
    mod = name[:-3].replace("/", ".")
    return mod.removesuffix(".__init__")


def _rewrite(entries) -> bytes:
    """A stored zip of ``entries`` ((name, bytes) pairs), deterministic (fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for name, data in entries:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            out.writestr(info, data)
    return buf.getvalue()


def main(job: dict) -> dict:
    site = job["site_packages"]
    with zipfile.ZipFile(job["wheel"]) as whl:
        whl.extractall(site)
    sys.path_importer_cache.clear()
    for name in PRELOAD:
        importlib.import_module(name)
    sys.modules["gpuml_web"].load_all()  # the demos' modules, imported on their first call
    used = set(sys.modules)
    stats = {"stdlib_pyc": 0, "stdlib_dropped": 0, "gpuml_pyc": 0, "gpuml_dropped": 0}

    def entries(archive, drop, compiled, prefix, kind, docstrings):
        """(name, bytes) of ``archive`` without ``drop``; ``.py`` files that ``compiled`` picks become ``.pyc``."""
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir():
                    continue
                if name.startswith(drop):
                    stats[f"{kind}_dropped"] += 1
                    continue
                data = zf.read(info)
                if name.endswith(".py") and compiled(name):
                    stats[f"{kind}_pyc"] += 1
                    yield name[:-3] + ".pyc", _pyc(data, f"{prefix}/{name}", docstrings=docstrings)
                else:
                    yield name, data

    stdlib_entries = entries(job["stdlib"], DROP, lambda n: _module(n) in used, job["stdlib_path"], "stdlib", True)
    wheel_entries = entries(job["wheel"], NATIVE_ONLY, lambda n: True, site, "gpuml", False)

    with open(job["stdlib_out"], "wb") as f:
        f.write(_rewrite(stdlib_entries))
    wheel = dict(wheel_entries)
    record = next(name for name in wheel if name.endswith(".dist-info/RECORD"))
    wheel[record] = "".join(f"{name},{_hash(data)}\n" for name, data in wheel.items() if name != record).encode()
    wheel[record] += f"{record},,\n".encode()
    with open(job["wheel_out"], "wb") as f:
        f.write(_rewrite(wheel.items()))
    stats["python"] = sys.version.split()[0]
    stats["cache_tag"] = sys.implementation.cache_tag
    with open(job["stats_out"], "w") as f:
        json.dump(stats, f)
    return stats
