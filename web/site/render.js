// WebGPU renderer of the page's canvases (runs in the worker, on the same GPUDevice as gpuml).
// Canvases are OffscreenCanvases transferred from the page; shaders are gpuml's shaders/render/web_*.wgsl read
// from the installed wheel. Images are drawn straight from gpuml tensors' storage buffers (no readback).
// Every draw runs inside a validation error scope; errors go to `onError` (shown on the page).

const PALETTE_SIZE = 16; // k-means: clusters 0..14, entry 15 "no label yet" (web_points.wgsl)

// k-means view: canvas pixel = centered data * (sx, sy) + (ox, oy), fitting the data bounds (data coordinates) with
// a 16 px margin; the centering offset `mean` is folded in.
export function pointsXform(canvas, boundsJson, meanJson) {
  const [x0, y0, x1, y1] = JSON.parse(boundsJson);
  const [mx, my] = JSON.parse(meanJson);
  const W = canvas.width, H = canvas.height, m = 16;
  const s = Math.min((W - 2 * m) / (x1 - x0 || 1), (H - 2 * m) / (y1 - y0 || 1));
  const ox = (W - s * (x1 + x0)) / 2, oy = (H + s * (y1 + y0)) / 2;
  return [s, -s, ox + s * mx, oy - s * my];
}

// Layout of activation grids (one band per layer, shapes [C, h, w]) in a W x H canvas: [{box, cols}, ...].
export function gridLayout(W, H, shapes) {
  const pad = 8;
  const bandH = (H - pad * (shapes.length + 1)) / shapes.length;
  return shapes.map(([ch], i) => {
    const cols = ch <= 8 ? ch : Math.ceil(ch / 2);
    return { cols, box: [pad, pad + i * (bandH + pad), W - 2 * pad, bandH] };
  });
}

// Layout of n tiles of aspect w / h (true aspect ratio: square maps stay square) in `region` [x, y, width, height]
// of a W x H canvas (null parts: the whole canvas), as large as they fit; `cols` 0 picks the best column count.
// Returns {cols, box}: the grid's box, centred in the region, for web_image.wgsl (its tiles fill the box).
export function tileLayout(W, H, n, h, w, cols = 0, gap = 2, region = null) {
  const [rx, ry, rw, rh] = (region || [0, 0, null, null]).map((v, i) => (v === null ? [0, 0, W, H][i] : v));
  let best = { cols: Math.max(1, cols), tw: 0 };
  for (let c = cols || 1; c <= (cols || Math.max(1, n)); c++) {
    const rows = Math.ceil(n / c);
    const tw = Math.min((rw - gap * (c - 1)) / c, ((rh - gap * (rows - 1)) / rows) * (w / h));
    if (tw > best.tw) best = { cols: c, tw };
  }
  const rows = Math.ceil(n / best.cols), tw = Math.floor(best.tw), th = Math.floor((tw * h) / w);
  const bw = best.cols * tw + gap * (best.cols - 1), bh = rows * th + gap * (rows - 1);
  return { cols: best.cols, box: [rx + (rw - bw) / 2, ry + (rh - bh) / 2, bw, bh] };
}

