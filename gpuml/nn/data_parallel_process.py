"""This process's side of :mod:`gpuml.nn.data_parallel`'s helper process: starting it, the shared file, and the
commands (the helper's loop is :func:`gpuml.nn.data_parallel_helper.serve`).

One helper per process, started by ``python -c`` (not multiprocessing, whose spawn would re-run a user's script
without a ``__main__`` guard) with one thread and OpenBLAS at one thread, in its own session (Ctrl-C stops this
process only); it exits when its command pipe closes. Weights, inputs, outputs and gradients pass through one shared
memory file (memfd, sparse: only what a batch uses is touched), commands and answers through pipes. Each command
holds :attr:`Helper.lock` until its answer is read (another thread meanwhile runs its halves here); an answer left
unread (Ctrl-C while waiting) is owed and read before the next command.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import warnings
from collections import OrderedDict

REGION_BYTES = 512 << 20  # the shared file's size (sparse); a batch needing more runs its halves here
HEADER = 16  # floats before the weights in the shared file
HELPER_MODELS = 8  # model copies the helper keeps (least recently used dropped)
WAIT_S = 120.0  # a helper silent this long is given up on (the halves then run here)
# Waiting for the helper, poll this long before sleeping: a woken process starts late; 2 ms of polling made the
# LeNet-5 step ~5% faster on the 2-core VM. The helper does not poll for its next command: that made the step
# slower (its polling takes cycles from this process's loss and optimizer step; benchmarks/RESULTS.md, 2026-12-07).
SPIN_S = 0.002

_HELPERS: list = []  # [the process's Helper], or [None] once one failed (not restarted)
_START = threading.Lock()
_DROPS: list = []  # tokens of models gone (their copies are dropped with the next command)


def helper():
    """The running helper when it is up and free, else None (starting it on first call)."""
    if not _HELPERS:
        with _START:
            if not _HELPERS:
                try:
                    _HELPERS.append(Helper())
                except OSError as e:
                    _HELPERS.append(None)  # before the warning, which may raise (-W error): never tried again
                    warnings.warn(f"gpuml: no helper process for batch halves ({e}); they run here", stacklevel=4)
                return None
    h = _HELPERS[0]
    return h if h is not None and h.up() else None


def failed() -> bool:
    return bool(_HELPERS) and (_HELPERS[0] is None or _HELPERS[0].failed)


def drop_later(token: int) -> None:
    """A model is gone: its copy in the helper goes with the next command (called from a finalizer)."""
    _DROPS.append(token)


def _after_fork() -> None:
    """A forked child holds the parent's pipe ends: closed here (the parent's helper must see its pipe close when
    the parent ends), and the child starts its own helper (with a new start lock: a thread of the parent's may
    have held it at the fork)."""
    global _START
    _START = threading.Lock()
    for h in _HELPERS:
        if h is not None:
            h.forget()
    _HELPERS.clear()
    _DROPS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def shared_parameters(region, size: int):
    """The weights and the helper's gradients in the shared file: views of ``size`` floats each."""
    return region[HEADER : HEADER + size], region[HEADER + size : HEADER + 2 * size]


def spin(ready, seconds: float) -> bool:
    end = time.perf_counter() + seconds
    while not ready():
        if time.perf_counter() > end:
            return False
    return True


def _reissue(caught) -> None:
    """The helper's numpy warnings, raised here (the user's filters apply: ``-W error`` raises)."""
    import builtins

    for name, message in caught:
        category = getattr(builtins, name, RuntimeWarning)
        if not (isinstance(category, type) and issubclass(category, Warning)):
            category = RuntimeWarning
        warnings.warn(message, category, stacklevel=5)


class Broken(Exception):
    """The helper's answers cannot be trusted or are not coming."""


# what a dead or broken helper raises here (not OSError as a whole: a user's alarm handler may raise TimeoutError)
HELPER_GONE = (Broken, EOFError, BrokenPipeError, ConnectionError)


