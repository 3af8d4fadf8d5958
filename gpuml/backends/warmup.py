"""Work run on a background thread to compile kernels ahead of need (``GPUDevice.warm``).

Pipeline creation is where lavapipe compiles (LLVM), the largest part of a first call's wait (benchmarks/RESULTS.md,
"Cold start"); it runs in wgpu-native with the GIL released and outside gpuml's device lock, so a warm-up thread
compiles while the main thread waits for the user or does other work. No numpy, no wgpu: also imported in Pyodide,
where threads do not start (the warm-up is skipped there: it is only ever an optimisation).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref

_local = threading.local()
_running: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _join_at_exit() -> None:
    """Let warm-ups still compiling finish before the interpreter (and the device) shut down under them."""
    for warmup in list(_running):
        warmup._thread.join(60)


def warming() -> bool:
    """Whether the calling thread is a warm-up thread (its uses of a shape class do not count towards tuning)."""
    return getattr(_local, "warming", False)


class Warmup:
    """Work running on a daemon thread (:meth:`GPUDevice.warm`); ``wait()`` joins it and re-raises its error."""

    def __init__(self, work):
        self.error: BaseException | None = None
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="gpuml-warm", daemon=True)
        try:
            self._thread.start()
            _running.add(self)
        except RuntimeError:  # no threads (Pyodide): skip it
            self.seconds = 0.0

    def _run(self, work) -> None:
        t0 = time.perf_counter()
        _local.warming = True
        try:
            for fn in work:
                fn()
        except BaseException as exc:  # kept for wait(): a warm-up must not kill the program
            self.error = exc
        self.seconds = time.perf_counter() - t0

    def done(self) -> bool:
        return self.seconds is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the work (at most ``timeout`` seconds); True when it finished. Re-raises its error."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.done()
