"""The demo framework: a window (rendercanvas + glfw) or an offscreen canvas, the frame loop, input events,
frame timing and screenshots. Rendering runs on the same wgpu device as gpuml's compute
(``gpuml.get_device().wgpu_device``), so demos bind compute tensors in render pipelines without a host copy.

A demo is a thin front end over a model of :mod:`gpuml.playground` (its state, ``step``, controls and what to
draw as plain data; the web page drives the same models): it subclasses :class:`Demo`, keeps the model in
``self.model``, and implements ``update`` (advance the model, once per frame), ``draw`` (lay the model's view out
on a :class:`~gpuml.demos.render.Renderer`) and ``on_key`` / ``on_pointer`` (input -> the model's controls).
``state`` (a JSON-able summary that tests compare before and after input) is the model's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import wgpu

from .render import DIM, TEXT, Renderer

DESIGN_SIZE = (1280, 800)
# A frame's share for a demo's work (training steps, evaluation slices): at most WORK_BUDGET_S, and less when the
# rest of the frame (drawing, rendering, presenting: 10-20 ms on lavapipe, more on a loaded machine) would take
# the frame past FRAME_TARGET_S; one unit more than estimated still leaves the frame under 50 ms.
WORK_BUDGET_S = 0.025
FRAME_TARGET_S = 0.038
MIN_WORK_S = 0.004


class WorkBudget:
    """How many units of one kind of work (a training step, a batch, an evaluation slice) fit in a frame's budget,
    from an average of the seconds per unit measured so far. The work measured must wait for the device (end in a
    readback or a sync), so the time counted is the device's too: a frame renders on the same queue."""

    def __init__(self, seconds: float = WORK_BUDGET_S):
        self.seconds = seconds
        self.per_unit: float | None = None

    def units(self, cap: int | None = None) -> int:
        """Units that fit in the budget by the estimate (at least 1; at most ``cap``)."""
        n = 1 if self.per_unit is None else max(1, int(self.seconds / max(self.per_unit, 1e-6)))
        return min(n, cap) if cap else n

    def record(self, units: int, seconds: float) -> None:
        per = seconds / max(units, 1)
        self.per_unit = per if self.per_unit is None else 0.7 * self.per_unit + 0.3 * per

    def timed(self, work, units: int) -> float:
        """``work(units)``, recorded (as the units it returns when it returns an int: it may stop early); returns
        its seconds."""
        t0 = time.perf_counter()
        done = work(units)
        dt = time.perf_counter() - t0
        self.record(done if isinstance(done, int) and done > 0 else units, dt)
        return dt


