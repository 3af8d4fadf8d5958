"""Threads for the numpy twins, with numpy's OpenBLAS held at one thread meanwhile: the convolutions hand their
GEMMs to a worker thread that runs them one block behind the caller's copies (:class:`Offload`, a software
pipeline); 2x2 max pooling and Adam split their images / ranges over the threads (:func:`run_parts`, ranges
claimed on demand).

numpy releases the GIL in BLAS calls and in most ufunc and copy loops, but a short call (tens of microseconds)
gives it up and takes it back before a waiting thread wakes: two threads that both run chains of short calls
queue for the GIL instead of running side by side. A GEMM holds no GIL for its whole length, so a worker that
runs only GEMMs overlaps with a caller running the copies. OpenBLAS's own threads help little on these small,
skinny GEMMs and spin after a call, collapsing when the cores are shared (benchmarks/RESULTS.md, "numpy backend vs
PyTorch (issue 20.3)"). So OpenBLAS is set to one thread (``openblas_set_num_threads`` through ctypes, on the
library numpy already loaded) while parts or handed-over GEMMs run and the caller's setting comes back after;
small GEMMs between them run in :func:`blas_single`, for the same reason.

How many threads: ``GPUML_CPU_THREADS`` where set, else what numpy's OpenBLAS is set to (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` when it loaded, threadpoolctl's limit at run time, else its CPU count), else the CPUs this
process may use. Each range or block computes exactly what the one-thread path computes for its images (same
chunks, same GEMM shapes), and sums across them run after in the one-thread order: the results equal those of one
thread with OpenBLAS at one thread (OpenBLAS's own threads may round a long GEMM differently).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import queue
import sys
import threading

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
    import glob  # here: import gpuml should not pay for it

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
_CREW: list = []  # the job queues of this process's worker threads (the caller works too)
_BUSY = [threading.Lock()]  # held by the caller whose parts the crew runs; another caller meanwhile runs inline


def _after_fork() -> None:  # a forked child has none of the parent's threads, and maybe a lock held by one
    global _LOCK
    _LOCK = threading.Lock()
    _CREW.clear()
    _BUSY[0] = threading.Lock()
    _PINNED[0] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


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
    return _cpus()


def _cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
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


class _Job:
    """One run_parts call: ranges of ``[0, count)`` handed out on demand, each about a ``1 / (threads + 1)`` share
    of what is left but at least ``1 / (2 * threads)`` of the whole and ``grain`` units (two threads: 3/8, 1/4,
    1/4, 1/8 of the work; few ranges, as each costs a little Python, and a small last one). A late or descheduled
    thread then costs the others only the range it holds, not a fixed share of the work (benchmarks/RESULTS.md,
    issue 20.3)."""

    __slots__ = ("active", "closed", "count", "done", "error", "fn", "grain", "least", "lock", "next", "threads")

    def __init__(self, fn, count: int, grain: int, threads: int):
        self.fn, self.count, self.threads, self.grain = fn, count, threads, grain
        self.least = max(grain, -(-count // (2 * threads)))
        self.next = self.active = 0
        self.closed, self.error = False, None
        self.lock, self.done = threading.Lock(), threading.Lock()
        self.done.acquire()

    def claim(self):
        with self.lock:
            a = self.next
            if a >= self.count:
                return None
            rest = self.count - a
            b = a + min(rest, max(self.least, -(-rest // (self.threads + 1))))
            if self.count - b < self.grain:  # no tail smaller than a grain
                b = self.count
            self.next = b
            self.active += 1
            return a, b

    def work(self) -> None:
        """Claim and run ranges until none is left (every thread of the job, the caller included)."""
        while (r := self.claim()) is not None:
            try:
                self.fn(*r)
            except BaseException as e:  # handed to the caller; no more claims
                with self.lock:
                    self.error = self.error or e
                    self.next = self.count
            finally:
                with self.lock:
                    self.active -= 1
                    if self.closed and not self.active:
                        self.done.release()

    def close(self) -> None:
        """Wait until every claimed range has run (no range is left to claim: the caller ran out)."""
        with self.lock:
            self.closed = True
            wait = self.active > 0
        if wait:
            self.done.acquire()


def _loop(jobs) -> None:
    while True:
        job = jobs.get()
        job.work()
        del job  # a parked thread keeps no job's arrays alive


def _workers(n: int) -> list:
    while len(_CREW) < n:
        jobs = queue.SimpleQueue()
        threading.Thread(target=_loop, args=(jobs,), name=f"gpuml-cpu-{len(_CREW) + 1}", daemon=True).start()
        _CREW.append(jobs)
    return _CREW[:n]


_LOADAVG: list = []  # [file descriptor of /proc/loadavg, or None where there is none]


def cpu_to_spare() -> bool:
    """Whether a CPU is idle right now besides the calling thread's: fewer threads running system-wide (Linux's
    /proc/loadavg, read in ~2 us) than this process may use CPUs. Handing a GEMM to a worker paid only then: on
    the 2-core VM LeNet's staged conv2 backward made the step 7% faster with the second core idle and 4-10% slower
    with another process on it (benchmarks/RESULTS.md, "numpy backend: LeNet-5 step on two threads"). True
    where the count is unknown."""
    if not _LOADAVG:
        try:
            _LOADAVG.append(os.open("/proc/loadavg", os.O_RDONLY))
        except (AttributeError, OSError):
            _LOADAVG.append(None)
    if _LOADAVG[0] is None:
        return True
    try:  # "0.52 0.58 0.59 2/345 6789": the running count includes this thread
        running = int(os.pread(_LOADAVG[0], 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < _cpus()


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``[0, count)`` as ``parts`` contiguous ranges whose lengths differ by at most one."""
    return list(itertools.pairwise([count * i // parts for i in range(parts + 1)]))


def run_parts(fn, count: int, *, min_per_part: int = 1) -> int:
    """``fn(start, stop)`` over contiguous ranges that cover ``[0, count)`` once, at least ``min_per_part`` units
    each (the last may be all that is left), run by the calling thread and up to ``threads() - 1`` workers: each
    claims the next range when it is free (:class:`_Job`), so ``fn`` must give the same results whichever thread
    runs a range and however the ranges fall. BLAS runs single-threaded while the ranges run (put back after). One
    thread, too little work, or called from inside a range or while another thread's ranges run: just
    ``fn(0, count)``, BLAS as set. Returns the number of threads offered the work."""
    n = min(threads(), count // max(1, min_per_part))
    busy = _BUSY[0]
    if n <= 1 or not busy.acquire(blocking=False):
        fn(0, count)
        return 1
    try:
        job = _Job(fn, count, max(1, min_per_part), n)
        _pin()
        try:
            for jobs in _workers(n - 1):
                jobs.put(job)
            try:
                job.work()
            finally:
                job.close()  # every range ends before the caller goes on
        finally:
            _unpin()
    finally:
        busy.release()
    if job.error is not None:
        raise job.error
    return n


def batch_halves() -> bool:
    """Whether a model's batch may run as two halves at once, the second in a helper process
    (gpuml.nn.data_parallel): two or more threads set, ``GPUML_CPU_HALVES`` not 0, and helper processes to be had
    (POSIX, not Pyodide)."""
    if os.name != "posix" or sys.platform == "emscripten" or getattr(sys, "frozen", False):  # (a frozen app's
        return False  # sys.executable is the app itself)
    return setting("GPUML_CPU_HALVES") != "0" and threads() > 1


@contextlib.contextmanager
def alone():
    """A context in which the calling thread's ops run inline (the crew held) with OpenBLAS at one thread: the
    one-thread code, for a caller that keeps the other CPUs busy itself (gpuml.nn.data_parallel's helper process)."""
    busy = _BUSY[0]
    held = busy.acquire(blocking=False)  # else another caller's parts run: ours run inline all the same
    _pin()
    try:
        yield
    finally:
        _unpin()
        if held:
            busy.release()


SMALL_GEMM = 1 << 24  # multiply-adds: below, one BLAS thread when the twins use several


def blas_single(macs: int):
    """A context for a GEMM of ``macs`` multiply-adds between split ops: one OpenBLAS thread when it is small and
    the twins use several threads (OpenBLAS's threads would wake for it, then spin on the core the next split op
    needs); BLAS as set otherwise."""
    return _SingleBLAS() if macs < SMALL_GEMM else contextlib.nullcontext()


class _SingleBLAS:
    def __enter__(self):
        self.on = threads() > 1
        if self.on:
            _pin()
        return self

    def __exit__(self, *exc):
        if self.on:
            _unpin()


class _Task:
    """One call handed to a worker thread by :class:`Offload`; ``wait`` returns once it ran (raising its error)."""

    __slots__ = ("done", "error", "fn", "waited")

    def __init__(self, fn):
        self.fn, self.error, self.waited = fn, None, False
        self.done = threading.Lock()
        self.done.acquire()

    def work(self) -> None:
        try:
            self.fn()
        except BaseException as e:  # handed to the waiter
            self.error = e
        finally:
            self.fn = None
            self.done.release()

    def wait(self) -> None:
        if not self.waited:
            self.done.acquire()
            self.waited = True
        if self.error is not None:
            raise self.error


class _Ran:
    @staticmethod
    def wait() -> None:
        pass


class Offload:
    """A context in which ``submit(fn)`` hands ``fn`` to one worker thread (in order) while the caller goes on,
    ``.wait()`` on the returned task before its results are read. Meant for GEMMs: numpy runs them without the
    GIL, so the worker needs it only to start and end one, while the caller runs the copies between them (numpy's
    short calls give the GIL up and take it back so often that two threads running them queue for it instead of
    running side by side: benchmarks/RESULTS.md, issue 20.3). OpenBLAS is held at one thread meanwhile. One
    thread, not ``wanted``, or while another caller's parts run: ``fn`` runs at once, inline (``on`` is False);
    with several threads OpenBLAS stays at one all the same (its own threads spin and collapse on shared cores, and
    round long sums differently)."""

    def __init__(self, wanted: bool = True):
        self.wanted = wanted

    def __enter__(self):
        self.queue, self.tasks, self.pinned = None, [], threads() > 1
        if self.pinned:
            _pin()
            if self.wanted and _BUSY[0].acquire(blocking=False):
                self.queue = _workers(1)[0]
        return self

    @property
    def on(self) -> bool:
        return self.queue is not None

    def submit(self, fn):
        if self.queue is None:
            fn()
            return _Ran
        task = _Task(fn)
        self.tasks.append(task)
        self.queue.put(task)
        return task

    def __exit__(self, *exc):
        if self.queue is None:
            if self.pinned:
                _unpin()
            return
        try:
            for task in self.tasks:  # every handed-over call ends before the caller goes on
                if not task.waited:
                    task.done.acquire()
                    task.waited = True
        finally:
            _unpin()
            _BUSY[0].release()
        if exc[0] is None:
            for task in self.tasks:
                if task.error is not None:
                    raise task.error
