// Digit pad (CNN explorer), main thread: pen input, the prediction queue, the verdict and probabilities as numbers,
// the explanation / layer / class selectors, colour scales and text alternatives of the canvases.
export const canvases = { pad: "pad-canvas", input: "input-canvas", acts: "acts-canvas", filters: "filters-canvas" };

const METHODS = { gradcam: "Grad-CAM", saliency: "saliency", occlusion: "occlusion" };

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
export const progress = {
  pad_device(data, ctx) {
    showDevice(ctx, data.device, ` (kernels warm ${(data.warm_ms / 1000).toFixed(1)} s after Ready)`);
  },
};

const fmt = (v) => (v === 0 ? "0" : Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toPrecision(3) : v.toExponential(1));

export function init(ctx, readyMsg) {
  const { $, state, call, showError, errorAt, clearError, words } = ctx;
  if (readyMsg && readyMsg.pad_device) showDevice(ctx, readyMsg.pad_device);
  const pad = $("pad-canvas");
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
    $("pad-rule").textContent = `Unsure when the top probability is below 70% or the evidence (log-sum-exp of the ` +
      `logits) is below ${info.floor.toFixed(2)}, what ${info.floor_share}% of ${info.calibration_digits} real MNIST test digits get ` +
      `from this model.`;
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
    el.textContent = v.text;
    el.classList.toggle("unsure", v.unsure);
    $("pad-reason").textContent = v.unsure ? `why: ${v.reason}` :
      `top probability ${(100 * v.prob).toFixed(1)}% ≥ 70%, evidence ${v.evidence.toFixed(2)} ≥ ${out.floor.toFixed(2)}`;
    const bars = $("pad-probs");
    bars.textContent = "";
    out.probs.forEach((p, i) => {
      const row = document.createElement("button");
      row.type = "button";
      row.className = "bar" + (i === out.label ? " top" : "") + (i === out.explain.target ? " target" : "");
      row.title = `explain ${i}`;
      row.setAttribute("aria-label", `digit ${i}: ${(100 * p).toFixed(1)}%, explain it`);
      row.innerHTML = `<span>${i}</span><i style="width:${(130 * p).toFixed(1)}px"></i><b>${(100 * p).toFixed(1)}%</b>`;
      row.onclick = () => { $("pad-target").value = String(i); predict("pad-target"); };
      bars.appendChild(row);
    });
    const ex = out.explain;
    $("pad-explain-what").textContent = `${ex.what}${$("pad-target").value === "predicted" ? " (the predicted one)" : ""}` +
      (ex.note ? ` — ${ex.note}` : "");
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
    state.padClears = (state.padClears || 0) + 1;
    call("pad_clear").catch(showError);
    showEmpty();
  };
  for (const id of ["pad-model", "pad-explain", "pad-target", "pad-layer"]) {
    $(id).addEventListener("change", () => { if (state.lastPrediction || id === "pad-model") predict(id); });
  }
  for (const [v, name] of Object.entries(METHODS)) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = name;
    $("pad-explain").appendChild(o);
  }
  // after the other demos' first calls (their init runs in this same task): their first frames come first
  setTimeout(() => call("pad_prepare", $("pad-model").value).then(showModel).catch(showError), 0);
  window.gpumlPredict = predict;
}
