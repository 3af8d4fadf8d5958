"""Draw a digit (the CNN explorer), in a window: a thin front end over
:class:`gpuml.playground.digits.DigitsModel` (the web page's digit pad drives the same model). Panels: the
prediction with its probabilities as numbers and the "unsure" verdict, an explanation (Grad-CAM, saliency or
occlusion) of the predicted or a clicked class with its colour scale, the activation maps of a chosen layer at
their true aspect ratio, and the filters of every convolution on a diverging colour scale.

Input never waits for the model: pen strokes are painted on the host ink at once, and predictions run on a worker
thread (the first one compiles the kernels while the user draws), so the first stroke after launch is captured
whole instead of being merged into one straight move behind a blocked frame.
"""

from __future__ import annotations

import importlib.resources
import os
import textwrap
import threading

import numpy as np

from ..playground import digits as pad
from ..playground import novelty
from ..playground.digits import INK, TARGETS, DigitsModel, model_accuracy
from ..playground.digits_explain import (
    CALIBRATION_DIGITS,
    EXPLAIN_METHODS,
    FLOOR_PERCENTILE,
    NOVELTY_PERCENTILE,
    SURE_PROB,
    WEAK_PERCENTILE,
)
from ..train import load_model
from .app import Demo
from .render import DIM, PALETTE, TEXT, colormap, short_number

PAD = (40, 70, 420, 420)  # x, y, w, h of the pad on screen
PREDICT_BUTTON = (40, 502, 110, 32)
CLEAR_BUTTON = (160, 502, 110, 32)
PROBS = (500, 70, 300, 300)
EXPLAIN = (820, 70, 420, 300)
MAPS = (500, 386, 740, 226)
FILTERS = (500, 626, 740, 140)
BRUSHES = (7.0, 11.0, 15.0)  # the b key cycles through these (pad units)
METHOD_NAMES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "saliency": "saliency", "occlusion": "occlusion"}


def default_model_path() -> str | None:
    """The LeNet-5 shipped with the package (gpuml/models/lenet5_mnist.npz), when present."""
    try:
        node = importlib.resources.files("gpuml").joinpath("models", "lenet5_mnist.npz")
        if node.is_file():
            return str(node)
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return None


def calibration_digits(n: int = CALIBRATION_DIGITS) -> list | None:
    """The first ``n`` MNIST test digits as flat lists when MNIST is on disk (no download), else None."""
    from ..datasets import data_dir, mnist

    if not (data_dir() / "mnist").exists():
        return None
    try:
        return mnist("test").images[:n].reshape(n, -1).tolist()
    except Exception:  # an unreadable copy: the verdict falls back to the probability rule
        return None


def heat_rgb(t: np.ndarray) -> np.ndarray:
    """web_image.wgsl's heat ramp (black-red-yellow-white) at 0.35 + 0.65 t, as floats in [0, 1]."""
    s = 0.35 + 0.65 * np.clip(t, 0, 1)
    return np.clip(np.stack([3 * s, 3 * s - 1, 3 * s - 2], -1), 0, 1)


def diverging_rgba(t: np.ndarray) -> np.ndarray:
    """web_image.wgsl's diverging map: blue < 0 < red, white at 0; ``t`` in [-1, 1] -> uint8 RGBA."""
    t = np.clip(np.asarray(t, np.float32), -1, 1)
    pos, neg = t >= 0, t < 0
    rgb = np.ones((*t.shape, 3), np.float32)
    rgb[pos, 1] = rgb[pos, 2] = 1 - t[pos]
    rgb[neg, 0] = rgb[neg, 1] = 1 + t[neg]
    out = np.full((*t.shape, 4), 255, np.uint8)
    out[..., :3] = np.round(rgb * 255).astype(np.uint8)
    return out


def overlay(pixels, ex) -> np.ndarray:
    """The 28 x 28 model input in gray with the explanation map ``ex`` over it as web_image.wgsl's heat overlay
    (transparent where cold), uint8 RGBA."""
    rgb = np.repeat(np.clip(np.asarray(pixels, np.float32).reshape(28, 28), 0, 1)[..., None], 3, axis=2)
    if ex:
        t = np.asarray(ex["map"], np.float32).reshape(28, 28)
        e = np.clip((t - 0.05) / 0.45, 0, 1)
        alpha = (0.65 * e * e * (3 - 2 * e))[..., None]
        rgb = rgb * (1 - alpha) + heat_rgb(t) * alpha
    return np.concatenate([(rgb * 255).astype(np.uint8), np.full((28, 28, 1), 255, np.uint8)], axis=2)


