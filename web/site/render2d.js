// Canvas 2D renderer of the page's canvases, for the CPU path (no WebGPU: gpuml runs on its numpy or pure-Python
// backend). Same interface as render.js's Renderer, but every array arrives as bytes (a Uint8Array copy of the
// tensor, float32 or uint32 words) instead of a GPUBuffer, and it draws what the web_*.wgsl shaders draw:
// image grids (gray, RGB, heat overlay, diverging), k-means points and centroid markers, training curves.
import { gridLayout, pointsXform, tileLayout } from "./render.js";

const PALETTE_SIZE = 16; // k-means: clusters 0..14, entry 15 "no label yet"
const BACKGROUND = "rgb(18, 20, 28)";

const f32 = (bytes) => new Float32Array(bytes.slice().buffer);  // copy: the bytes may be unaligned
const u32 = (bytes) => new Uint32Array(bytes.slice().buffer);
const clamp01 = (v) => Math.min(Math.max(v, 0), 1);

function heat(t) {  // web_image.wgsl's black-red-yellow-white ramp
  return [clamp01(3 * t), clamp01(3 * t - 1), clamp01(3 * t - 2)];
}

export class Renderer2D {
  constructor(onError) {
    this.onError = onError;
    this.canvases = {};
    this.points = {};
    this.frameTimes = [];
  }

  addCanvas(name, canvas) {
    this.canvases[name] = { canvas, ctx: canvas.getContext("2d") };
  }

  clear(c) {
    c.ctx.fillStyle = BACKGROUND;
    c.ctx.fillRect(0, 0, c.canvas.width, c.canvas.height);
  }

  // A grid of float images (see web_image.wgsl for the meaning of opts). data, norm: float32 bytes.
  image(name, data, norm, optsJson) {
    const t0 = performance.now();
    const o = JSON.parse(optsJson);
    const c = this.canvases[name];
    if (o.clear) this.clear(c);
    const vals = f32(data), norms = f32(norm);
    const W = c.canvas.width, H = c.canvas.height;
    const [bx, by, bw, bh] = o.box || [0, 0, W, H];
    const rows = Math.ceil(o.n / o.cols);
    const tw = (bw - o.gap * (o.cols - 1)) / o.cols, th = (bh - o.gap * (rows - 1)) / rows;
    const tile = new OffscreenCanvas(o.w, o.h);
    const tctx = tile.getContext("2d");
    const img = tctx.createImageData(o.w, o.h);
    const plane = o.h * o.w;
    c.ctx.imageSmoothingEnabled = o.sampling === 1;
    for (let i = 0; i < o.n; i++) {
      let s = norms[o.normOffset + i];
      s = (o.scale || 1) / (s > 0 ? s : 1);
      const base = o.offset + i * o.c * plane;
      const px = img.data;
      for (let k = 0; k < plane; k++) {
        let r, g, b, a = 255;
        if (o.mode === 1) {
          r = clamp01(vals[base + k] * s); g = clamp01(vals[base + plane + k] * s); b = clamp01(vals[base + 2 * plane + k] * s);
        } else {
          const v = vals[base + k] * s;
          if (o.mode === 2) {
            const t = clamp01(v);
            const e = clamp01((t - 0.05) / 0.45);
            const alpha = 0.65 * e * e * (3 - 2 * e);
            [r, g, b] = heat(0.35 + 0.65 * t);
            a = 255 * alpha;
          } else if (o.mode === 3) {
            const t = Math.min(Math.max(v, -1), 1);
            [r, g, b] = t >= 0 ? [1, 1 - t, 1 - t] : [1 + t, 1 + t, 1];
          } else {
            r = g = b = clamp01(v);
          }
        }
        px[4 * k] = 255 * r; px[4 * k + 1] = 255 * g; px[4 * k + 2] = 255 * b; px[4 * k + 3] = a;
      }
      tctx.putImageData(img, 0, 0);
      const x = bx + (i % o.cols) * (tw + o.gap), y = by + Math.floor(i / o.cols) * (th + o.gap);
      c.ctx.drawImage(tile, x, y, tw, th);
    }
    this.frameTimes.push(performance.now() - t0);
  }

  // CNN explorer: tileLayout for a canvas (JSON in and out, for Python) and a canvas's size.
  tileLayout(name, n, h, w, cols, gap, regionJson) {
    const c = this.canvases[name].canvas;
    return JSON.stringify(tileLayout(c.width, c.height, n, h, w, cols, gap, JSON.parse(regionJson)));
  }