class _Job:
    """A command's answer to come (the helper's lock is held until it is read)."""

    def __init__(self, helper, on_reply):
        self.helper, self.on_reply = helper, on_reply

    def result(self, drop: bool = False):
        """The helper's answer (through ``on_reply``), or None when it failed (then it is not used again). ``drop``:
        read and drop it; an error it reports then is not the helper's failure (this process's half failed first,
        most likely alike)."""
        h = self.helper
        try:
            # an exception of the caller's (Ctrl-C, its own alarm) while waiting leaves the answer owed
            if not spin(h.recv.poll, SPIN_S) and not h.recv.poll(WAIT_S):
                raise Broken(f"no answer in {WAIT_S:.0f} s")
            reply = h.read()
            if drop:
                return None
            if reply[0] == "error":
                raise Broken(reply[1])
            _reissue(reply[-1])
            return self.on_reply(reply)
        except HELPER_GONE as e:
            h.fail(e)
            return None
        finally:
            h.holder = None
            h.lock.release()


class Helper:
    """The helper process and the shared file."""

    def __init__(self):
        import mmap
        import subprocess
        import tempfile
        from multiprocessing.connection import Connection

        import numpy as np

        self.owner = os.getpid()
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("gpuml-halves")
        else:
            with tempfile.TemporaryFile() as f:
                fd = os.dup(f.fileno())
        os.ftruncate(fd, REGION_BYTES)
        self.mem = mmap.mmap(fd, REGION_BYTES)
        self.region = np.frombuffer(self.mem, np.float32)
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        # this process's import path (its numpy, its gpuml first), without the working folder that -c would put
        # first (a user's mmap.py or queue.py there), and its isolation flags (-I, -E, -s, -P, -S)
        path = [root, *(os.path.abspath(p) for p in sys.path if p and os.path.abspath(p) != root)]
        code = (
            f"import sys; sys.path[:] = {path!r}; from gpuml.nn.data_parallel_helper import serve; "
            f"serve({cmd_r}, {rep_w}, {fd})"
        )
        flags = [f for f in subprocess._args_from_interpreter_flags() if f in ("-I", "-E", "-s", "-P", "-S", "-B")]
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        env["GPUML_CPU_THREADS"] = "1"  # the helper's setting (it reads it through gpuml.config)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, *flags, "-c", code],
                pass_fds=(cmd_r, rep_w, fd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            for f in (cmd_r, rep_w, fd):  # the helper's ends (ours close with the connections)
                os.close(f)
        self.send = Connection(cmd_w, readable=False)
        self.recv = Connection(rep_r, writable=False)
        self.lock = threading.Lock()
        self.ready = self.failed = False
        self.owed = 0  # answers not read yet (a Ctrl-C while waiting): read before the next command
        self.holder = None  # the thread whose command holds the lock
        self.models: OrderedDict = OrderedDict()  # tokens of the models the helper holds a copy of
        atexit.register(self.close)

    def up(self) -> bool:
        if self.failed:
            return False
        if not self.ready and self.lock.acquire(blocking=False):
            try:
                if self.recv.poll():
                    reply = self.recv.recv()
                    self.ready = reply[0] == "ready"
                    if not self.ready:
                        raise Broken(str(reply))
            except HELPER_GONE as e:
                self.fail(e)
            finally:
                self.lock.release()
        return self.ready

    def fail(self, why) -> None:
        if self.failed:
            return
        self.failed = True
        code = self.proc.poll()
        what = f"it exited with code {code}" if code is not None else f"{type(why).__name__}: {why}"
        self.close()  # before the warning, which may raise (-W error)
        warnings.warn(f"gpuml: the two-halves helper process stopped ({what}); halves run here", stacklevel=5)

    def close(self) -> None:
        import subprocess

        if os.getpid() != self.owner:  # a forked child's exit: the helper is its parent's
            return
        try:
            self.send.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def forget(self) -> None:
        """In a forked child: close the inherited pipe ends, leave the process to the parent."""
        for conn in (self.send, self.recv):
            try:
                conn.close()
            except OSError:
                pass
        self.failed = True

    # --- commands (the lock held) -----------------------------------------------------------------------------
    def read(self):
        """One answer (the caller polled). An exception inside the read (Ctrl-C between a message's header and body)
        leaves the stream out of step: the helper is given up."""
        reply = None
        try:
            reply = self.recv.recv()
        finally:
            if reply is None:
                self.fail(Broken("interrupted while reading an answer"))
            else:
                self.owed -= 1
        return reply

    def _settle(self) -> None:
        """Read the answers still owed (an earlier wait interrupted) before anything is written to the shared file:
        the helper may still be writing that command's output."""
        while self.owed:
            if not self.recv.poll(WAIT_S):
                raise Broken(f"no answer in {WAIT_S:.0f} s")
            self.read()

    def _command(self, msg) -> None:
        """Send ``msg``, whose answer will be read."""
        self.send.send(msg)
        self.owed += 1

    def _models(self, token: int, spec) -> None:
        """Drop the copies of models gone, and build this one's if the helper has none (no answer: a failed build
        is reported by the command that needs the model)."""
        while _DROPS:
            gone = _DROPS.pop()
            if self.models.pop(gone, None) is not None:
                self.send.send(("drop", gone))
        if token in self.models:
            self.models.move_to_end(token)
            return
        self.send.send(("model", token, *spec()))
        self.models[token] = True
        if len(self.models) > HELPER_MODELS:
            old, _ = self.models.popitem(last=False)
            self.send.send(("drop", old))

    def _start(self, fn):
        """``fn()`` (which sends a command) with the lock; a job for its answer, or None (busy, failed)."""
        me = threading.get_ident()
        if self.failed:
            return None
        if not self.lock.acquire(blocking=False):
            if self.holder != me:
                return None  # another thread's command
            # this thread's own: a job lost to an exception before its answer was read (owed: settled below)
        self.holder = me
        try:
            self._settle()
            return fn()
        except HELPER_GONE as e:
            self.holder = None
            self.lock.release()
            self.fail(e)
            return None
        except BaseException:
            self.holder = None
            self.lock.release()
            raise

    def forward(self, token: int, spec, weights, x1, out_size: int) -> _Job | None:
        """The helper runs the model on ``x1`` (host array); the job's result is its output (a copy)."""
        import numpy as np

        size, n_in, n_out = weights.size, x1.size, x1.shape[0] * out_size
        if HEADER + 2 * size + 2 * n_in + 2 * n_out > self.region.size:
            return None
        r = self.region
        x_off = HEADER + 2 * size

        def send():
            self._models(token, spec)
            np.copyto(shared_parameters(r, size)[0], weights)
            r[x_off : x_off + n_in] = x1.reshape(-1)
            self._command(("f", token, tuple(x1.shape), x_off, x_off + n_in))
            return _Job(self, output)

        def output(reply):
            y_off, shape = x_off + n_in, reply[1]
            return r[y_off : y_off + int(np.prod(shape))].reshape(shape).copy()

        return self._start(send)

    def backward(self, token: int, g1, want_gx: bool, grad) -> _Job | None:
        """The helper runs the backward of its last forward of the model on ``g1``; the job adds its parameter
        gradients into ``grad`` (while the lock is held) and returns ``(input gradient (a copy) or None,)``."""
        import numpy as np

        if token not in self.models:
            return None  # its copy was dropped since its forward: its half runs here again
        n, size, r = g1.size, grad.size, self.region
        g_off = r.size - n  # the output gradient at the end, the input gradient before it

        def grads(reply):
            np.add(grad, shared_parameters(r, size)[1], out=grad)
            if reply[1] is None:
                return (None,)
            m = int(np.prod(reply[1]))
            return (r[g_off - m : g_off].reshape(reply[1]).copy(),)

        def send():
            r[g_off:] = g1.reshape(-1)
            self._command(("b", token, tuple(g1.shape), g_off, want_gx))
            return _Job(self, grads)

        return self._start(send)