def heat_scale(n: int = 64) -> np.ndarray:
    """The overlay's colour scale, peak at the top: heat colours at their overlay opacity over black."""
    t = np.linspace(1, 0, n)
    e = np.clip((t - 0.05) / 0.45, 0, 1)[:, None, None]
    ramp = heat_rgb(t)[:, None, :] * 0.65 * e * e * (3 - 2 * e)
    return np.concatenate([(ramp * 255).astype(np.uint8), np.full((n, 1, 1), 255, np.uint8)], 2)


def mosaic_layout(n: int, h: int, w: int, box_w: float, box_h: float) -> tuple[int, float]:
    """(columns, screen pixels per map pixel) of the largest :func:`mosaic` of ``n`` h x w maps (1-pixel gaps)
    that fits the box; one scale for both axes, so maps keep their aspect ratio."""
    best = (1, 0.0)
    for cols in range(1, n + 1):
        rows = -(-n // cols)
        scale = min(box_w / (cols * (w + 1) - 1), box_h / (rows * (h + 1) - 1))
        if scale > best[1]:
            best = (cols, scale)
    return best


_ASCII = {"—": "-", "−": "-", "Σ": "sum ", "∂": "d", "±": "+/-", "α": "a", "|": "|"}


def ascii_text(s: str) -> str:
    """The glyph atlas holds ASCII and a few symbols: the model's text with the others spelled out."""
    return "".join(_ASCII.get(ch, ch) for ch in s)


def _inside(x, y, box) -> bool:
    bx, by, bw, bh = box
    return bx <= x <= bx + bw and by <= y <= by + bh


class _Predictor:
    """Runs the model's predictions on a worker thread: calibration and a warm-up first (kernel compiles), then a
    prediction whenever :meth:`poke` finds the ink or a control changed."""

    def __init__(self, model: DigitsModel, calibration):
        self.model, self.calibration = model, calibration
        self.wake = threading.Event()
        self.stop = False
        self.busy = True
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name="gpuml-digits", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        m = self.model
        try:
            if self.calibration is not None:
                m.calibrate(self.calibration)
            while not self.stop:
                self.busy = m.dirty or m.updates == 0
                if self.busy:
                    m.predict()
                    continue
                self.wake.wait(0.5)
                self.wake.clear()
        except Exception as exc:  # shown in the window, not a traceback
            self.error = f"prediction failed: {exc}"
        self.busy = False

    def poke(self) -> None:
        self.wake.set()

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no prediction is pending (tests and offscreen screenshots)."""
        import time

        deadline = time.time() + timeout
        while (self.busy or self.model.dirty) and self.thread.is_alive() and time.time() < deadline:
            self.wake.set()
            time.sleep(0.005)

    def close(self) -> None:
        self.stop = True
        self.wake.set()


class DigitsDemo(Demo):
    name = "digits"
    title = "draw a digit"
    help = (
        ("left mouse", "draw"),
        ("right mouse / c / Clear", "clear"),
        ("p / Predict", "predict"),
        ("click a digit / t", "class to explain"),
        ("e / tabs", "Grad-CAM, HiResCAM, saliency, occlusion"),
        ("l / tabs", "layer"),
        ("b", "brush"),
        ("g", "overlay on/off"),
        ("Esc", "quit"),
    )

    @classmethod
    def check_options(cls, options: dict) -> None:
        path = options.get("model")
        if path and not os.path.exists(path):
            raise FileNotFoundError(f"model file {path} does not exist")

    def __init__(self, app, options):
        super().__init__(app, options)
        path = options.get("model") or default_model_path()
        if not path:
            raise RuntimeError(
                "no model: pass --model PATH (a model.npz written by `gpuml train mnist`); "
                "the package ships none in this build"
            )
        if not os.path.exists(path):
            raise FileNotFoundError(f"model file {path} does not exist")
        net, meta = load_model(path, self.device)
        self.model_path = str(path)
        self.model = DigitsModel(net, name=os.path.basename(path), accuracy=model_accuracy(meta), host_ink=True)
        self.model.set_novelty(novelty.from_file(path))  # the feature cue, when the file has one
        self.last_point = None
        self._maps_key, self._maps_img, self._filters = None, None, None
        self._painted = 0  # pen segments painted (the pad texture is uploaded when this or a Clear changes it)
        if options.get("sample", app.offscreen):
            self.model.sample()
        self.predictor = _Predictor(self.model, calibration_digits())
        # offscreen (screenshots, tests) a frame shows the prediction of what was drawn before it; "live": it does
        # not wait, as in a window (benchmarks/bench_native_frames.py)
        self.wait_predictions = app.offscreen and not options.get("live")
        if app.offscreen:
            self.predictor.wait_idle()

    # --- input ------------------------------------------------------------------------------------------------
    def _to_pad(self, x, y):
        px, py, pw, ph = PAD
        return (x - px) / pw * pad.PAD, (y - py) / ph * pad.PAD

    def on_pointer(self, kind, x, y, buttons):
        m = self.model
        if kind == "pointer_down":
            if _inside(x, y, CLEAR_BUTTON) or 2 in buttons:
                m.press("clear")
                return
            if _inside(x, y, PREDICT_BUTTON):
                m.press("predict")
                return
            if self._click_panels(x, y):
                return
        cx, cy = self._to_pad(x, y)
        inside = -20 <= cx <= pad.PAD + 20 and -20 <= cy <= pad.PAD + 20
        if kind == "pointer_down" and 1 in buttons and inside:
            self.last_point = (cx, cy)
            m.stroke([(cx, cy)])
            self._painted += 1
        elif kind == "pointer_move" and self.last_point is not None and 1 in buttons:
            m.stroke_segments([*self.last_point, cx, cy])
            self._painted += 1
            self.last_point = (cx, cy)
        elif kind == "pointer_up":
            self.last_point = None

    def _pad_pixels(self) -> np.ndarray:
        k = INK // 28
        ink = np.asarray(self.model.ink, np.float32).reshape(28, k, 28, k).mean(axis=(1, 3))  # what the pad holds
        return (np.clip(ink, 0, 1) * 255).astype(np.uint8)

    def _click_panels(self, x, y) -> bool:
        """Clicks on the method tabs, the layer tabs and the probability rows (class to explain)."""
        m = self.model
        for name, box in self._method_tabs():
            if _inside(x, y, box):
                m.set("explain", name)
                return True
        for name, box in self._layer_tabs():
            if _inside(x, y, box):
                m.set("layer", name)
                return True
        px, py, pw, _ = PROBS
        for d in range(10):
            if _inside(x, y, (px, py + 30 + d * 25, pw, 24)):
                m.set("target", "predicted" if m.get("target") == str(d) else str(d))
                return True
        return False

    def on_key(self, key, modifiers):
        m = self.model
        if key in ("c", "Backspace", "Delete"):
            m.press("clear")
        elif key in ("p", "Enter"):
            m.press("predict")
        elif key == "b":
            brush = m.get("brush")
            m.set("brush", BRUSHES[(BRUSHES.index(brush) + 1) % len(BRUSHES)] if brush in BRUSHES else BRUSHES[0])
        elif key == "g":
            m.set("gradcam", not m.get("gradcam"))
        elif key == "e":
            m.set("explain", EXPLAIN_METHODS[(EXPLAIN_METHODS.index(m.get("explain")) + 1) % len(EXPLAIN_METHODS)])
        elif key == "l":
            names = [e["name"] for e in m.layers]
            m.set("layer", names[(names.index(m.get("layer")) + 1) % len(names)])
        elif key == "t":
            m.set("target", TARGETS[(TARGETS.index(m.get("target")) + 1) % len(TARGETS)])

    def close(self) -> None:
        """Finish the prediction of what was drawn (the state written on exit, ``--state``, shows it), then stop."""
        self.predictor.wait_idle(timeout=10.0)
        self.predictor.close()

    def update(self) -> None:
        if self.model.dirty:
            self.predictor.poke()
            if self.wait_predictions:
                self.predictor.wait_idle()

    def state(self) -> dict:
        ink = np.asarray(self.model.ink, np.float32).reshape(28, INK // 28, 28, INK // 28).mean(axis=(1, 3))
        return {**self.model.state(), "model": self.model_path, "ink28": np.round(ink, 3).tolist()}

    # --- layout helpers -----------------------------------------------------------------------------------------
    def _method_tabs(self):
        x, y = EXPLAIN[0] + 12, EXPLAIN[1] + 28
        for name in EXPLAIN_METHODS:
            w = 14 + 9 * len(METHOD_NAMES[name])
            yield name, (x, y, w, 22)
            x += w + 8

    def _layer_tabs(self):
        x, y = MAPS[0] + 12, MAPS[1] + 28
        for e in self.model.layers:
            w = 14 + 9 * len(e["name"])
            yield e["name"], (x, y, w, 22)
            x += w + 8

    def _tabs(self, r, tabs, current) -> None:
        for name, (x, y, w, h) in tabs:
            on = name == current
            r.rect(x, y, w, h, PALETTE[1] if on else "#2e3240")
            r.text(METHOD_NAMES.get(name, name), x + w / 2, y + 4, 13, "#14161c" if on else TEXT, "center")

    # --- drawing ---------------------------------------------------------------------------------------------------
    def draw(self, r) -> None:
        v = self.model.view()
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(v["subtitle"], 40, 46, 12, DIM)
        px, py, pw, ph = PAD
        r.rect(px - 3, py - 3, pw + 6, ph + 6, "#3a3e4c")
        r.image_keyed("pad", (self.model.generation, self._painted), self._pad_pixels, px, py, pw, ph)
        for i in range(1, 28):  # faint pixel grid
            r.rect(px + i * pw / 28, py, 1, ph, (1, 1, 1, 0.05))
            r.rect(px, py + i * ph / 28, pw, 1, (1, 1, 1, 0.05))
        for label, (bx, by, bw, bh) in (("Predict", PREDICT_BUTTON), ("Clear", CLEAR_BUTTON)):
            r.rect(bx, by, bw, bh, "#3a3e4c")
            r.text(label, bx + bw / 2, by + 7, 15, TEXT, "center")
        r.text(f"brush {v['brush']:.0f}", CLEAR_BUTTON[0] + CLEAR_BUTTON[2] + 16, CLEAR_BUTTON[1] + 9, 13, DIM)
        self._draw_verdict(r, 40, 548, v)
        self._draw_bars(r, *PROBS[:2], v)
        self._draw_explain(r, *EXPLAIN[:2], v)
        self._draw_maps(r, *MAPS[:2], v)
        self._draw_filters(r, *FILTERS[:2])
        if self.predictor.error:
            r.text(self.predictor.error[:60], 40, 740, 12, PALETTE[2])
        r.text(v["latency"], 40, 720, 12, DIM)
        self.draw_help(r, 40, 772, 1200)

    def _draw_verdict(self, r, x, y, v) -> None:
        verdict = v["verdict"]
        if verdict is None:
            r.text("draw a digit" if self.predictor.busy is False else "…", x, y, 22, DIM)
            return
        color = PALETTE[5] if verdict["unsure"] or verdict.get("weak") else PALETTE[1]
        big = not verdict["unsure"] and not verdict.get("weak")
        # the column is ~450 px: an unsure headline wraps (at 16 px, 44 characters) instead of running under the maps
        heads = [verdict["text"]] if big else textwrap.wrap(ascii_text(verdict["text"]), 44)[:2]
        for i, line in enumerate(heads):
            r.text(ascii_text(line), x, y + i * 20, 22 if big else 16, color)
        floor = v["floor"]
        level = v["weak_line"] or floor  # a plain sure verdict is at or over the weak line (the page says the same)
        why = verdict["reason"] or (
            f"top probability {verdict['prob'] * 100:.1f}% ≥ {SURE_PROB * 100:g}%, evidence {verdict['evidence']:.1f}"
            + (f" ≥ {level:.1f}" if level else "")
        )
        below_head = 30 + 20 * (len(heads) - 1)
        why_lines = textwrap.wrap(f"why: {why}", 52)[: 5 - len(heads)]  # three reasons take four lines
        for i, line in enumerate(why_lines):
            r.text(line, x, y + below_head + i * 16, 12, DIM)
        rule_y = max(y + 84, y + below_head + 16 * len(why_lines) + 4)  # the rule follows, never overlaps
        # the rule in words, one wrapped paragraph (the column holds ~64 characters at 11 px)
        rule = "unsure: top prob < 70% or evidence (log-sum-exp of logits) "
        if floor:
            rule += f"under the level {100 - FLOOR_PERCENTILE:g}% of real test digits reach."
            if v.get("weak_line"):
                rule += f" Hint: evidence under the {100 - WEAK_PERCENTILE:g}% level, top prob < {SURE_PROB * 100:g}%"
                if v.get("novelty_line") is not None:
                    rule += f", or features unlike the training digits ({100 - NOVELTY_PERCENTILE:g}% of real ones are)"
                rule += "."
        else:
            rule += "(no MNIST on disk: prob only)"
        for i, line in enumerate(textwrap.wrap(rule, 64)[: max(2, (y + 166 - rule_y) // 14)]):
            r.text(line, x, rule_y + i * 14, 11, DIM)

    def _draw_bars(self, r, x, y, v) -> None:
        w = PROBS[2]
        target = v["target"]
        r.panel(x, y, w, PROBS[3], "probabilities (click a digit)")
        top = v["label"] if v["label"] is not None else -1
        unsure = bool(v["verdict"] and (v["verdict"]["unsure"] or v["verdict"].get("weak")))  # as the page
        for i, p in enumerate(v["probs"]):
            yy = y + 32 + i * 25
            if i == target and self.model.get("target") != "predicted":
                r.frame(x + 4, yy - 3, w - 8, 24, PALETTE[3], 1.5)
            r.text(str(i), x + 14, yy + 1, 16, TEXT if i == top else DIM)
            r.rect(x + 36, yy, w - 120, 18, "#2a2d38")
            if v["verdict"] is None:  # nothing classified (empty pad): empty bars, not ten "10.0%"
                continue
            bar = PALETTE[0] if i != top else (PALETTE[5] if unsure else PALETTE[1])  # the headline's colour
            r.rect(x + 36, yy, (w - 120) * float(p), 18, bar)
            r.text(f"{p * 100:5.1f}%", x + w - 12, yy + 1, 14, TEXT if i == top else DIM, "right")

    def _draw_explain(self, r, x, y, v) -> None:
        w, h = EXPLAIN[2], EXPLAIN[3]
        ex = v["explain"]
        r.panel(x, y, w, h, ascii_text(ex["what"]) if ex else "explanation")
        self._tabs(r, self._method_tabs(), v["method"])
        size = 220
        ix, iy = x + 12, y + 60
        key = (v["serial"], v["gradcam"])
        r.image_keyed("cam", key, lambda: overlay(v["pixels"], ex if v["gradcam"] else None), ix, iy, size, size, True)
        if ex and ex.get("aside"):  # most of Grad-CAM's heat off the strokes: said under the map, short
            r.text(f"only {ex['on_ink'] * 100:.0f}% of the heat on the ink", ix, iy + size + 6, 11, PALETTE[5])
        else:
            r.text("model input (centred 20x20 box)", ix, iy + size + 6, 11, DIM)
        if ex and ex.get("note"):  # an all-zero map: say why, on a dark band over the input
            lines = textwrap.wrap(ascii_text(ex["note"]), 30)
            top = iy + size / 2 - 8 * len(lines) - 6
            r.rect(ix, top, size, 16 * len(lines) + 12, (0.05, 0.05, 0.07, 0.85))
            for i, line in enumerate(lines):
                r.text(line, ix + size / 2, top + 6 + i * 16, 13, PALETTE[5], "center")
        # colour scale: 0 (transparent) .. peak, in the method's units
        sx, sy, sh = ix + size + 24, iy, size
        r.image_keyed("scale", 0, heat_scale, sx, sy, 18, sh, smooth=True)
        if ex:
            r.text(short_number(ex["peak"]), sx + 24, sy - 2, 12, TEXT)
            r.text(short_number(ex["peak"] / 2), sx + 24, sy + sh / 2 - 7, 12, DIM)
            r.text("0", sx + 24, sy + sh - 12, 12, TEXT)
            r.text(ascii_text(ex["units"])[:16], sx + 24, sy + sh / 2 + 14, 11, DIM)
        if v["target"] is not None:
            how = " (predicted)" if self.model.get("target") == "predicted" else " (chosen)"
            r.text(f"class {v['target']}{how}", sx, iy + size + 6, 11, DIM)

    def _draw_maps(self, r, x, y, v) -> None:
        w, h = MAPS[2], MAPS[3]
        entry = next(e for e in v["layers"] if e["name"] == v["layer"])
        c, mh, mw = entry["shape"]
        note = "blue < 0 < red" if entry["signed"] else "viridis"
        r.panel(x, y, w, h, f"activations of {entry['name']}: {c} maps of {mh}×{mw} (each to its max, {note})")
        self._tabs(r, self._layer_tabs(), v["layer"])
        bx, by, bw, bh = x + 12, y + 58, w - 24, h - 66
        cols, scale = mosaic_layout(c, mh, mw, bw, bh)
        key = (v["serial"], v["layer"])
        if not v["activations"]:  # cleared or blank: no maps (zero maps would be white tiles on the diverging scale)
            r.text("no drawing: the maps appear with the next prediction", bx, by + 8, 12, DIM)
            return
        if self._maps_key != key:  # one mosaic texture per prediction and layer (not one upload per map per frame)
            acts = [np.asarray(a, np.float32).reshape(ah, aw) for ah, aw, a in v["activations"]]
            tiles = []
            for a in acts:
                peak = float(np.abs(a).max()) if entry["signed"] else float(a.max())
                a = a / peak if peak > 0 else a
                tiles.append(diverging_rgba(a) if entry["signed"] else colormap(a, "viridis"))
            self._maps_img, self._maps_key = mosaic(tiles, cols), key
        img_h, img_w = self._maps_img.shape[:2]
        r.image_keyed("acts", key, self._maps_img, bx, by, img_w * scale, img_h * scale)

    def _draw_filters(self, r, x, y) -> None:
        w, h = FILTERS[2], FILTERS[3]
        if self._filters is None:  # per model: one mosaic per convolution, columns = output filters
            self._filters = []
            for f in self.model.conv_filters():
                oc, ic, kh, kw = f["shape"]
                vals = np.asarray(f["values"], np.float32).reshape(oc, ic, kh, kw) / f["limit"]
                rows = min(ic, 6)  # one row per input channel (the first 6)
                tiles = [diverging_rgba(vals[o, i]) for i in range(rows) for o in range(oc)]
                self._filters.append((f, mosaic(tiles, oc)))
        r.panel(x, y, w, h, "filters of every convolution (weights, per layer scale)")
        fx = x + 12
        for f, img in self._filters:
            oc, ic, kh, kw = f["shape"]
            budget = (w - 24) / len(self._filters) - 24  # width per layer
            scale = min(18.0, (h - 50) / img.shape[0], budget / img.shape[1])
            r.text(f"{f['name']} ({oc}×{ic}×{kh}×{kw}), +/-{f['limit']:.2f}", fx, y + 26, 11, DIM)
            name = f"filters{f['index']}"
            r.image_keyed(name, id(img), img, fx, y + 44, img.shape[1] * scale, img.shape[0] * scale)
            fx += budget + 24
        sx, sy = x + w - 170, y + 10  # the diverging colour scale
        scale_img = diverging_rgba(np.linspace(-1, 1, 64)[None, :])
        r.image_keyed("filt_scale", 0, scale_img, sx, sy, 120, 12, smooth=True)
        r.text("-max", sx - 4, sy - 1, 11, DIM, "right")
        r.text("+max", sx + 124, sy - 1, 11, DIM)
        r.text("0", sx + 60, sy - 16, 11, DIM, "center")


def mosaic(tiles, cols: int, gap: int = 1, background=(30, 33, 42, 255)) -> np.ndarray:
    """Equal (h, w, 4) uint8 tiles in a grid of ``cols`` columns with ``gap`` pixels between, as one image."""
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.empty((rows * (h + gap) - gap, cols * (w + gap) - gap, 4), np.uint8)
    out[:] = background
    for i, t in enumerate(tiles):
        y, x = (i // cols) * (h + gap), (i % cols) * (w + gap)
        out[y : y + h, x : x + w] = t
    return out
