// The page's Web Worker: Pyodide + gpuml + WebGPU. All Python and all GPU work run here, so the page's main
// thread only handles input and the DOM (no long tasks while training or animating).
//
// Messages in:  {type: "init", canvases, opts} | {type: "call", id, fn, args}
// Messages out: {type: "status"|"ready"|"error"|"result"|"progress"|"notice", ...}
import { Renderer } from "./render.js";
import { Renderer2D } from "./render2d.js";
import * as kmeansWorker from "./demos/kmeans.worker.js";
import * as trainWorker from "./demos/train.worker.js";
import * as augmentWorker from "./demos/augment.worker.js";
import * as padWorker from "./demos/pad.worker.js";
import * as regularizationWorker from "./demos/regularization.worker.js";
import * as raceWorker from "./demos/race.worker.js";
import * as builderWorker from "./demos/builder.worker.js";
import * as convbenchWorker from "./demos/convbench.worker.js";

// one line per demo with worker-side code
const DEMO_WORKERS = [kmeansWorker, trainWorker, augmentWorker, padWorker, regularizationWorker, raceWorker,
  builderWorker, convbenchWorker];

const post = (m, transfer) => self.postMessage(m, transfer || []);
const t0 = performance.now();
let pyodide = null, app = null, renderer = null, backend = null;
const timings = {};
let queue = Promise.resolve();
const data = {};

function reportError(text) {
  post({ type: "error", text: String(text) });
}
self.addEventListener("unhandledrejection", (e) => reportError(e.reason && (e.reason.message || e.reason)));
self.addEventListener("error", (e) => reportError(e.message));

// Serialise every Python call (JSPI calls may suspend; a second call must not enter Python meanwhile).
function py(fn, ...args) {
  const run = async () => {
    const f = app[fn];
    try {
      const out = await f.callPromising(...args);
      return typeof out === "string" ? JSON.parse(out) : out;
    } finally {
      f.destroy();
    }
  };
  const p = queue.then(run, run);
  queue = p.catch(() => {});
  return p;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`fetching ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function detectGPU(opts) {
  if (opts.gpu === "off") return { ok: false, why: "WebGPU disabled for this page (?gpu=off)" };
  if (!("gpu" in navigator) || !navigator.gpu) return { ok: false, why: "this browser has no navigator.gpu (no WebGPU)" };
  // Keep the GPU object referenced for the worker's lifetime: Chromium reports the device lost ("a valid external
  // Instance reference no longer exists") when navigator.gpu's instance is collected in a worker.
  self.gpumlGPU = navigator.gpu;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { ok: false, why: "navigator.gpu.requestAdapter() returned null (WebGPU blocked or no adapter)" };
  return { ok: true, info: adapter.info ? `${adapter.info.vendor} ${adapter.info.architecture}` : "" };
}

async function tryNumpy(version) {
  // Pyodide core has no numpy; online it can come from Pyodide's CDN (the CPU backend needs it).
  try {
    const lock = await (await fetch("./pyodide/pyodide-lock.json")).json();
    const file = lock.packages && lock.packages.numpy && lock.packages.numpy.file_name;
    if (!file) return false;
    const url = `https://cdn.jsdelivr.net/pyodide/v${version}/full/${file}`;
    await pyodide.loadPackage(url, { messageCallback: () => {}, errorCallback: () => {} });
    pyodide.runPython("import numpy");
    return true;
  } catch (e) {
    return false;
  }
}