  canvasSize(name) {
    const c = this.canvases[name].canvas;
    return JSON.stringify([c.width, c.height]);
  }

  actsLayout(shapesJson) {
    const c = this.canvases.acts.canvas;
    return JSON.stringify(gridLayout(c.width, c.height, JSON.parse(shapesJson)));
  }

  // k-means points: pts are float32 rows of 4 (x, y, 0, 0) of centered data; the centering is folded into the view.
  pointsData(name, pts, _ptsOffset, n, boundsJson, meanJson, paletteJson) {
    const c = this.canvases[name].canvas;
    const palette = JSON.parse(paletteJson).map(([r, g, b]) => `rgb(${255 * r}, ${255 * g}, ${255 * b})`);
    this.points[name] = { n, k: 0, xform: pointsXform(c, boundsJson, meanJson), pts: f32(pts), palette };
  }

  pointsState(name, labels, _labelsOffset, centers, _centersOffset, k) {
    Object.assign(this.points[name], { labels: u32(labels), centers: f32(centers), k, seeding: false });
  }

  // k-means++ seeding: levels 0..255 (D^2 / max D^2) colour and size the points (as web_points.wgsl's mode 2).
  pointsSeed(name, levels, _levelsOffset, centers, _centersOffset, revealed) {
    Object.assign(this.points[name], { labels: u32(levels), centers: f32(centers), k: revealed, seeding: true });
  }

  drawPoints(name) {
    const t0 = performance.now();
    const p = this.points[name];
    const c = this.canvases[name];
    const ctx = c.ctx;
    this.clear(c);
    const [sx, sy, ox, oy] = p.xform;
    const color = (label) => p.palette[label < PALETTE_SIZE - 1 ? label : PALETTE_SIZE - 1];
    const mix = (a, b, w) => Math.round(255 * (a + (b - a) * w));
    for (let i = 0; i < p.n; i++) {
      let r = 3;
      if (p.seeding) {
        const w = Math.min(p.labels[i], 255) / 255;
        ctx.fillStyle = `rgb(${mix(0.4, 1, w)}, ${mix(0.43, 0.84, w)}, ${mix(0.55, 0.1, w)})`;
        r = 2.2 + 2.8 * w;
      } else {
        ctx.fillStyle = p.labels ? color(p.labels[i]) : p.palette[PALETTE_SIZE - 1];
      }
      ctx.beginPath();
      ctx.arc(p.pts[4 * i] * sx + ox, p.pts[4 * i + 1] * sy + oy, r, 0, 2 * Math.PI);
      ctx.fill();
    }
    for (let j = 0; j < p.k; j++) {
      ctx.beginPath();
      ctx.arc(p.centers[4 * j] * sx + ox, p.centers[4 * j + 1] * sy + oy, 8, 0, 2 * Math.PI);
      ctx.fillStyle = p.palette[j % PALETTE_SIZE];
      ctx.fill();
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "rgb(13, 13, 20)";
      ctx.stroke();
    }
    this.frameTimes.push(performance.now() - t0);
  }

  // Training curves, as render.js draws them: loss / 2.5 and test accuracy on [0, 1], x in [0, xMax] steps.
  curves(name, lossBytes, nLoss, accBytes, nAcc, xMax) {
    const c = this.canvases[name];
    const ctx = c.ctx;
    const W = c.canvas.width, H = c.canvas.height, m = 28;
    this.clear(c);
    const sx = (W - 2 * m) / Math.max(xMax, 1);
    const line = (xy, count, yScale, style) => {
      if (count < 1) return;
      ctx.strokeStyle = style;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0; i < count; i++) {
        const x = m + xy[2 * i] * sx, y = H - m - xy[2 * i + 1] * yScale;
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      }
      ctx.stroke();
    };
    for (const g of [0, 0.25, 0.5, 0.75, 1]) {
      line([0, g, xMax, g], 2, H - 2 * m, `rgba(255, 255, 255, ${g === 0 ? 0.5 : 0.12})`);
    }
    line([0, 0, 0, 1], 2, H - 2 * m, "rgba(255, 255, 255, 0.5)");
    line(f32(lossBytes), nLoss, (H - 2 * m) / 2.5, "rgb(255, 140, 51)");
    line(f32(accBytes), nAcc, H - 2 * m, "rgb(77, 204, 255)");
  }

  async settled() {}

  async benchPoints(name, frames = 60) {
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) this.drawPoints(name);
    const ms = (performance.now() - t0) / frames;
    return { ms_per_frame: ms, fps: 1000 / ms, frames, present: "2d" };
  }
}
