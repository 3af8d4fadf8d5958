// Main thread of the gpuml page: DOM, input and messages only. Pyodide, gpuml and WebGPU live in worker.js,
// so no main-thread task gets long while training or animating (measured below with a PerformanceObserver).
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  ready: false, backend: null, tti_ms: null, longTasks: [], trainLongTasks: [], training: false,
  lastPrediction: null, kmeans: null, augment: null, train: null, errors: [], notices: [], steps: [],
};
window.gpumlPage = state; // read by tests and by curious people in the console

function showError(text) {
  state.errors.push(text);
  const div = document.createElement("div");
  div.textContent = text;
  $("errors").appendChild(div);
  $("errors").classList.add("visible");
}
function notice(text, level = "warn") {
  state.notices.push({ text, level });
  const div = document.createElement("div");
  div.className = `notice ${level}`;
  div.textContent = text;
  $("notices").appendChild(div);
}
window.addEventListener("error", (e) => showError(`page error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`page error: ${e.reason && (e.reason.message || e.reason)}`));

// --- long tasks on the main thread --------------------------------------------------------------------------
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const rec = { start: entry.startTime, ms: entry.duration };
      state.longTasks.push(rec);
      if (state.training) state.trainLongTasks.push(rec);
    }
  }).observe({ type: "longtask", buffered: true });
} catch (e) {
  notice("This browser has no long-task PerformanceObserver; main-thread responsiveness is not measured.");
}

// --- worker -------------------------------------------------------------------------------------------------
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map();
function call(fn, ...args) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ type: "call", id, fn, args });
  });
}
window.gpumlCall = call;

const listeners = { progress: [] };
worker.onmessage = (e) => {
  const m = e.data;
  if (m.type === "result") {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error)); else p.resolve(m.value);
  } else if (m.type === "status") {
    $("status").textContent = m.text;
  } else if (m.type === "notice") {
    notice(m.text, m.level);
  } else if (m.type === "error") {
    showError(m.text);
  } else if (m.type === "ready") {
    onReady(m);
  } else if (m.type === "progress") {
    onProgress(m.name, m.data);
  }
};
worker.onerror = (e) => showError(`worker error: ${e.message}`);

const canvases = {};
for (const [name, id] of [["pad", "pad-canvas"], ["input", "input-canvas"], ["acts", "acts-canvas"],
  ["kmeans", "kmeans-canvas"], ["gallery", "gallery-canvas"], ["curves", "curves-canvas"]]) {
  canvases[name] = $(id).transferControlToOffscreen();
}
worker.postMessage({ type: "init", canvases, opts: { gpu: params.get("gpu") || "auto", present: params.get("present") || "copy" } },
  Object.values(canvases));

function fact(label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  $("facts").append(dt, dd);
}

function onReady(m) {
  state.tti_ms = performance.now(); // since navigation start
  state.worker = m;
  state.backend = m.backend || null;
  state.ready = !!m.ok;
  if (!m.ok) {
    $("status").textContent = "The demos cannot run in this browser (see above).";
    document.body.classList.add("no-demos");
    return;
  }
  const dev = m.setup.device;
  state.adapter = dev.adapter || dev.device || "";
  $("status").textContent = `Ready in ${(state.tti_ms / 1000).toFixed(2)} s (Pyodide ${((m.timings.pyodide_ms) / 1000).toFixed(2)} s).`;
  fact("time to interactive", `${(state.tti_ms / 1000).toFixed(2)} s (page start → Pyodide + gpuml + device + model ready)`);
  const backends = {
    browser: "WebGPU (navigator.gpu)",
    cpu: "CPU: gpuml's numpy backend — much slower; canvases drawn with Canvas 2D",
    python: "CPU: gpuml's pure-Python backend (no WebGPU, no numpy) — far slower; canvases drawn with Canvas 2D",
  };
  fact("backend", backends[m.backend] || m.backend);
  fact("adapter", state.adapter);
  fact("Python / gpuml", `${m.setup.python} / ${m.setup.gpuml}, numpy loaded: ${m.setup.numpy}`);
  const p = m.build.payload_bytes;
  fact("gpuml payload", `${(p.total / 1e6).toFixed(3)} MB (wheel ${(p.wheel / 1e3).toFixed(0)} kB + model ${(p.model / 1e3).toFixed(0)} kB)`);
  if (m.model) fact("model", `LeNet-5, test accuracy ${m.model.test_accuracy ? (100 * m.model.test_accuracy).toFixed(2) + "%" : "?"} (${m.model.source})`);
  $("build-version").textContent = `build ${m.build.version}`;
  const sel = $("km-dataset");
  for (const name of m.build.kmeans_datasets) sel.add(new Option(name, name));
  kmeansReset();
  augmentRun();
  trainReset();
}

function onProgress(name, d) {
  if (name === "kmeans") {
    state.kmeans.steps.push(d);
    if (d.done) {
      state.kmeans.done = true;
      state.kmeans.labels = d.labels;
      $("km-play").textContent = "Play";
    }
    const frames = state.kmeans.steps.filter((s) => !s.done && s.step_ms);
    const stepMs = frames.reduce((a, s) => a + s.step_ms + s.draw_ms, 0) / Math.max(frames.length, 1);
    $("km-info").textContent = d.done
      ? `converged after ${d.n_iter} iterations, inertia ${d.inertia.toFixed(2)}; ${stepMs.toFixed(2)} ms per iteration + frame`
      : `iteration ${d.iteration}` + (d.inertia === null ? "" : ` (before: inertia ${d.inertia.toFixed(2)}, shift ` +
        `${d.shift.toExponential(2)})`) + ` — step ${d.step_ms.toFixed(2)} ms, draw ${d.draw_ms.toFixed(2)} ms`;
  } else if (name === "kmeans-state") {
    $("km-play").textContent = "Play";
  } else if (name === "train") {
    state.train.steps.push(d);
    const last = state.train.steps.slice(-10);
    const ms = last.reduce((a, s) => a + s.ms_per_step, 0) / last.length;
    const tests = state.train.steps.filter((s) => s.test_acc !== null);
    const acc = tests.length ? `, test accuracy ${(100 * tests[tests.length - 1].test_acc).toFixed(1)}%` : "";
    $("train-info").textContent = `step ${d.step} (epoch ${d.epoch.toFixed(2)}): loss ${d.loss.toFixed(3)}${acc} — ${ms.toFixed(1)} ms/step`;
    const lt = state.trainLongTasks;
    $("longtask-info").textContent = `main-thread long tasks (> 50 ms) while training: ${lt.length}` +
      (lt.length ? `, longest ${Math.max(...lt.map((t) => t.ms)).toFixed(0)} ms` : "");
  } else if (name === "train-state") {
    state.training = false;
    $("train-start").textContent = "Start";
  }
}

// --- digit pad ------------------------------------------------------------------------------------------------
const pad = $("pad-canvas");
let drawing = false, last = null, segs = [], flushTimer = null;
function flushSegs() {
  flushTimer = null;
  if (!segs.length) return;
  const batch = segs;
  segs = [];
  call("pad_stroke", batch, Number($("pad-brush").value)).catch((e) => showError(e.message));
}
function queueSeg(a, b) {
  segs.push(a[0], a[1], b[0], b[1]);
  if (!flushTimer) flushTimer = setTimeout(flushSegs, 16);
}
function pos(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * (280 / r.width), (e.clientY - r.top) * (280 / r.height)];
}
// Predictions run one after another; while one runs, later requests share the one queued behind it.
let predictChain = Promise.resolve(), queuedPredict = null;
function predict() {
  if (!state.ready) return Promise.resolve(null);
  flushSegs();
  if (queuedPredict) return queuedPredict;
  const p = predictChain.then(async () => {
    queuedPredict = null;
    const out = await call("pad_predict", $("pad-model").value);
    if (!out.empty) showPrediction(out);
    return out;
  }).catch((e) => { showError(`prediction failed: ${e.message}`); return null; });
  queuedPredict = p;
  predictChain = p;
  return p;
}
function showPrediction(out) {
  state.lastPrediction = out;
  state.predictions = (state.predictions || 0) + 1;
  $("pad-prediction").textContent = `${out.label}  (${(100 * out.probs[out.label]).toFixed(1)}%)`;
  const bars = $("pad-probs");
  bars.textContent = "";
  out.probs.forEach((p, i) => {
    const row = document.createElement("div");
    row.className = "bar" + (i === out.label ? " top" : "");
    row.innerHTML = `<span>${i}</span><i style="width:${(100 * p).toFixed(1)}%"></i>`;
    bars.appendChild(row);
  });
  $("pad-timing").textContent = `prediction ${out.predict_ms.toFixed(2)} ms (forward + readback), ` +
    `preprocess ${out.preprocess_ms.toFixed(1)} ms, Grad-CAM + activations ${out.gradcam_and_draw_ms.toFixed(1)} ms`;
}
pad.addEventListener("pointerdown", (e) => {
  if (!state.ready) return;
  pad.setPointerCapture(e.pointerId);
  drawing = true;
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
};
pad.addEventListener("pointerup", stop);
pad.addEventListener("pointercancel", stop);
$("pad-clear").onclick = () => {
  segs = [];
  call("pad_clear");
  state.lastPrediction = null;
  $("pad-prediction").textContent = "—";
  $("pad-probs").textContent = "";
};
window.gpumlPredict = predict;

// --- k-means ------------------------------------------------------------------------------------------------
async function kmeansReset() {
  await call("kmeans_pause");
  const ds = $("km-dataset").value, k = Number($("km-k").value), seed = Number($("km-seed").value);
  state.kmeans = { dataset: ds, k, seed, steps: [], done: false, labels: null };
  await call("kmeans_start", ds, k, seed);
  $("km-info").textContent = `${ds}: 1,000 points, k = ${k}, seed ${seed}`;
  $("km-play").textContent = "Play";
}
$("km-reset").onclick = kmeansReset;
$("km-dataset").onchange = kmeansReset;
$("km-k").onchange = kmeansReset;
$("km-seed").onchange = kmeansReset;
$("km-play").onclick = async () => {
  if ($("km-play").textContent === "Pause") {
    await call("kmeans_pause");
    $("km-play").textContent = "Play";
  } else {
    if (state.kmeans.done) await kmeansReset();
    $("km-play").textContent = "Pause";
    await call("kmeans_play");
  }
};
$("km-step").onclick = async () => {
  await call("kmeans_pause");
  const d = await call("kmeans_step");
  onProgress("kmeans", d);
};
window.gpumlKmeansReset = kmeansReset;

// --- augmentation -------------------------------------------------------------------------------------------
async function augmentRun() {
  try {
    const out = await call("augment_run", $("aug-spec").value, Number($("aug-seed").value), $("aug-source").value);
    state.augment = out;
    $("aug-info").textContent = `${out.shape.join(" × ")} in ${out.ms.toFixed(1)} ms (upload, parameters, kernels, draw)`;
  } catch (e) {
    showError(`augmentation: ${e.message}`);
  }
}
$("aug-run").onclick = augmentRun;
for (const b of document.querySelectorAll(".presets button")) {
  b.onclick = () => { $("aug-spec").value = b.dataset.spec; $("aug-source").value = b.dataset.src; augmentRun(); };
}

// --- training -----------------------------------------------------------------------------------------------
async function trainReset() {
  await call("train_pause");
  state.training = false;
  const info = await call("train_setup");
  state.train = { steps: [], setup: info };
  $("train-batch").textContent = info.batch;
  $("train-info").textContent = `${info.n_train} training images, ${info.n_test} test images, ${info.parameters.toLocaleString()} parameters`;
  $("train-start").textContent = "Start";
}
$("train-reset").onclick = trainReset;
$("train-start").onclick = async () => {
  state.training = true;
  $("train-start").textContent = "Running…";
  await call("train_start");
};
$("train-pause").onclick = async () => {
  await call("train_pause");
};

// --- offline + installable ----------------------------------------------------------------------------------
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("./sw.js").then(
    (reg) => { state.serviceWorker = "registered"; },
    (err) => notice(`Offline cache unavailable: ${err.message}`),
  );
}
