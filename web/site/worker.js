// The page's Web Worker: Pyodide + gpuml + WebGPU. All Python and all GPU work run here, so the page's main
// thread only handles input and the DOM (no long tasks while training or animating).
//
// Messages in:  {type: "init", canvases, opts} | {type: "call", id, fn, args} | {type: "loop", name, action}
// Messages out: {type: "status"|"ready"|"error"|"result"|"progress"|"notice", ...}
import { Renderer } from "./render.js";
import { Renderer2D } from "./render2d.js";

const post = (m, transfer) => self.postMessage(m, transfer || []);
const t0 = performance.now();
let pyodide = null, app = null, renderer = null, backend = null;
const timings = {};
let queue = Promise.resolve();
const data = {};
const loops = { kmeans: { running: false }, train: { running: false } };

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
  const appSource = await (await fetch("./app.py")).text();
  pyodide.FS.writeFile(`${site}/gpuml_web_app.py`, appSource);
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
  await pyodide.runPythonAsync("import gpuml_web_app");
  app = pyodide.pyimport("gpuml_web_app");
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
    const jsDevice = pyodide.runPython("import gpuml_web_app as a; a.js_device()");
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
  await py("pad_clear");
  await renderer?.settled();
  const tti = performance.now() - t0;
  post({
    type: "ready", ok: true, backend, setup, timings, tti_worker_ms: tti, build: info.build,
    model: JSON.parse(meta).trained, gpu: info.gpu,
  });
}

async function kmeansLoop() {
  const loop = loops.kmeans;
  const frame = () => new Promise((r) => (self.requestAnimationFrame ? self.requestAnimationFrame(r) : setTimeout(r, 16)));
  let last = performance.now(), waited = 0;
  while (loop.running) {
    const t0 = performance.now();
    const out = await py("kmeans_step");
    const now = performance.now();
    // frame_ms: between consecutive iterations shown; call_ms: the Python call (step + draw + JSPI/JSON);
    // wait_ms: the wait for this animation frame before it
    Object.assign(out, { frame_ms: now - last, call_ms: now - t0, wait_ms: waited });
    last = now;
    post({ type: "progress", name: "kmeans", data: out });
    if (out.done) { loop.running = false; break; }
    const t1 = performance.now();
    await frame();
    waited = performance.now() - t1;
  }
  post({ type: "progress", name: "kmeans-state", data: { running: false } });
}

// The animation's sustained rate: `frames` k-means frames paced by requestAnimationFrame exactly as kmeansLoop
// paces them, on one dataset, restarting with the next seed whenever a fit converges (intervals that include a
// restart are left out). Returns the intervals between frames and the Python call time of each.
async function kmeansAnimBench(dataset, k, frames) {
  if (!data.kmeans) data.kmeans = await (await fetch("./data/kmeans.json")).json();
  loops.kmeans.running = false;
  const rows = JSON.stringify(data.kmeans[dataset]);
  const frame = () => new Promise((r) => (self.requestAnimationFrame ? self.requestAnimationFrame(r) : setTimeout(r, 16)));
  let seed = 0, restarts = 0, last = null;
  await py("kmeans_start", rows, k, seed);
  await py("kmeans_step"); // compiles the pipelines
  const frameMs = [], callMs = [];
  const t0 = performance.now();
  while (frameMs.length < frames) {
    await frame();
    const t1 = performance.now();
    let out = await py("kmeans_step");
    if (out.done) {
      restarts += 1;
      await py("kmeans_start", rows, k, ++seed);
      out = await py("kmeans_step");
      last = null;
    }
    const now = performance.now();
    if (last !== null) { frameMs.push(now - last); callMs.push(now - t1); }
    last = now;
  }
  return { dataset, k, frames, restarts, wall_ms: performance.now() - t0, frame_ms: frameMs, call_ms: callMs };
}

async function trainLoop() {
  const loop = loops.train;
  while (loop.running && loop.stepsLeft > 0) {
    const out = await py("train_steps", 1);
    loop.stepsLeft -= 1;
    post({ type: "progress", name: "train", data: out });
    await new Promise((r) => setTimeout(r, 0)); // let messages (pause, pad strokes) in between steps
  }
  loop.running = false;
  post({ type: "progress", name: "train-state", data: { running: false } });
}

async function getData(name) {
  if (!data[name]) data[name] = await fetchBytes(`./data/${name}`);
  return data[name];
}

async function call(fn, args) {
  switch (fn) {
    case "kmeans_start": {
      if (!data.kmeans) data.kmeans = await (await fetch("./data/kmeans.json")).json();
      loops.kmeans.running = false;
      return py("kmeans_start", JSON.stringify(data.kmeans[args[0]]), args[1], args[2]);
    }
    case "kmeans_play":
      if (!loops.kmeans.running) { loops.kmeans.running = true; kmeansLoop(); }
      return { running: true };
    case "kmeans_pause":
      loops.kmeans.running = false;
      return { running: false };
    case "kmeans_bench":
      return renderer.benchPoints("kmeans", args[0] || 60);
    case "kmeans_anim_bench":
      return kmeansAnimBench(args[0] || "blobs", args[1] || 5, args[2] || 120);
    case "augment_run":
      return py("augment_run", args[0], args[1], args[2], await getData("mnist_test_images.u8"), 16);
    case "train_setup": {
      const [xi, yi, xt, yt] = await Promise.all(["mnist_train_images.u8", "mnist_train_labels.u8",
        "mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      loops.train.running = false;
      return py("train_setup", xi, yi, xt, yt, backend === "python" ? 16 : 64, 2e-3, 0);
    }
    case "train_start":
      loops.train.stepsLeft = args[0] || 1e9;
      if (!loops.train.running) { loops.train.running = true; trainLoop(); }
      return { running: true };
    case "train_pause":
      loops.train.running = false;
      return { running: false };
    case "mnist_test_pixels": {
      // test digits (uint8) as flat float lists, for the page's predict benchmark
      const [xi, yi] = await Promise.all(["mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      const n = args[0] || 10, px = [];
      for (let i = 0; i < n; i++) px.push(Array.from(xi.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
      return { pixels: px, labels: Array.from(yi.subarray(0, n)) };
    }
    default:
      return py(fn, ...args);
  }
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
    if (msg.type === "call") post({ type: "result", id: msg.id, error: text });
    reportError(text);
  }
};