class Demo:
    """Base class for a demo; see the module docstring."""

    name = "demo"
    title = "gpuml demo"
    help: tuple[tuple[str, str], ...] = ()

    def __init__(self, app: App, options: dict):
        self.app = app
        self.device = app.device
        self.options = options

    @classmethod
    def check_options(cls, options: dict) -> None:
        """Raise a one-line ValueError for a bad option before anything starts (a window, a device, data)."""

    def setup(self, renderer: Renderer) -> None:
        """Create pipelines once the renderer exists."""

    def update(self) -> None:
        pass

    def draw(self, r: Renderer) -> None:
        pass

    def on_key(self, key: str, modifiers: tuple[str, ...]) -> None:
        pass

    def on_pointer(self, kind: str, x: float, y: float, buttons: tuple[int, ...]) -> None:
        pass

    def state(self) -> dict:
        model = getattr(self, "model", None)
        return model.state() if model is not None else {}

    def draw_help(self, r: Renderer, x: float, y: float, width: float | None = None) -> None:
        """Key help as one line (or wrapped lines) of "key: action" pairs."""
        parts = [f"{k}: {v}" for k, v in self.help]
        line, lines = "", []
        limit = int((width or r.size[0] - 2 * x) // r.text_width("x", 12))
        for p in parts:
            candidate = f"{line}   {p}" if line else p
            if len(candidate) > limit and line:
                lines.append(line)
                line = p
            else:
                line = candidate
        lines.append(line)
        for i, text in enumerate(lines):
            r.text(text, x, y + i * 16, 12, DIM)


def _target_format(context, adapter) -> str:
    """The context's preferred format without sRGB encoding: demos specify colors in sRGB already."""
    preferred = context.get_preferred_format(adapter)
    return preferred.replace("-srgb", "")


def _check_display() -> None:
    """Fail with one line, before glfw aborts the process, where no display can be opened."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RuntimeError(
            "no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set): add --offscreen "
            "(with --screenshot out.png to see a frame), or run under a virtual display: xvfb-run -a gpuml demo ..."
        )


class App:
    """Runs one demo in a window or offscreen; records frame times."""

    def __init__(
        self, demo_cls, options: dict | None = None, *, offscreen: bool = False, size=DESIGN_SIZE, capture=False
    ):
        import gpuml

        demo_cls.check_options(dict(options or {}))  # a user's bad option first, then the missing display
        if not offscreen:
            _check_display()

        self.device = gpuml.get_device()
        if not self.device.is_gpu or not hasattr(self.device, "wgpu_device"):
            raise RuntimeError(
                f"demo windows need the native WebGPU backend (wgpu-py); the current backend is {self.device.name}"
            )
        self.offscreen = offscreen
        self.size = tuple(size)
        self.frame_times: list[float] = []  # seconds per frame (update + draw + render + present)
        self.frames = 0
        self.closed = False
        self._last_frame_start = None
        self._update_s = 0.0  # the last frame's demo.update()
        self._overheads: deque[float] = deque(maxlen=9)  # recent frames' time besides demo.update()
        self.capture = capture and not offscreen  # window + --screenshot: keep a copy of each frame drawn
        self.last_image = None
        self.demo = demo_cls(self, dict(options or {}))
        self.canvas = self._make_canvas()
        self.context = self.canvas.get_wgpu_context()
        wdev = self.device.wgpu_device
        fmt = _target_format(self.context, wdev.adapter)
        usage = {"usage": wgpu.TextureUsage.RENDER_ATTACHMENT | wgpu.TextureUsage.COPY_SRC} if self.capture else {}
        try:
            self.context.configure(device=wdev, format=fmt, **usage)
        except ValueError:  # this surface has no non-sRGB format: accept slightly lighter colors
            fmt = self.context.get_preferred_format(wdev.adapter)
            self.context.configure(device=wdev, format=fmt, **usage)
        self.format = fmt
        self.renderer = Renderer(wdev, fmt, self.size)
        self.demo.setup(self.renderer)
        self.canvas.request_draw(self._draw_frame)
        self.canvas.add_event_handler(
            self._on_event, "pointer_down", "pointer_move", "pointer_up", "key_down", "wheel", "close"
        )

    def _make_canvas(self):
        title = f"gpuml · {self.demo.title}"
        if self.offscreen:
            from rendercanvas.offscreen import RenderCanvas

            return RenderCanvas(size=self.size, title=title)
        from rendercanvas.glfw import RenderCanvas

        canvas = RenderCanvas(size=self.size, title=title, update_mode="continuous", max_fps=1000, vsync=False)
        try:  # a predictable place on screen (input tests move the X pointer to window coordinates)
            import glfw

            glfw.set_window_pos(canvas._window, 0, 0)
        except Exception:
            pass
        return canvas

    # --- events ------------------------------------------------------------------------------------------------
    def _to_design(self, x: float, y: float) -> tuple[float, float]:
        w, h = self.canvas.get_logical_size()
        return x * self.size[0] / max(w, 1), y * self.size[1] / max(h, 1)

    def _on_event(self, event: dict) -> None:
        kind = event["event_type"]
        if kind == "close":
            self.closed = True
        elif kind == "key_down":
            if event["key"] in ("Escape", "q"):
                self.close()
                return
            self.demo.on_key(event["key"], tuple(event.get("modifiers", ())))
        elif kind.startswith("pointer") or kind == "wheel":
            x, y = self._to_design(event["x"], event["y"])
            buttons = tuple(event.get("buttons", ()))
            if kind == "wheel":
                self.demo.on_key("WheelUp" if event.get("dy", 0) < 0 else "WheelDown", ())
            else:
                self.demo.on_pointer(kind, x, y, buttons)

    def work_budget(self) -> float:
        """Seconds a demo's update may spend on work this frame: WORK_BUDGET_S, less the amount by which the rest of
        recent frames (median) would take a frame past FRAME_TARGET_S; at least MIN_WORK_S. Frames drawn with
        pauses between them (tests, an idle window) count as slow ones, so they get little work each."""
        if not self._overheads:
            return WORK_BUDGET_S
        rest = sorted(self._overheads)[len(self._overheads) // 2]
        return min(WORK_BUDGET_S, max(MIN_WORK_S, FRAME_TARGET_S - rest))

    def feed(self, event: dict) -> None:
        """Inject an event (as rendercanvas delivers them) — for offscreen runs and tests."""
        self._on_event(event)

    def close(self) -> None:
        self.closed = True
        stop = getattr(self.demo, "close", None)  # demos with worker threads stop them
        if callable(stop):
            stop()
        try:
            self.canvas.close()
        except Exception:
            pass

    # --- frames ------------------------------------------------------------------------------------------------
    def _draw_frame(self) -> None:
        start = time.perf_counter()
        if self._last_frame_start is not None:
            interval = start - self._last_frame_start
            if not self.offscreen:
                self.frame_times.append(interval)  # window: frame-to-frame interval
            self._overheads.append(max(interval - self._update_s, 0.0))
        self._last_frame_start = start
        r = self.renderer
        texture = self.context.get_current_texture()
        r.physical = (texture.size[0], texture.size[1])  # demos that draw per physical pixel size buffers by it
        t0 = time.perf_counter()
        self.demo.update()
        self._update_s = time.perf_counter() - t0
        self.demo.draw(r)
        self._draw_hud(r)
        self.device.flush()  # compute recorded by the demo goes first: same queue, submitted in order
        r.render(texture)
        if self.capture:
            self.last_image = self._read_texture(texture)
        self.frames += 1
        if self.frames == 1 and not self.offscreen:
            print("first frame drawn", flush=True)  # input tests wait for this line
        limit = getattr(self, "_frame_limit", None)
        if limit is not None and self.frames >= limit and not self.offscreen:
            self.close()

    def _read_texture(self, texture) -> np.ndarray:
        """The frame just rendered as an RGBA uint8 array (window mode with --screenshot)."""
        w, h = texture.size[0], texture.size[1]
        stride = (w * 4 + 255) // 256 * 256  # copies need 256-byte rows
        wdev = self.device.wgpu_device
        buf = wdev.create_buffer(size=stride * h, usage=wgpu.BufferUsage.COPY_DST | wgpu.BufferUsage.MAP_READ)
        enc = wdev.create_command_encoder()
        enc.copy_texture_to_buffer(
            {"texture": texture}, {"buffer": buf, "bytes_per_row": stride, "rows_per_image": h}, (w, h, 1)
        )
        wdev.queue.submit([enc.finish()])
        buf.map_sync(wgpu.MapMode.READ)
        rows = np.frombuffer(buf.read_mapped(), np.uint8).reshape(h, stride)[:, : w * 4].reshape(h, w, 4).copy()
        buf.unmap()
        buf.destroy()
        if self.format.startswith("bgra"):
            rows = rows[:, :, [2, 1, 0, 3]]
        return rows

    def _draw_hud(self, r: Renderer) -> None:
        recent = self.frame_times[-30:]
        if recent:
            ms = float(np.median(recent)) * 1e3
            r.text(f"{ms:5.1f} ms/frame {1e3 / ms:4.0f} FPS", r.size[0] - 12, r.size[1] - 16, 12, TEXT, "right")

    def run(self, frames: int | None = None, screenshot: str | None = None) -> dict:
        """Offscreen: draw ``frames`` frames (default 1) and save the last as PNG. Window: run the event loop until
        closed (or for ``frames`` frames). Returns frame statistics."""
        if self.offscreen:
            image = None
            for _ in range(frames or 1):
                t0 = time.perf_counter()
                image = self.canvas.draw()
                self.frame_times.append(time.perf_counter() - t0)
            if screenshot and image is not None:
                save_png(np.asarray(image), screenshot)
        else:
            from rendercanvas.glfw import loop

            self._frame_limit = frames
            loop.run()
            if screenshot and self.last_image is not None:
                save_png(self.last_image, screenshot)
        return self.stats()

    def stats(self) -> dict:
        t = np.asarray(self.frame_times[1:] if len(self.frame_times) > 1 else self.frame_times) * 1e3
        out = {"demo": self.demo.name, "frames": self.frames, "adapter": self.device.adapter}
        if len(t):
            out.update(
                frame_ms_p50=float(np.percentile(t, 50)),
                frame_ms_p95=float(np.percentile(t, 95)),
                frame_ms_max=float(t.max()),
                fps_p50=1e3 / float(np.percentile(t, 50)),
            )
        return out


def save_png(image: np.ndarray, path: str | os.PathLike) -> None:
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * 255 if arr.dtype.kind == "f" else arr, 0, 255).astype(np.uint8)
    Image.fromarray(arr[:, :, :3] if arr.shape[2] == 4 else arr).save(path)


def check_output(path: str | os.PathLike, option: str, suffix: str | None = None) -> None:
    """A one-line ValueError, before a demo starts, for an output file (``option`` names it) it could not write when
    done: not a ``suffix`` name, a folder, or a place where no file can be written (missing folders are made when
    it is saved)."""
    import tempfile

    p = Path(path)
    if suffix and p.suffix.lower() != suffix:
        kind = suffix.lstrip(".").upper()
        raise ValueError(f"{option} {path}: screenshots are {kind} files, give a name ending in {suffix}")
    if p.is_dir():
        raise ValueError(f"{option} {path}: is a folder, give a file name" + (f" ending in {suffix}" if suffix else ""))
    existing = next(d for d in (p.parent, *p.parent.parents) if d.exists())  # the nearest folder there is
    if not existing.is_dir():
        raise ValueError(f"{option} {path}: {existing} is a file, not a folder")
    try:  # a real write (permission bits say nothing to root, nor about read-only mounts)
        if p.exists():
            open(p, "ab").close()
        else:
            tempfile.NamedTemporaryFile(dir=existing, prefix=".gpuml-").close()
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot write in {existing} ({exc.strerror or exc})") from None


def check_screenshot(path: str | os.PathLike) -> None:
    """:func:`check_output` for ``--screenshot``: a .png file."""
    check_output(path, "--screenshot", ".png")


def run_demo(
    name: str,
    *,
    offscreen: bool = False,
    frames: int | None = None,
    screenshot: str | None = None,
    state_path: str | None = None,
    options: dict | None = None,
    quiet: bool = False,
) -> dict:
    """Open demo ``name`` (see :data:`gpuml.demos.DEMOS`), run it, print and return frame statistics."""
    from .registry import load_demo

    if screenshot:
        check_screenshot(screenshot)  # before the demo runs, not after it has
    if state_path:
        check_output(state_path, "--state")
    app = App(load_demo(name), options, offscreen=offscreen, capture=bool(screenshot))
    if not quiet and not offscreen:
        print(f"gpuml demo {name}: window open on {app.device.adapter} (Esc closes)", flush=True)
    stats = app.run(frames, screenshot)
    stats["state"] = app.demo.state()
    if state_path:
        Path(state_path).parent.mkdir(parents=True, exist_ok=True)
        Path(state_path).write_text(json.dumps(stats, indent=1, default=float))
    if not quiet:
        if "frame_ms_p50" in stats:
            print(
                f"{name}: {stats['frames']} frames, frame time p50 {stats['frame_ms_p50']:.2f} ms, "
                f"p95 {stats['frame_ms_p95']:.2f} ms ({stats['fps_p50']:.0f} FPS at p50) on {stats['adapter']}"
            )
        if screenshot and Path(screenshot).is_file():
            print(f"wrote {screenshot}")
    sys.stdout.flush()
    return stats
