// Main thread of the gpuml page: the shell (worker, messages, errors, facts) and one module per demo
// (demos/<name>.js: its controls and panels). Pyodide, gpuml and WebGPU live in worker.js, so no main-thread task
// gets long while training or animating (measured below with a PerformanceObserver).
//
// A demo module exports `canvases` ({worker canvas name: element id}: drawn by the worker's WebGPU renderer),
// `init(ctx)` (wire the controls; called once the page is ready) and optionally `progress` ({message name:
// handler}) for the worker's progress messages. A new demo is one module, one line in DEMOS and one <section>.
import * as pad from "./demos/pad.js";
import * as kmeans from "./demos/kmeans.js";
import * as augment from "./demos/augment.js";
import * as train from "./demos/train.js";
import * as regularization from "./demos/regularization.js";
import * as race from "./demos/race.js";
import * as builder from "./demos/builder.js";
import * as convbench from "./demos/convbench.js";

const DEMOS = [pad, kmeans, augment, train, regularization, race, builder, convbench];

const $ = (id) => document.getElementById(id);
const state = {
  ready: false, backend: null, tti_ms: null, longTasks: [], trainLongTasks: [], training: false,
  lastPrediction: null, kmeans: null, augment: null, train: null, errors: [], notices: [], steps: [],
};
window.gpumlPage = state; // read by tests and by curious people in the console

// An error in words: Python tracebacks and "Error:" prefixes are cut to the last line's message.
function words(err) {
  let text = String((err && err.message) || err || "unknown error").trim();
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length > 1 && lines.some((l) => l.startsWith("Traceback") || l.startsWith("File \""))) {
    text = lines[lines.length - 1];
  }
  return text.replace(/^(PythonError|Error|ValueError|TypeError|KeyError|RuntimeError|[A-Za-z]+Error):\s*/, "");
}

// Unexpected errors (not tied to a control) go to the page's error area, in words.
function showError(err) {
  const text = words(err);
  state.errors.push(text);
  const div = document.createElement("div");
  div.textContent = text;
  $("errors").appendChild(div);
  $("errors").classList.add("visible");
}

// An error caused by a control: shown next to it (and cleared by the next success), never as a traceback.
function errorAt(control, err) {
  const el = typeof control === "string" ? $(control) : control;
  const text = words(err);
  state.errors.push(text);
  let box = el.parentElement.querySelector(`.field-error[data-for="${el.id}"]`);
  if (!box) {
    box = document.createElement("div");
    box.className = "field-error";
    box.dataset.for = el.id;
    box.setAttribute("role", "alert");
    el.insertAdjacentElement("afterend", box);
  }
  box.textContent = text;
  el.setAttribute("aria-invalid", "true");
  return text;
}
function clearError(control) {
  const el = typeof control === "string" ? $(control) : control;
  const box = el.parentElement.querySelector(`.field-error[data-for="${el.id}"]`);
  if (box) box.remove();
  el.removeAttribute("aria-invalid");
}

function notice(text, level = "warn") {
  state.notices.push({ text, level });
  const div = document.createElement("div");
  div.className = `notice ${level}`;
  div.textContent = text;
  $("notices").appendChild(div);
}
window.addEventListener("error", (e) => showError(`page error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`page error: ${words(e.reason)}`));

// The landing view's cards and nav links are built by landing.js, a classic script that runs while the page is
// parsed (before the first paint: built here, after it, they shifted the whole page down).

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
// started by index.html's head (booting while this module graph loads); created here if that script did not run
const worker = window.gpumlWorker ||
  new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: location.search });
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

const progress = {};
for (const m of DEMOS) Object.assign(progress, m.progress || {});
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
    // errors of a call are the caller's to show (next to its control); others land here
    if (!m.call) showError(m.text);
  } else if (m.type === "ready") {
    onReady(m);
  } else if (m.type === "progress") {
    const h = progress[m.name];
    if (h) h(m.data, ctx); else showError(`no handler for progress message ${m.name}`);
  }
};
worker.onerror = (e) => showError(`worker error: ${e.message}`);

const canvases = {};
for (const m of DEMOS) {
  for (const [name, id] of Object.entries(m.canvases || {})) canvases[name] = $(id).transferControlToOffscreen();
}
// the worker reads the page's options (gpu, present, warm, snapshot) from its name: the page's query
worker.postMessage({ type: "init", canvases }, Object.values(canvases));

// A fact of the landing view: fills the placeholder row index.html reserves for it (so Ready shifts no layout),
// else adds a row.
function fact(label, value) {
  const dt = [...$("facts").querySelectorAll("dt")].find((d) => d.textContent === label);
  if (dt) {
    dt.nextElementSibling.textContent = value;
    return;
  }
  const row = document.createElement("dt");
  row.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  $("facts").append(row, dd);
}

// What every demo module gets.
const ctx = { $, state, call, showError, errorAt, clearError, notice, words, fact };

function onReady(m) {
  state.tti_ms = performance.now(); // since navigation start
  // when the worker started (its t0), since navigation start: index.html starts it before this module loads
  if (m.timings) m.timings.worker_start_ms = m.worker_origin - performance.timeOrigin;
  state.worker = m;
  state.backend = m.backend || null;
  state.ready = !!m.ok;
  if (!m.ok) {
    $("status").textContent = "The demos cannot run in this browser (see above).";
    $("facts").hidden = true;
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
  // Each demo's init in a task of its own, in DEMOS order: together they would make one long task. Their times
  // (ms, by DEMOS index) are in gpumlPage.initMs.
  state.initMs = [];
  DEMOS.forEach((d, i) => setTimeout(() => {
    const t = performance.now();
    try {
      d.init(ctx, m);
    } catch (e) {
      showError(e);
    }
    state.initMs[i] = performance.now() - t;
  }, 0));
}

// --- offline + installable ----------------------------------------------------------------------------------
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("./sw.js").then(
    (reg) => { state.serviceWorker = "registered"; },
    (err) => notice(`Offline cache unavailable: ${err.message}`),
  );
}
