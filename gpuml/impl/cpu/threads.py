"""Threads for the numpy twins: the big ops split their work (chunks of images, rows, flat ranges) over a small
pool, with numpy's BLAS held at one thread meanwhile.

numpy releases the GIL in BLAS calls and in most ufunc and copy loops, so two Python threads each running a
convolution on half of the images use two cores; OpenBLAS's own threads help little on the step's small, skinny
GEMMs, and while they spin after a call they take the core the second half needs (benchmarks/RESULTS.md, "numpy
backend vs PyTorch (issue 20.3)"). So :func:`run_parts` sets OpenBLAS to one thread (``openblas_set_num_threads``
through ctypes, on the library numpy already loaded) for the parts and puts the caller's setting back after.

How many threads: ``GPUML_CPU_THREADS`` where set, else what numpy's OpenBLAS is set to (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` when it loaded, threadpoolctl's limit at run time, else the CPU count), else the CPU count.
Each part computes exactly what the one-thread path computes for its images (same chunks, same GEMM shapes), and
sums across parts happen after them in the one-thread order: results do not depend on the thread count.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import itertools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...config import setting

# (get, set) symbol pairs of OpenBLAS builds: numpy's wheels (scipy-openblas, 64-bit ints), then plain builds
_SYMBOLS = [
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
]


class _OpenBLAS:
    def __init__(self, path: str, get, set_):
        self.path, self.get, self.set = path, get, set_


def _candidates() -> list[str]:
    """Shared libraries that may be numpy's BLAS: numpy's bundled ones first, then loaded ones named *blas*."""
    here = os.path.dirname(np.__file__)
    paths = []
    for pattern in ("../numpy.libs/*blas*", ".dylibs/*blas*", "../numpy/.libs/*blas*"):
        paths += sorted(glob.glob(os.path.join(here, pattern)))
    try:
        with open("/proc/self/maps") as f:  # Linux: every mapped library; a system numpy links libblas.so.3
            for line in f:
                path = line.split(None, 5)[-1].strip() if line.count(" ") >= 5 else ""
                if "blas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def _find_openblas() -> _OpenBLAS | None:
    """The OpenBLAS numpy loaded, with its thread getter and setter; None for another BLAS or none found."""
    if sys.platform == "emscripten":
        return None
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 0)  # only a library that is already loaded
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path, mode=mode)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            get, set_ = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and set_ is not None:
                get.argtypes, get.restype = (), ctypes.c_int
                set_.argtypes, set_.restype = (ctypes.c_int,), None
                return _OpenBLAS(path, get, set_)
    return None


_BLAS: list = []  # [_OpenBLAS or None], found on first use
_LOCK = threading.Lock()
_PINNED = [0, 1]  # [regions holding OpenBLAS at one thread, the thread count to put back after the last]
_LOCAL = threading.local()  # .inside: this thread runs a part (a nested run_parts runs inline)
_POOL: list = [None, 0, 0]  # [executor, workers, pid]


def openblas():
    """numpy's OpenBLAS thread control (``.path``, ``.get()``, ``.set(n)``), or None."""
    if not _BLAS:
        with _LOCK:
            if not _BLAS:
                _BLAS.append(_find_openblas())
    return _BLAS[0]


def threads() -> int:
    """How many threads the numpy twins use (see the module docstring); 1 in Pyodide."""
    value = setting("GPUML_CPU_THREADS")
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"GPUML_CPU_THREADS={value!r}: expected a whole number of threads (1 or more)") from None
        return max(1, n)
    if sys.platform == "emscripten":
        return 1
    blas = openblas()
    if blas is not None:
        with _LOCK:
            return max(1, _PINNED[1] if _PINNED[0] else blas.get())
    return os.cpu_count() or 1


def _pin() -> None:
    blas = openblas()
    if blas is None:
        return
    with _LOCK:
        if _PINNED[0] == 0:
            _PINNED[1] = blas.get()
            if _PINNED[1] != 1:
                blas.set(1)
        _PINNED[0] += 1


def _unpin() -> None:
    blas = openblas()
    if blas is None:
        return
    with _LOCK:
        _PINNED[0] -= 1
        if _PINNED[0] == 0 and _PINNED[1] != 1:
            blas.set(_PINNED[1])


def _pool(workers: int) -> ThreadPoolExecutor:
    pool, size, pid = _POOL
    if pool is None or size < workers or pid != os.getpid():  # a forked child has none of the parent's threads
        with _LOCK:
            pool, size, pid = _POOL
            if pool is None or size < workers or pid != os.getpid():
                old = pool if pid == os.getpid() else None
                pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gpuml-cpu")
                _POOL[:] = [pool, workers, os.getpid()]
                if old is not None:
                    old.shutdown(wait=False)
    return pool


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``[0, count)`` as ``parts`` contiguous ranges whose lengths differ by at most one."""
    return list(itertools.pairwise([count * i // parts for i in range(parts + 1)]))


def run_parts(fn, count: int, *, min_per_part: int = 1) -> int:
    """``fn(start, stop)`` over ``[0, count)`` split into one contiguous range per thread, at least
    ``min_per_part`` units each; the first range runs in the calling thread. BLAS runs single-threaded while
    the parts run (put back after). One range (one thread, too little work, or called from inside a part): just
    ``fn(0, count)``, BLAS as set. Returns the number of parts."""
    n = min(threads(), count // max(1, min_per_part))
    if n <= 1 or getattr(_LOCAL, "inside", False):
        fn(0, count)
        return 1
    ranges = split(count, n)
    _pin()
    try:
        futures = [_pool(n - 1).submit(_part, fn, a, b) for a, b in ranges[1:]]
        try:
            _part(fn, *ranges[0])
        finally:
            errors = [f.exception() for f in futures]  # wait for every part: they write into shared outputs
    finally:
        _unpin()
    for e in errors:
        if e is not None:
            raise e
    return n


def _part(fn, a: int, b: int) -> None:
    _LOCAL.inside = True
    try:
        fn(a, b)
    finally:
        _LOCAL.inside = False


SMALL_GEMM = 1 << 24  # multiply-adds: below, one BLAS thread when the twins use several


def blas_single(macs: int):
    """A context for a GEMM of ``macs`` multiply-adds between split ops: one OpenBLAS thread when it is small and
    the twins use several threads (OpenBLAS's threads would wake for it, then spin on the core the next split op
    needs); BLAS as set otherwise."""
    return _SingleBLAS() if macs < SMALL_GEMM else contextlib.nullcontext()


class _SingleBLAS:
    def __enter__(self):
        self.on = threads() > 1 and not getattr(_LOCAL, "inside", False)
        if self.on:
            _pin()
        return self

    def __exit__(self, *exc):
        if self.on:
            _unpin()