export class Renderer {
  constructor(device, shaders, onError) {
    this.device = device;
    this.format = navigator.gpu.getPreferredCanvasFormat();
    this.onError = onError;
    this.canvases = {};
    this.temps = [];
    this.pipelines = {};
    this.points = {};
    this.frameTimes = [];
    this.presented = [];
    this.modules = {};
    for (const [name, code] of Object.entries(shaders)) {
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ label: name, code });
      this.modules[name] = module;
      module.getCompilationInfo().then((info) => {
        for (const m of info.messages) {
          if (m.type === "error") this.onError(`WGSL error in shaders/render/${name}.wgsl:${m.lineNum}: ${m.message}`);
        }
      });
      device.popErrorScope().then((e) => e && this.onError(`shader ${name}: ${e.message}`));
    }
    this.ones = this.buffer(256, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(this.ones, 0, new Float32Array(64).fill(1));
  }

  buffer(size, usage) {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage });
  }

  // Two ways to show a frame. "canvas": a WebGPU canvas context (the normal path on a real GPU).
  // "copy": render into a texture, copy it to a buffer, map it and put the pixels into a 2-D context. Headless
  // Chromium 156 on SwiftShader loses the device ("A valid external Instance reference no longer exists") as
  // soon as a WebGPU canvas context presents a frame, on the main thread and in workers alike, so "copy" is the
  // default there; ?present=canvas picks the direct path.
  addCanvas(name, canvas, present = "copy") {
    const c = { canvas, present, pending: null, texture: null, staging: [] };
    if (present === "canvas") {
      c.context = canvas.getContext("webgpu");
      c.context.configure({ device: this.device, format: this.format, alphaMode: "premultiplied" });
    } else {
      c.ctx2d = canvas.getContext("2d");
      c.texture = this.device.createTexture({
        size: [canvas.width, canvas.height],
        format: this.format,
        usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC,
      });
      c.bytesPerRow = Math.ceil((canvas.width * 4) / 256) * 256;
    }
    this.canvases[name] = c;
  }

  pipeline(name, topology = "triangle-list") {
    const key = `${name}:${topology}`;
    if (!this.pipelines[key]) {
      const module = this.modules[name];
      const blend = {
        color: { srcFactor: "one", dstFactor: "one-minus-src-alpha", operation: "add" },
        alpha: { srcFactor: "one", dstFactor: "one-minus-src-alpha", operation: "add" },
      };
      this.pipelines[key] = this.device.createRenderPipeline({
        label: key,
        layout: "auto",
        vertex: { module, entryPoint: "vs_main" },
        fragment: { module, entryPoint: "fs_main", targets: [{ format: this.format, blend }] },
        primitive: { topology },
      });
    }
    return this.pipelines[key];
  }

  // Begin (clear) or continue a frame on a canvas; returns a render pass encoder; `end` submits it.
  begin(name, clear = true) {
    const c = this.canvases[name];
    if (!c) throw new Error(`no canvas ${name}`);
    this.device.pushErrorScope("validation");
    const encoder = this.device.createCommandEncoder({ label: `draw ${name}` });
    if (c.present === "canvas" && (clear || !c.texture)) c.texture = c.context.getCurrentTexture();
    const pass = encoder.beginRenderPass({
      colorAttachments: [{
        view: c.texture.createView(),
        clearValue: { r: 0.07, g: 0.08, b: 0.11, a: 1 },
        loadOp: clear ? "clear" : "load",
        storeOp: "store",
      }],
    });
    this.temps = [];
    return { encoder, pass, name, canvas: c, t0: performance.now() };
  }

  // Submit a frame. With "copy" presentation a frame drawn while the canvas's previous copy is still on its way
  // to the screen is not copied itself: once that copy is shown, one copy of the texture (the newest frame) follows
  // (under load a stroke's frames would otherwise queue up copies and show seconds late).
  end(frame, present = true) {
    frame.pass.end();
    const c = frame.canvas;
    let copy = false;
    if (c.present !== "canvas" && present) {
      if (c.copying) c.dirty = true;
      else copy = this.encodeCopy(c, frame.encoder);
    }
    this.device.queue.submit([frame.encoder.finish()]);
    if (copy) this.presentCopy(c, copy, frame.name);
    for (const b of this.temps) b.destroy();  // freed once the submitted work is done
    this.temps = [];
    this.device.popErrorScope().then((e) => e && this.onError(`drawing ${frame.name}: ${e.message}`));
    this.frameTimes.push(performance.now() - frame.t0);
    if (this.frameTimes.length > 240) this.frameTimes.shift();
  }

  encodeCopy(c, encoder) {
    const staging = c.staging.pop() || this.device.createBuffer({
      size: c.bytesPerRow * c.canvas.height, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.copyTextureToBuffer({ texture: c.texture }, { buffer: staging, bytesPerRow: c.bytesPerRow },
      [c.canvas.width, c.canvas.height]);
    c.copying = true;
    return staging;
  }

  presentCopy(c, staging, name = "") {
    const t0 = performance.now();
    const W = c.canvas.width, H = c.canvas.height, bpr = c.bytesPerRow;
    const bgra = this.format === "bgra8unorm";
    c.pending = staging.mapAsync(GPUMapMode.READ).then(() => {
      const src = new Uint8Array(staging.getMappedRange());
      const img = c.image || (c.image = new ImageData(W, H));  // reused: putImageData copies it
      const dst = img.data;
      for (let y = 0; y < H; y++) {
        const row = src.subarray(y * bpr, y * bpr + W * 4);
        if (!bgra) { dst.set(row, y * W * 4); continue; }
        for (let x = 0, o = y * W * 4; x < W * 4; x += 4) {
          dst[o + x] = row[x + 2]; dst[o + x + 1] = row[x + 1]; dst[o + x + 2] = row[x]; dst[o + x + 3] = row[x + 3];
        }
      }
      staging.unmap();
      c.staging.push(staging);
      c.ctx2d.putImageData(img, 0, 0);
      // submit -> on screen, per frame (the page benchmark reads the first ones)
      if (this.presented.length < 400) this.presented.push({ name, at: t0, ms: performance.now() - t0 });
      c.copying = false;
      if (!c.dirty) return undefined;
      c.dirty = false;  // frames were drawn meanwhile: show the newest
      this.device.pushErrorScope("validation");
      const encoder = this.device.createCommandEncoder({ label: `present ${name}` });
      const next = this.encodeCopy(c, encoder);
      this.device.queue.submit([encoder.finish()]);
      this.device.popErrorScope().then((e) => e && this.onError(`presenting ${name}: ${e.message}`));
      return this.presentCopy(c, next, name);
    }, (e) => {
      c.copying = false;
      this.onError(`presenting a frame: ${e.message}`);
    });
    return c.pending;
  }

  // Resolves when every canvas has shown its last frame.
  async settled() {
    await Promise.all(Object.values(this.canvases).map((c) => c.pending));
  }

  uniform(data) {
    const buf = this.buffer(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buf, 0, data);
    this.temps.push(buf);
    return buf;
  }

  // A storage buffer for a draw: a GPUBuffer as it is, or bytes (a typed array: values computed on the CPU, e.g.
  // the digit pad's python-backend start) copied into a buffer of this frame.
  storage(data) {
    if (data instanceof GPUBuffer) return data;
    const buf = this.buffer(data.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buf, 0, data, 0, data.byteLength & ~3);
    this.temps.push(buf);
    return buf;
  }

  // A grid of float images from a storage buffer or bytes (see web_image.wgsl). opts: JSON string.
  image(name, data, norm, optsJson) {
    const o = JSON.parse(optsJson);
    const c = this.canvases[name];
    const W = c.canvas.width, H = c.canvas.height;
    const box = o.box || [0, 0, W, H];
    const u = new ArrayBuffer(80);
    new Uint32Array(u, 0, 8).set([o.n, o.cols, o.c, o.offset, o.h, o.w, o.mode, o.sampling]);
    new Float32Array(u, 32, 8).set([W, H, o.gap, o.scale, ...box]);
    new Uint32Array(u, 64, 4).set([o.normOffset, 0, 0, 0]);
    const frame = this.begin(name, o.clear);
    const pipe = this.pipeline("web_image");
    const group = this.device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.uniform(u) } },
        { binding: 1, resource: { buffer: this.storage(data) } },
        { binding: 2, resource: { buffer: this.storage(norm) } },
      ],
    });
    frame.pass.setPipeline(pipe);
    frame.pass.setBindGroup(0, group);
    frame.pass.draw(6, o.n);
    this.end(frame, o.present !== false);
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

  // k-means: draw from the k-means engine's own device buffers (gpuml tensors): `pts` holds the centered points as
  // rows of 4 floats (x, y, 0, 0); `mean` (the centering offset) is folded into the view transform, which fits the
  // data bounds (data coordinates) to the canvas.
  pointsData(name, pts, ptsOffset, n, boundsJson, meanJson, paletteJson) {
    const c = this.canvases[name].canvas;
    this.points[name] = {
      n, k: 0, xform: pointsXform(c, boundsJson, meanJson), pts: { buffer: pts, offset: ptsOffset }, labels: null,
      centers: null,
      palette: JSON.parse(paletteJson),
    };
  }

  // The engine's current labels (u32 per point; 0xFFFFFFFF: none yet) and centers (rows of 4 floats): buffers and
  // byte offsets.
  pointsState(name, labels, labelsOffset, centers, centersOffset, k) {
    Object.assign(this.points[name], {
      labels: { buffer: labels, offset: labelsOffset }, centers: { buffer: centers, offset: centersOffset }, k,
      seeding: false,
    });
  }

  // k-means++ seeding: `levels` (u32 per point, 0..255 = D^2 / max D^2 to the centres chosen so far) colour and
  // size the points; the first `revealed` rows of `centers` are drawn.
  pointsSeed(name, levels, levelsOffset, centers, centersOffset, revealed) {
    this.pointsState(name, levels, levelsOffset, centers, centersOffset, revealed);
    this.points[name].seeding = true;
  }

  drawPoints(name) {
    const p = this.points[name];
    const c = this.canvases[name].canvas;
    const frame = this.begin(name, true);
    const pipe = this.pipeline("web_points");
    const draw = (pts, count, radius, mode) => {
      const u = new Float32Array(8 + 4 * PALETTE_SIZE);
      u.set([c.width, c.height, radius, mode, ...p.xform]);
      p.palette.forEach((rgb, i) => u.set([...rgb, 1], 8 + 4 * i));
      const group = this.device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.uniform(u) } },
          { binding: 1, resource: pts },
          { binding: 2, resource: p.labels },
        ],
      });
      frame.pass.setBindGroup(0, group);
      frame.pass.draw(6 * count);  // not instanced: SwiftShader pays ~24 us per instance (web_points.wgsl)
    };
    frame.pass.setPipeline(pipe);
    draw(p.pts, p.n, 3.0, p.seeding ? 2 : 0);
    if (p.k) draw(p.centers, p.k, 9.0, 1);
    this.end(frame);
  }

  // Training curves: loss per step (x = step) and test accuracy per epoch, on a fixed x range [0, xMax].
  curves(name, lossBytes, nLoss, accBytes, nAcc, xMax) {
    const c = this.canvases[name].canvas;
    const W = c.width, H = c.height, m = 28;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const frame = this.begin(name, true);
    const pipe = this.pipeline("web_lines", "line-strip");
    const line = (bytes, count, xform, color) => {
      if (count < 1) return;
      const buf = this.buffer(Math.max(bytes.byteLength, 16), usage);
      this.device.queue.writeBuffer(buf, 0, bytes);
      this.temps.push(buf);
      const u = new Float32Array([W, H, 0, 0, ...xform, ...color]);
      const group = this.device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: this.uniform(u) } }, { binding: 1, resource: { buffer: buf } }],
      });
      frame.pass.setBindGroup(0, group);
      frame.pass.draw(count);
    };
    frame.pass.setPipeline(pipe);
    const sx = (W - 2 * m) / Math.max(xMax, 1);
    // axes and grid (y in [0, 1] for accuracy, loss scaled by 1/2.5 so 2.5 -> top)
    const grid = [];
    for (const g of [0, 0.25, 0.5, 0.75, 1]) grid.push([0, g, xMax, g]);
    const yx = () => [sx, -(H - 2 * m), m, H - m];
    for (const [a, b, cc, d] of grid) {
      line(new Float32Array([a, b, cc, d]), 2, yx(), [1, 1, 1, b === 0 ? 0.5 : 0.12]);
    }
    line(new Float32Array([0, 0, 0, 1]), 2, yx(), [1, 1, 1, 0.5]);
    line(lossBytes, nLoss, [sx, -(H - 2 * m) / 2.5, m, H - m], [1.0, 0.55, 0.2, 1]);
    line(accBytes, nAcc, [sx, -(H - 2 * m), m, H - m], [0.3, 0.8, 1.0, 1]);
    this.end(frame);
  }

  // Render-only frame rate of the k-means canvas (1,000 points + centroids), measured to GPU completion.
  async benchPoints(name, frames = 60) {
    await this.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (let i = 0; i < frames; i++) {
      this.drawPoints(name);
      await this.settled();
    }
    const ms = (performance.now() - t0) / frames;
    return { ms_per_frame: ms, fps: 1000 / ms, frames, present: this.canvases[name].present };
  }
}
