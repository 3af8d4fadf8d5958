"""A small 2-D renderer on the compute device: rectangles, text, images and lines through WebGPU render
pipelines (shaders/render/*.wgsl), plus hooks for demo-specific pipelines that bind compute tensors directly.

Drawing is immediate-mode: each frame a demo calls ``rect``, ``text``, ``image``, ``line`` and ``custom`` in
painter's order; ``render`` uploads one instance buffer per kind and encodes one render pass, merging consecutive
calls of the same kind (and texture) into one draw call.

Coordinates are *design pixels*: every demo lays out a fixed canvas (``Renderer.size``) that is scaled to the
window, so layouts need no resize logic. Colors are (r, g, b[, a]) floats in [0, 1], or "#rrggbb" strings.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..wgsl import expand_includes

ATLAS_SIZE = 1024
FONT_FILES = ("DejaVuSansMono.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "LiberationMono-Regular.ttf")
GLYPHS = "".join(chr(c) for c in range(32, 127)) + "λ·…×≤≥"

# A palette that stays distinguishable on dark backgrounds (Tableau 10 + one); entry 11 = "unassigned".
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#17becf",
    "#6b6b78",
]
BACKGROUND = "#14161c"
PANEL = "#1e212a"
TEXT = "#e6e6eb"
DIM = "#9a9caa"


@functools.lru_cache(maxsize=256)
def _hex_rgba(color: str) -> tuple[float, ...]:
    h = color.lstrip("#")
    vals = [int(h[i : i + 2], 16) / 255.0 for i in range(0, len(h), 2)]
    return (*vals, 1.0) if len(vals) == 3 else tuple(vals)


def rgba(color) -> tuple[float, float, float, float]:
    """ "#rrggbb" / "#rrggbbaa" or a 3/4-tuple of floats -> a 4-tuple of floats. Hex strings are parsed once
    (every rect and text of every frame names its colour: ~500 calls a frame)."""
    if isinstance(color, str):
        return _hex_rgba(color)
    c = tuple(float(v) for v in color)
    return c if len(c) == 4 else (*c, 1.0)


def short_number(v: float) -> str:
    """``v`` for an axis label in about 6 characters: 3 significant digits, k/M for thousands and millions
    (22600 -> "22.6k", 2000 -> "2k" instead of "2.26e+04", "2e+03"), short exponents otherwise ("1.2e-5")."""
    s = f"{v:.3g}"
    if "e" not in s or not np.isfinite(v):
        return s
    a = abs(v)
    if 1e3 <= a < 1e9:
        return f"{v / 1e6:.3g}M" if a >= 1e6 else f"{v / 1e3:.3g}k"
    mantissa, exponent = s.split("e")
    return f"{mantissa}e{int(exponent)}"


def palette_floats(palette=PALETTE) -> list[float]:
    return [v for c in palette for v in rgba(c)]


def colormap(values: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Values in [0, 1] (any shape) -> uint8 RGBA via a 5-stop piecewise-linear approximation of the colormap."""
    stops = {
        "viridis": [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
        "jet": [(0, 0, 143), (0, 128, 255), (128, 255, 128), (255, 128, 0), (128, 0, 0)],
        "magma": [(0, 0, 4), (81, 18, 124), (183, 55, 121), (252, 137, 97), (252, 253, 191)],
        "gray": [(0, 0, 0), (64, 64, 64), (128, 128, 128), (191, 191, 191), (255, 255, 255)],
    }[name]
    s = np.asarray(stops, np.float32)
    v = np.clip(np.nan_to_num(np.asarray(values, np.float32)), 0, 1) * (len(s) - 1)
    i = np.minimum(v.astype(np.int32), len(s) - 2)
    f = (v - i)[..., None]
    rgb = s[i] * (1 - f) + s[i + 1] * f
    out = np.empty((*v.shape, 4), np.uint8)
    out[..., :3] = np.round(rgb).astype(np.uint8)
    out[..., 3] = 255
    return out


def _load_font(size: int):
    from PIL import ImageFont

    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


class GlyphAtlas:
    """Monospace glyphs rasterised by Pillow into one RGBA texture, one row band per font size (added on first
    use). Texel (0, 0)-(3, 3) is opaque white, so solid rectangles use the same pipeline as text."""

    def __init__(self):
        self.pixels = np.zeros((ATLAS_SIZE, ATLAS_SIZE, 4), np.uint8)
        self.pixels[:, :, :3] = 255
        self.pixels[:4, :4, 3] = 255
        self.y = 4
        self.sizes: dict[int, tuple[float, float, dict[str, tuple[float, float, float, float]]]] = {}
        self.dirty = True

    def size(self, px: int):
        """(advance, line height, char -> uv rect) for font size ``px``; rasterises the band when new."""
        got = self.sizes.get(px)
        if got is not None:
            return got
        from PIL import Image, ImageDraw

        font = _load_font(px)
        ascent, descent = font.getmetrics()
        cw = int(np.ceil(font.getlength("M")))
        ch = ascent + descent
        per_row = (ATLAS_SIZE - 2) // (cw + 2)
        rows = -(-len(GLYPHS) // per_row)
        if self.y + rows * (ch + 2) > ATLAS_SIZE:
            raise RuntimeError("glyph atlas full: too many font sizes")
        band = Image.new("L", (ATLAS_SIZE, rows * (ch + 2)), 0)
        draw = ImageDraw.Draw(band)
        uv = {}
        for i, g in enumerate(GLYPHS):
            x, y = 1 + (i % per_row) * (cw + 2), (i // per_row) * (ch + 2)
            draw.text((x, y), g, font=font, fill=255)
            top = self.y + y
            uv[g] = (x / ATLAS_SIZE, top / ATLAS_SIZE, (x + cw) / ATLAS_SIZE, (top + ch) / ATLAS_SIZE)
        self.pixels[self.y : self.y + band.height, :, 3] = np.asarray(band)
        self.y += band.height
        self.sizes[px] = (float(cw), float(ch), uv)
        self.dirty = True
        return self.sizes[px]


@dataclass
class _Image:
    texture: Any
    bind_group: Any
    shape: tuple[int, int]


class Renderer:
    """Per-frame draw lists and the pipelines that draw them (see the module docstring)."""

    def __init__(self, device, target_format: str, size: tuple[int, int]):
        import wgpu

        self.wgpu = wgpu
        self.device = device  # the wgpu.GPUDevice shared with gpuml's compute
        self.format = target_format
        self.size = (int(size[0]), int(size[1]))
        self.physical = self.size
        self.atlas = GlyphAtlas()
        self._view_buf = device.create_buffer(size=16, usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST)
        self._atlas_tex = device.create_texture(
            size=(ATLAS_SIZE, ATLAS_SIZE, 1),
            format=wgpu.TextureFormat.rgba8unorm,
            usage=wgpu.TextureUsage.TEXTURE_BINDING | wgpu.TextureUsage.COPY_DST,
        )
        self.linear = device.create_sampler(mag_filter="linear", min_filter="linear")
        self.nearest = device.create_sampler(mag_filter="nearest", min_filter="nearest")
        layout = [(48, ["float32x4", "float32x4", "float32x4"])]
        self.quad_pipeline = self.pipeline("render/quad.wgsl", buffers=layout, topology="triangle-strip")
        self.line_pipeline = self.pipeline("render/lines.wgsl", buffers=layout, topology="triangle-strip")
        self._atlas_group = self._texture_group(self._atlas_tex, self.linear)
        self._line_group = device.create_bind_group(
            layout=self.line_pipeline.get_bind_group_layout(0),
            entries=[{"binding": 0, "resource": {"buffer": self._view_buf, "offset": 0, "size": 16}}],
        )
        self._images: dict[str, _Image] = {}
        self._instance_bufs: dict[str, Any] = {}
        self.begin()

    # --- pipelines ----------------------------------------------------------------------------------------
    def pipeline(self, shader: str, buffers=(), blend: bool = True, topology: str = "triangle-list"):
        """A render pipeline for ``shaders/<shader>`` (``#include`` lines expanded; entry points vs_main / fs_main,
        bind group layout derived from the shader) drawing triangles (``topology``) into the target format with
        alpha blending."""
        wgpu = self.wgpu
        module = self.device.create_shader_module(label=shader, code=expand_includes(shader))
        vertex_buffers = []
        for stride, formats in buffers:
            attrs, offset = [], 0
            for loc, fmt in enumerate(formats):
                attrs.append({"format": fmt, "offset": offset, "shader_location": loc})
                offset += 16 if fmt.endswith("x4") else 4
            vertex_buffers.append({"array_stride": stride, "step_mode": "instance", "attributes": attrs})
        target = {"format": self.format}
        if blend:
            target["blend"] = {
                "color": {"src_factor": "src-alpha", "dst_factor": "one-minus-src-alpha", "operation": "add"},
                "alpha": {"src_factor": "one", "dst_factor": "one-minus-src-alpha", "operation": "add"},
            }
        return self.device.create_render_pipeline(
            label=shader,
            layout=wgpu.AutoLayoutMode.auto,
            vertex={"module": module, "entry_point": "vs_main", "buffers": vertex_buffers},
            primitive={"topology": topology},
            fragment={"module": module, "entry_point": "fs_main", "targets": [target]},
        )

    def uniform_buffer(self, nbytes: int):
        wgpu = self.wgpu
        return self.device.create_buffer(size=nbytes, usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST)

    def bind_group(self, pipeline, entries: dict[int, Any]):
        """A bind group for group 0 of ``pipeline``: binding -> a wgpu buffer, a gpuml Tensor (bound in place,
        no copy), a texture view or a sampler."""
        out = []
        for binding, res in entries.items():
            where = res.gpu_buffer() if hasattr(res, "gpu_buffer") else None
            if where is not None:  # a gpuml tensor: bind its device buffer where it lies
                res = {"buffer": where[0], "offset": where[1], "size": max(where[2], 4)}
            elif isinstance(res, self.wgpu.GPUBuffer):
                res = {"buffer": res, "offset": 0, "size": res.size}
            out.append({"binding": binding, "resource": res})
        return self.device.create_bind_group(layout=pipeline.get_bind_group_layout(0), entries=out)

    def _texture_group(self, texture, sampler):
        return self.device.create_bind_group(
            layout=self.quad_pipeline.get_bind_group_layout(0),
            entries=[
                {"binding": 0, "resource": {"buffer": self._view_buf, "offset": 0, "size": 16}},
                {"binding": 1, "resource": texture.create_view()},
                {"binding": 2, "resource": sampler},
            ],
        )

    # --- per-frame draw lists -------------------------------------------------------------------------------
    def begin(self) -> None:
        self._quads: list[tuple] = []
        self._lines: list[np.ndarray] = []  # (segments, 12) float32 blocks, one per polyline
        self._line_rows = 0
        self._ops: list[tuple] = []  # ("quads", group, first, count) | ("lines", first, count) | ("custom", fn)

    def _push(self, kind: str, group=None) -> None:
        last = self._ops[-1] if self._ops else None
        if last is not None and last[0] == kind and last[1] is group:
            last[-1] += 1
            return
        self._ops.append([kind, group, len(self._quads) - 1, 1])  # the row just appended

    def rect(self, x, y, w, h, color) -> None:
        self._quads.append(
            (x, y, w, h, 0.5 / ATLAS_SIZE, 0.5 / ATLAS_SIZE, 2.5 / ATLAS_SIZE, 2.5 / ATLAS_SIZE, *rgba(color))
        )
        self._push("quads", self._atlas_group)

    def frame(self, x, y, w, h, color, width: float = 1.0) -> None:
        """A rectangle outline."""
        self.rect(x, y, w, width, color)
        self.rect(x, y + h - width, w, width, color)
        self.rect(x, y, width, h, color)
        self.rect(x + w - width, y, width, h, color)

    def text_width(self, s: str, size: int = 14) -> float:
        return len(s) * self.atlas.size(size)[0]

    def text(self, s: str, x, y, size: int = 14, color=TEXT, anchor: str = "left") -> float:
        """Draw ``s`` with its top at ``y``; anchor "left", "center" or "right" of ``x``. Returns the width."""
        cw, ch, uv = self.atlas.size(size)
        width = len(s) * cw
        x = round(x - (width / 2 if anchor == "center" else width if anchor == "right" else 0))
        y = round(y)
        c = rgba(color)
        for i, g in enumerate(s):
            if g == " ":
                continue
            r = uv.get(g) or uv["?"]
            self._quads.append((x + i * cw, y, cw, ch, *r, *c))
            self._push("quads", self._atlas_group)
        return width

    def image(self, name: str, pixels: np.ndarray, x, y, w, h, smooth: bool = False, tint=(1, 1, 1, 1)) -> None:
        """Draw an (H, W, 4) uint8 RGBA (or (H, W) uint8 gray) array scaled into the rectangle. The texture
        called ``name`` is created once per shape and re-uploaded on every call."""
        px = np.asarray(pixels)
        if px.ndim == 2:
            px = np.repeat(px[:, :, None], 4, axis=2)
            px[:, :, 3] = 255
        px = np.ascontiguousarray(px, np.uint8)
        hgt, wid = px.shape[:2]
        key = f"{name}|{int(smooth)}"
        img = self._images.get(key)
        if img is None or img.shape != (hgt, wid):
            wgpu = self.wgpu
            tex = self.device.create_texture(
                size=(wid, hgt, 1),
                format=wgpu.TextureFormat.rgba8unorm,
                usage=wgpu.TextureUsage.TEXTURE_BINDING | wgpu.TextureUsage.COPY_DST,
            )
            img = _Image(tex, self._texture_group(tex, self.linear if smooth else self.nearest), (hgt, wid))
            self._images[key] = img
        self.device.queue.write_texture(
            {"texture": img.texture}, px, {"bytes_per_row": wid * 4, "rows_per_image": hgt}, (wid, hgt, 1)
        )
        self._quads.append((x, y, w, h, 0.0, 0.0, 1.0, 1.0, *rgba(tint)))
        self._push("quads", img.bind_group)

    def image_keyed(self, name: str, key, pixels, x, y, w, h, smooth: bool = False) -> None:
        """:meth:`image`, uploading only when ``key`` differs from the last call's for ``name`` (images that
        change rarely: one texture upload per change instead of one per frame). ``pixels`` may be a callable
        that makes the array, called only then."""
        keys = self.__dict__.setdefault("_image_keys", {})
        img = self._images.get(f"{name}|{int(smooth)}")
        if img is not None and keys.get(name, object()) == key:
            self._quads.append((x, y, w, h, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0))
            self._push("quads", img.bind_group)
            return
        keys[name] = key
        self.image(name, pixels() if callable(pixels) else pixels, x, y, w, h, smooth=smooth)

    def line(self, points, color, width: float = 1.5) -> None:
        """A polyline through ``points`` ((N, 2) array or list of (x, y)) in design pixels (one vectorised block of
        segments: long curves and paths cost no Python loop per segment)."""
        pts = np.asarray(points, np.float32).reshape(-1, 2)
        n = len(pts) - 1
        if n < 1:
            return
        rows = np.zeros((n, 12), np.float32)
        rows[:, 0:2], rows[:, 2:4] = pts[:-1], pts[1:]
        rows[:, 4:8] = rgba(color)
        rows[:, 8] = width
        last = self._ops[-1] if self._ops else None
        if last is not None and last[0] == "lines":
            last[-1] += n
        else:
            self._ops.append(["lines", self._line_rows, n])
        self._lines.append(rows)
        self._line_rows += n

    def custom(self, draw) -> None:
        """``draw(render_pass)`` is called at this point of the painter's order (its own pipeline and groups)."""
        self._ops.append(["custom", draw])

    # --- submission -----------------------------------------------------------------------------------------
    def _upload(self, name: str, rows) -> Any:
        if not len(rows):
            return None
        data = np.asarray(rows, np.float32) if isinstance(rows, list) else rows
        buf = self._instance_bufs.get(name)
        if buf is None or buf.size < data.nbytes:
            wgpu = self.wgpu
            size = max(4096, 1 << (data.nbytes - 1).bit_length())
            buf = self.device.create_buffer(size=size, usage=wgpu.BufferUsage.VERTEX | wgpu.BufferUsage.COPY_DST)
            self._instance_bufs[name] = buf
        self.device.queue.write_buffer(buf, 0, data.tobytes())
        return buf

    def render(self, texture, clear=BACKGROUND) -> None:
        """Encode the frame's draw lists into one render pass on ``texture`` and submit."""
        queue = self.device.queue
        self.physical = (texture.size[0], texture.size[1])
        queue.write_buffer(self._view_buf, 0, struct.pack("4f", *self.size, *self.physical))
        if self.atlas.dirty:
            queue.write_texture(
                {"texture": self._atlas_tex},
                self.atlas.pixels,
                {"bytes_per_row": ATLAS_SIZE * 4, "rows_per_image": ATLAS_SIZE},
                (ATLAS_SIZE, ATLAS_SIZE, 1),
            )
            self.atlas.dirty = False
        quad_buf = self._upload("quads", self._quads)
        line_buf = self._upload("lines", np.concatenate(self._lines) if self._lines else [])
        encoder = self.device.create_command_encoder()
        c = rgba(clear)
        rp = encoder.begin_render_pass(
            color_attachments=[
                {
                    "view": texture.create_view(),
                    "clear_value": c,
                    "load_op": "clear",
                    "store_op": "store",
                }
            ]
        )
        for op in self._ops:
            if op[0] == "quads":
                _, group, first, count = op
                rp.set_pipeline(self.quad_pipeline)
                rp.set_bind_group(0, group)
                rp.set_vertex_buffer(0, quad_buf)
                rp.draw(4, count, 0, first)
            elif op[0] == "lines":
                _, first, count = op
                rp.set_pipeline(self.line_pipeline)
                rp.set_bind_group(0, self._line_group)
                rp.set_vertex_buffer(0, line_buf)
                rp.draw(4, count, 0, first)
            else:
                op[1](rp)
        rp.end()
        queue.submit([encoder.finish()])
        self.begin()

    # --- widgets shared by the demos --------------------------------------------------------------------------
    def panel(self, x, y, w, h, title: str | None = None) -> None:
        self.rect(x, y, w, h, PANEL)
        if title:
            self.text(title, x + 10, y + 6, 14, DIM)
