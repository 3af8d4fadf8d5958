// Digit pad (CNN explorer), main thread: pen input, the prediction queue, the verdict and probabilities as numbers,
// the explanation / layer / class selectors, colour scales and text alternatives of the canvases.
// The pad and the model input are drawn here, not by the worker: the pad at each pointer event (a worker frame
// waited for the worker's event loop, which a prediction on the CPU holds for seconds: the last strokes showed
// late) and the input with its explanation in the same task as the verdict it belongs to.
export const canvases = { acts: "acts-canvas", filters: "filters-canvas" };

// web_image.wgsl's heat overlay as a CSS gradient (cold at the bottom: transparent over the dark page)
function heatGradient() {
  const stops = [];
  for (let i = 0; i <= 10; i++) {
    const t = i / 10, s = 0.35 + 0.65 * t;
    const e = Math.min(Math.max((t - 0.05) / 0.45, 0), 1), a = 0.65 * e * e * (3 - 2 * e);
    const c = [3 * s, 3 * s - 1, 3 * s - 2].map((v) => Math.round(255 * Math.min(Math.max(v, 0), 1)));
    stops.push(`rgba(${c[0]}, ${c[1]}, ${c[2]}, ${a.toFixed(3)}) ${i * 10}%`);
  }
  return `linear-gradient(to top, ${stops.join(", ")})`;
}

// Where the pad computes (worker.js: on a software adapter the python backend until its WebGPU kernels are warm).
const WHERE = { python: "CPU (gpuml's python backend) while WebGPU compiles its kernels", browser: "WebGPU",
  cpu: "CPU (numpy backend)" };
function showDevice(ctx, device, extra = "") {
  ctx.state.padDevice = device;
  const where = ctx.state.backend !== "browser" && device === "python" ? "CPU (gpuml's python backend)" : WHERE[device];
  ctx.fact("digit pad", `${where || device}${extra}`);
}
// Once the pad runs on WebGPU, occlusion's own kernels are compiled and tuned in the background (pad.worker.js).
function warmOcclusion(ctx) {
  if (new URLSearchParams(location.search).get("warm") === "0") return;  // the page benchmark's cold A/B
  ctx.call("pad_warm_occlusion").then((r) => { ctx.state.padOcclusionWarm = r; }).catch(ctx.showError);
}
export const progress = {
  pad_device(data, ctx) {
    showDevice(ctx, data.device, ` (kernels warm ${(data.warm_ms / 1000).toFixed(1)} s after Ready)`);
    if (data.device === "browser") warmOcclusion(ctx);
  },
};

const INK = 112, PAD = 280;  // gpuml.playground.digits: the model's ink is INK x INK values for a PAD-unit pad
const BACKGROUND = [18, 20, 28];  // render.js's clear colour (0.07, 0.08, 0.11)

// The pad's ink, painted here like the worker's (mnist.stroke_host / web_stroke.wgsl: ink = max(ink, coverage of
// each capsule segment)) from the same segments and brush, and shown bilinearly scaled as the worker drew it.
function inkPad(canvas) {
  const ink = new Float32Array(INK * INK);
  const small = new OffscreenCanvas(INK, INK), sctx = small.getContext("2d");
  const img = new ImageData(INK, INK);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  function show() {
    sctx.putImageData(img, 0, 0);
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }
  function set(i, v) {
    ink[i] = v;
    const g = Math.round(255 * v), o = 4 * i;
    img.data[o] = img.data[o + 1] = img.data[o + 2] = g;
  }
  return {
    ink,
    clear() {
      ink.fill(0);
      img.data.fill(0);
      for (let o = 3; o < img.data.length; o += 4) img.data[o] = 255;
      show();
    },
    // segments: flat x0, y0, x1, y1 in pad units (280); radius in pad units
    stroke(segs, radius) {
      const s = INK / PAD, r = radius * s, reach = r + 1;
      for (let k = 0; k + 3 < segs.length; k += 4) {
        const ax = segs[k] * s, ay = segs[k + 1] * s, dx = segs[k + 2] * s - ax, dy = segs[k + 3] * s - ay;
        const len2 = dx * dx + dy * dy;
        const y0 = Math.max(0, Math.trunc(Math.min(ay, ay + dy) - reach));
        const y1 = Math.min(INK, Math.trunc(Math.max(ay, ay + dy) + reach) + 1);
        const x0 = Math.max(0, Math.trunc(Math.min(ax, ax + dx) - reach));
        const x1 = Math.min(INK, Math.trunc(Math.max(ax, ax + dx) + reach) + 1);
        for (let y = y0; y < y1; y++) {
          const py = y + 0.5;
          for (let x = x0; x < x1; x++) {
            const px = x + 0.5;
            const t = len2 > 0 ? Math.min(Math.max(((px - ax) * dx + (py - ay) * dy) / len2, 0), 1) : 0;
            const cover = Math.min(Math.max(r + 0.5 - Math.hypot(px - (ax + t * dx), py - (ay + t * dy)), 0), 1);
            if (cover > ink[y * INK + x]) set(y * INK + x, cover);
          }
        }
      }
      show();
    },
  };
}