async function init(msg) {
  const { canvases, opts } = msg;
  post({ type: "status", text: "loading Pyodide…" });
  const { loadPyodide } = await import("./pyodide/pyodide.mjs");
  const [py_, wheel, info] = await Promise.all([
    loadPyodide({ indexURL: new URL("./pyodide/", self.location.href).href }),
    fetch("./build-info.json").then((r) => r.json()).then(async (info) => [info, await fetchBytes(`./${info.wheel}`)]),
    detectGPU(opts),
  ]).then(([a, [bi, w], g]) => [a, w, { build: bi, gpu: g }]);
  pyodide = py_;
  timings.pyodide_ms = performance.now() - t0;
  post({ type: "status", text: "installing gpuml…" });
  const site = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  pyodide.unpackArchive(wheel.buffer, "zip", { extractDir: site });
  // the page's Python package (py/gpuml_web/*.py in the site) goes next to gpuml in site-packages
  const pyFiles = info.build.files.filter((f) => f.startsWith("py/") && f.endsWith(".py"));
  await Promise.all(pyFiles.map(async (f) => {
    const text = await (await fetch(`./${f}`)).text();
    const dest = `${site}/${f.slice(3)}`;
    pyodide.FS.mkdirTree(dest.slice(0, dest.lastIndexOf("/")));
    pyodide.FS.writeFile(dest, text);
  }));
  timings.install_ms = performance.now() - t0 - timings.pyodide_ms;
  // No WebGPU: gpuml's numpy backend where numpy can be loaded (online), else its pure-Python backend (Pyodide
  // core, offline). Both run every demo, much slower; the canvases are drawn with Canvas 2D (render2d.js).
  backend = "browser";
  if (!info.gpu.ok) {
    post({ type: "notice", level: "warn", text: `No WebGPU: ${info.gpu.why}. The demos run on the CPU instead…` });
    backend = (await tryNumpy(pyodide.version)) ? "cpu" : "python";
    pyodide.runPython(`import os; os.environ['GPUML_BACKEND'] = '${backend}'`);
    post({
      type: "notice", level: "warn",
      text: backend === "cpu"
        ? "Running on the CPU (gpuml's numpy backend): much slower than WebGPU."
        : "Running on the CPU in pure Python (gpuml's python backend: numpy could not be loaded, e.g. offline): " +
          "every demo works, but far slower than WebGPU; live training uses batches of 16.",
    });
  }
  await pyodide.runPythonAsync("import gpuml_web");
  app = pyodide.pyimport("gpuml_web");
  // shaders for the canvases come from the installed wheel
  const shaders = {};
  for (const name of ["web_image", "web_points", "web_lines"]) {
    shaders[name] = pyodide.FS.readFile(`${site}/gpuml/shaders/render/${name}.wgsl`, { encoding: "utf8" });
  }
  post({ type: "status", text: "creating the WebGPU device…" });
  const setupFn = app.setup;
  let setup;
  if (backend === "browser") {
    // the renderer needs the device gpuml creates: set it up lazily through a proxy object
    setup = JSON.parse(await setupFn.callPromising(null, "{}"));
    const jsDevice = pyodide.runPython("import gpuml_web as a; a.js_device()");
    renderer = new Renderer(jsDevice, shaders, reportError);
    jsDevice.addEventListener("uncapturederror", (e) => reportError(`WebGPU error: ${e.error.message}`));
    jsDevice.lost.then((i) => reportError(`WebGPU device lost (${i.reason}): ${i.message}`));
    const setR = app.set_renderer;
    setR(renderer);
    setR.destroy();
    for (const [name, canvas] of Object.entries(canvases)) renderer.addCanvas(name, canvas, opts.present);
  } else {
    renderer = new Renderer2D(reportError);
    for (const [name, canvas] of Object.entries(canvases)) renderer.addCanvas(name, canvas);
    setup = JSON.parse(await setupFn.callPromising(renderer, "{}"));
  }
  setupFn.destroy();
  timings.device_ms = performance.now() - t0 - timings.pyodide_ms - timings.install_ms;
  // default model: JSON + raw float32
  const modelName = info.build.model;
  const [meta, blob] = await Promise.all([
    fetch(`./model/${modelName}.json`).then((r) => r.text()),
    fetchBytes(`./model/${modelName}.bin`),
  ]);
  const loaded = await py("load_model", "default", meta, blob);
  timings.model_ms = loaded.ms;
  // "Ready" means the first prediction runs at once: the pad's kernels are compiled here (?warm=0 skips it: A/B)
  if (opts.warm === "0") await py("pad_clear");
  else timings.warm_ms = (await py("warm_up")).ms;
  await renderer?.settled();
  const tti = performance.now() - t0;
  post({
    type: "ready", ok: true, backend, setup, timings, tti_worker_ms: tti, build: info.build,
    model: JSON.parse(meta).trained, gpu: info.gpu,
  });
}

async function getData(name) {
  if (!data[name]) data[name] = await fetchBytes(`./data/${name}`);
  return data[name];
}
async function getJSON(name) {
  if (!data[name]) data[name] = await (await fetch(`./data/${name}`)).json();
  return data[name];
}

// Worker-side handlers of each demo (loops, data fetching); any other call goes straight to Python.
const env = { py, post, getData, getJSON, backend: () => backend, renderer: () => renderer };
const handlers = Object.assign({}, ...DEMO_WORKERS.map((m) => m.handlers(env)));

async function call(fn, args) {
  const h = handlers[fn];
  return h ? h(args) : py(fn, ...args);
}

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    if (msg.type === "init") await init(msg);
    else if (msg.type === "call") {
      const value = await call(msg.fn, msg.args || []);
      post({ type: "result", id: msg.id, value });
    }
  } catch (err) {
    const text = String((err && err.message) || err);
    // a call's error goes back to its caller, which shows it next to the control that caused it
    if (msg.type === "call") post({ type: "result", id: msg.id, error: text });
    else reportError(text);
  }
};