// The model input (28 x 28, nearest) with the explanation's heat overlay (28 x 28 in [0, 1], bilinear), as
// web_image.wgsl draws them (modes 0 and 2, premultiplied "over"); null: the empty panel.
function drawInput(canvas, pixels, heat) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const img = ctx.createImageData(W, H), d = img.data;
  const at = (y, x) => heat[Math.min(Math.max(y, 0), 27) * 28 + Math.min(Math.max(x, 0), 27)];
  for (let y = 0, o = 0; y < H; y++) {
    const v = ((y + 0.5) / H) * 28, qy = v - 0.5, y0 = Math.floor(qy), fy = qy - y0;
    for (let x = 0; x < W; x++, o += 4) {
      if (!pixels) {
        d.set(BACKGROUND, o);
        d[o + 3] = 255;
        continue;
      }
      const u = ((x + 0.5) / W) * 28, qx = u - 0.5, x0 = Math.floor(qx), fx = qx - x0;
      const g = Math.min(Math.max(pixels[Math.floor(v) * 28 + Math.floor(u)], 0), 1);
      const top = at(y0, x0) + (at(y0, x0 + 1) - at(y0, x0)) * fx;
      const bottom = at(y0 + 1, x0) + (at(y0 + 1, x0 + 1) - at(y0 + 1, x0)) * fx;
      const t = Math.min(Math.max(top + (bottom - top) * fy, 0), 1);
      const e = Math.min(Math.max((t - 0.05) / 0.45, 0), 1), a = 0.65 * e * e * (3 - 2 * e);
      const s = 3 * (0.35 + 0.65 * t), b = g * (1 - a);  // heat(s / 3) * a over the gray
      d[o] = Math.round(255 * (Math.min(s, 1) * a + b));
      d[o + 1] = Math.round(255 * (Math.min(Math.max(s - 1, 0), 1) * a + b));
      d[o + 2] = Math.round(255 * (Math.min(Math.max(s - 2, 0), 1) * a + b));
      d[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

// gpuml.demos.render.short_number's format, so page and window print a value alike: 3 significant digits, k/M,
// short exponents ("0.0052", "22.6k", "1.2e-5")
function fmt(v) {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e3 && a < 1e9) return a >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : `${+(v / 1e3).toPrecision(3)}k`;
  const [m, e] = v.toExponential(2).split("e");
  return +e < -4 || +e >= 3 ? `${+m}e${+e}` : `${+v.toPrecision(3)}`;
}

export function init(ctx, readyMsg) {
  const { $, state, call, showError, errorAt, clearError, words } = ctx;
  if (readyMsg && readyMsg.pad_device) showDevice(ctx, readyMsg.pad_device);
  if (readyMsg && readyMsg.pad_device === "browser") setTimeout(() => warmOcclusion(ctx), 0);  // warmed before Ready
  const pad = $("pad-canvas"), ink = inkPad(pad);
  ink.clear();
  pad.classList.remove("loading");  // from here on a stroke is drawn and classified
  $("pad-loading").hidden = true;
  drawInput($("input-canvas"), null);
  $("pad-heat-bar").style.background = heatGradient();
  let drawing = false, last = null, segs = [], flushTimer = null, prepared = null;
  function flushSegs() {
    flushTimer = null;
    if (!segs.length) return;
    const batch = segs;
    segs = [];
    call("pad_stroke", batch, Number($("pad-brush").value)).catch(showError);
  }
  function queueSeg(a, b) {
    ink.stroke([a[0], a[1], b[0], b[1]], Number($("pad-brush").value));  // on screen now, whatever the worker does
    segs.push(a[0], a[1], b[0], b[1]);
    if (!flushTimer) flushTimer = setTimeout(flushSegs, 16);
  }
  function pos(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * (280 / r.width), (e.clientY - r.top) * (280 / r.height)];
  }

  // The model's layers and filters (from pad_prepare): the layer selector's options and the filter captions.
  function showModel(info) {
    if (!info || (prepared && !info.changed)) return;
    prepared = info;
    const sel = $("pad-layer"), keep = sel.value;
    sel.textContent = "";
    for (const l of info.layers) {
      const o = document.createElement("option");
      o.value = l.name;
      o.textContent = `${l.name} (${l.shape.join(" × ")})`;
      sel.appendChild(o);
    }
    if (info.layers.some((l) => l.name === keep)) sel.value = keep;
    const parts = info.filters.map((f, i) => {
      const [oc, ic, kh, kw] = f.shape;
      const where = info.filters.length > 1 ? (i === 0 ? "top" : i === info.filters.length - 1 ? "bottom" : "middle") + ": " : "";
      const grid = ic > 1 ? `${oc} filters (columns) × ${ic} input channels (rows)` : `${oc} filters`;
      return `${where}${f.name}, ${grid} of ${kh} × ${kw}, scale ±${f.limit.toFixed(2)}`;
    });
    $("pad-filters-caption").textContent = parts.join("; ");
    $("filters-canvas").setAttribute("aria-label", `convolution filters: ${parts.join("; ")}`);
    $("pad-filter-lo").textContent = `−max|w|`;
    $("pad-filter-hi").textContent = `+max|w|`;
    $("pad-rule").textContent = `Unsure when the top probability is below 70% or the evidence (how strongly the ten ` +
      `raw scores respond at all: their log-sum-exp) is below ${info.floor.toFixed(2)}; ${info.floor_share}% of ` +
      `${info.calibration_digits} real MNIST test digits score higher with this model.` +
      (info.weak_line == null ? "" : ` A sure verdict on evidence below ${info.weak_line.toFixed(2)} ` +
      `(${info.weak_share}% of them score higher) says "weak evidence": an unusual digit, or a doodle that looks like one.`) +
      ` A sure verdict under ${info.sure_prob}% names the runner-up ("or maybe 3").` +
      (info.novelty_line == null ? "" : ` When the model's hidden features are farther from the training digits of ` +
      `the predicted class than ${info.novelty_share}% of real digits' are (cosine distance over ` +
      `${info.novelty_line.toFixed(2)}), it says "unlike the 9s it learned from".`);
  }

  // Predictions run one after another; while one runs, later requests share the one queued behind it. `source`:
  // the control whose change asked for it (its errors are shown next to it).
  let predictChain = Promise.resolve(), queuedPredict = null;
  function predict(source = null) {
    if (!state.ready) return Promise.resolve(null);
    flushSegs();
    if (queuedPredict) return queuedPredict;
    const p = predictChain.then(async () => {
      queuedPredict = null;
      const args = [$("pad-model").value, $("pad-explain").value, $("pad-target").value, $("pad-layer").value];
      const clears = state.padClears || 0;
      const out = await call("pad_predict", ...args);
      clearError(source || "pad-model");
      showModel(out.model);
      if ((state.padClears || 0) !== clears) {  // Clear was pressed meanwhile: this result is of a drawing that is gone
        state.predictions = (state.predictions || 0) + 1;
        return null;
      }
      const t = performance.now();
      if (out.empty) showEmpty(); else showPrediction(out);
      (state.padShowMs = state.padShowMs || []).push(performance.now() - t);  // main-thread ms per result shown
      state.padResult = out;
      state.predictions = (state.predictions || 0) + 1;  // every finished prediction, an empty pad's too
      return out;
    }).catch((e) => {
      if (source) errorAt(source, e); else showError(`prediction failed: ${words(e)}`);
      return null;
    });
    queuedPredict = p;
    predictChain = p;
    return p;
  }

  function showPrediction(out) {
    state.lastPrediction = out;
    const v = out.verdict;
    const el = $("pad-prediction");
    // a closing "(…)" never breaks across lines ("no digit stands out (0:" / "29%)"); the text reads the same
    const cut = v.text.endsWith(")") ? v.text.lastIndexOf(" (") : -1;
    el.textContent = cut > 0 ? v.text.slice(0, cut + 1) : v.text;
    if (cut > 0) {
      const tail = document.createElement("span");
      tail.className = "nowrap";
      tail.textContent = v.text.slice(cut + 1);
      el.appendChild(tail);
    }
    el.classList.toggle("unsure", v.unsure || v.weak);
    const level = out.weak_line ?? out.floor;
    $("pad-reason").textContent = v.unsure || v.weak ? `why: ${v.reason}` :
      `why: top probability ${(100 * v.prob).toFixed(1)}% ≥ 90%` + (level == null ? "" : `, evidence ${v.evidence.toFixed(1)} ≥ ${level.toFixed(1)}`);
    const bars = $("pad-probs");
    bars.textContent = "";
    out.probs.forEach((p, i) => {
      const row = document.createElement("button");
      row.type = "button";
      row.className = "bar" + (i === out.label ? " top" : "") + (i === out.explain.target ? " target" : "") +
        (i === out.label && (v.unsure || v.weak) ? " unsure" : "");  // the headline's colour, as natively
      row.title = `explain ${i}`;
      row.setAttribute("aria-label", `digit ${i}: ${(100 * p).toFixed(1)}%, explain it`);
      row.innerHTML = `<span>${i}</span><i style="width:${(130 * p).toFixed(1)}px"></i><b>${(100 * p).toFixed(1)}%</b>`;
      row.onclick = () => { $("pad-target").value = String(i); predict("pad-target"); };
      bars.appendChild(row);
    });
    const ex = out.explain;
    drawInput($("input-canvas"), out.pixels, ex.map);  // the input these numbers are of, in the same task
    // "HiResCAM, class 9, the predicted one (Grad-CAM nearly empty)": one bracket, not two in a row
    const swap = ex.what.match(/^(.*?)( \(Grad-CAM [^)]*\))$/);
    const [what, aside] = swap ? [swap[1], swap[2]] : [ex.what, ""];
    $("pad-explain-what").textContent = what + ($("pad-target").value === "predicted" ? ", the predicted one" : "") +
      aside + (ex.aside ? ` — ${ex.aside}` : "") + (ex.note ? ` — ${ex.note}` : "");
    $("pad-heat-hi").textContent = fmt(ex.peak);
    $("pad-heat-mid").textContent = fmt(ex.peak / 2);
    $("pad-heat-lo").textContent = "0";
    $("pad-heat-units").textContent = ex.units;
    $("input-canvas").setAttribute("aria-label", `model input with ${ex.what}; peak ${fmt(ex.peak)} ${ex.units}`);
    const l = out.layer, [c, h, w] = l.shape;
    const scale = l.signed ? "blue < 0 < red, each map scaled to its max |a|" : "gray, each map scaled to its max";
    $("pad-acts-caption").textContent = `${l.name}: ${c} maps of ${h} × ${w} (${scale})`;
    $("acts-canvas").setAttribute("aria-label", `activation maps of ${l.name}: ${c} maps of ${h} × ${w}`);
    const where = out.device === "python" ? "CPU" : out.device === "browser" ? "WebGPU" : out.device;
    $("pad-timing").textContent = `on ${where}: prediction ${out.predict_ms.toFixed(2)} ms (forward + readback), ` +
      `preprocess ${out.preprocess_ms.toFixed(1)} ms, explanation + maps ${out.gradcam_and_draw_ms.toFixed(1)} ms`;
  }

  function showEmpty() {
    state.lastPrediction = null;
    $("pad-prediction").textContent = "—";
    $("pad-prediction").classList.remove("unsure");
    for (const id of ["pad-probs", "pad-reason", "pad-explain-what", "pad-heat-hi", "pad-heat-mid", "pad-heat-lo",
      "pad-heat-units", "pad-acts-caption", "pad-timing"]) $(id).textContent = "";
    drawInput($("input-canvas"), null);
    $("input-canvas").setAttribute("aria-label", "model input and explanation (empty pad)");
    $("acts-canvas").setAttribute("aria-label", "activation maps (empty pad)");
  }

  pad.addEventListener("pointerdown", (e) => {
    if (!state.ready) return;
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    call("pad_pen", true);  // the worker holds other work back while the pen is down
    last = pos(e);
    queueSeg(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = pos(e);
    queueSeg(last, p);
    last = p;
  });
  const stop = () => {
    if (!drawing) return;
    drawing = false;
    flushSegs();
    if ($("pad-live").checked) predict();
    call("pad_pen", false);
  };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  $("pad-predict").onclick = () => predict();
  $("pad-clear").onclick = () => {
    segs = [];
    ink.clear();
    state.padClears = (state.padClears || 0) + 1;
    call("pad_clear").catch(showError);
    showEmpty();
  };
  for (const id of ["pad-model", "pad-explain", "pad-target", "pad-layer"]) {
    $(id).addEventListener("change", () => { if (state.lastPrediction || id === "pad-model") predict(id); });
  }
  // after the other demos' first calls (their init runs in this same task): their first frames come first
  setTimeout(() => call("pad_prepare", $("pad-model").value).then(showModel).catch(showError), 0);
  window.gpumlPredict = predict;
}
