// The page's Web Worker: Pyodide + gpuml + WebGPU. All Python and all GPU work run here, so the page's main
// thread only handles input and the DOM (no long tasks while training or animating).
//
// Messages in:  {type: "init", canvases} | {type: "call", id, fn, args}
// Messages out: {type: "status"|"ready"|"error"|"result"|"progress"|"notice", ...}
import * as snapshot from "./snapshot.js";
import { unpackStored } from "./storedzip.js";

// one line per demo with worker-side code
const DEMO_WORKERS = ["kmeans", "train", "augment", "pad", "regularization", "race", "builder", "convbench"];
// Boot needs only the two modules above: the renderers and the demos' worker code load beside it (a static
// import would hold the worker's first line, and Pyodide's start, until they all had loaded)
const later = Promise.all([import("./render.js"), import("./render2d.js"),
  ...DEMO_WORKERS.map((name) => import(`./demos/${name}.worker.js`))]);

// index.html starts this worker before the page's modules load (its name carries the page's query), so Pyodide
// boots while they do; until app.js's "init" arrives (its message handler exists from then on) messages wait here.
let connected = false;
const outbox = [];
const post = (m, transfer) => (connected ? self.postMessage(m, transfer || []) : outbox.push([m, transfer || []]));
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

// Serialise every Python call (JSPI calls may suspend; a second call must not enter Python meanwhile). Calls wait
// in three lanes: the digit pad's (a user drawing: always first), every other demo's, and the pad's background
// WebGPU warm-up steps. Other demos' calls wait during START_GRACE_MS after Ready and while the pad is in use (a
// pad call less than PAD_IDLE_MS ago: a stroke's segments and its prediction arrive in several calls), so a
// digit drawn at once is not queued behind their start-up work (e.g. the first augmentation's shader compiles,
// seconds on SwiftShader); warm-up steps (short: the compiles run outside the queue) wait only while the pad is in
// use. Between two calls the worker yields to its event loop, so frames drawn by a call that never suspended (the
// pad on the CPU) are presented at once (mapAsync callbacks are tasks, not microtasks).
// While the pen is down on the pad (pad.js: "pad_pen") the others wait too, PEN_MAX_MS at most.
const START_GRACE_MS = 1000, PAD_IDLE_MS = 300, PEN_MAX_MS = 10_000;
const lanes = [[], [], []];
let running = false, timer = null, padLast = -Infinity, penDown = null;
const calls = [];  // the first calls after Ready, for the page benchmark: {fn, lane, queued, start, end} (ms)
let tReady = null;
const laneOf = (fn) => (fn.startsWith("pad_warm") ? 2 : fn.startsWith("pad_") ? 0 : 1);

function py(fn, ...args) {
  return new Promise((resolve, reject) => {
    const rec = { fn, lane: laneOf(fn), queued: performance.now() };
    lanes[rec.lane].push({ rec, args, resolve, reject });
    if (tReady !== null && calls.length < 400) calls.push(rec);
    pump();
  });
}

// The lane to serve now, or the ms to wait before one may be served.
function pick() {
  if (lanes[0].length) return { lane: 0 };
  const now = performance.now();
  const padUntil = Math.max(padLast + PAD_IDLE_MS, penDown === null ? 0 : penDown + PEN_MAX_MS);
  const othersUntil = Math.max(padUntil, tReady === null ? 0 : tReady + START_GRACE_MS);
  if (lanes[2].length && now >= padUntil) return { lane: 2 };
  if (lanes[1].length && now >= othersUntil) return { lane: 1 };
  const waits = [lanes[1].length && othersUntil - now, lanes[2].length && padUntil - now].filter((w) => w > 0);
  return { wait: waits.length ? Math.min(...waits) : 0 };
}

const yieldChannel = new MessageChannel();
const yielded = [];
yieldChannel.port1.onmessage = () => yielded.shift()();
const yieldTask = () => new Promise((r) => { yielded.push(r); yieldChannel.port2.postMessage(0); });

async function pump() {
  if (running) return;
  running = true;
  try {
    for (;;) {
      await yieldTask();
      const p = pick();
      if (p.lane === undefined) {
        if (p.wait > 0 && !timer) timer = setTimeout(() => { timer = null; pump(); }, p.wait + 1);
        break;
      }
      const { rec, args, resolve, reject } = lanes[p.lane].shift();
      rec.start = performance.now();
      let f = null;
      try {
        f = app[rec.fn];  // a demo's first call imports its module (gpuml_web/__init__.py)
        if (!f) throw new Error(`gpuml_web has no function ${rec.fn}`);
        const out = await f.callPromising(...args);
        resolve(typeof out === "string" ? JSON.parse(out) : out);
      } catch (e) {
        reject(e);
      } finally {
        if (f) f.destroy();
        rec.end = performance.now();
        if (rec.lane === 0) padLast = rec.end;
      }
    }
  } finally {
    running = false;
  }
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

// The page's options: its query, passed as the worker's name by index.html / app.js (not in the worker's URL: a
// worker served by the service worker gets the cached response's URL, without the query).
const OPTS = (() => {
  const q = new URLSearchParams(self.name || "");
  return { gpu: q.get("gpu") || "auto", present: q.get("present") || "copy", warm: q.get("warm") || "1",
    snapshot: q.get("snapshot") || "1" };
})();

// Boot: Pyodide, gpuml's wheel and gpuml_web (everything that needs no canvas), from the worker's start.
async function boot(opts) {
  post({ type: "status", text: "loading Pyodide…" });
  // the build's file list, gpuml's wheel, the GPU adapter and an earlier visit's snapshot (snapshot.js), at once
  const buildInfo = fetch("./build-info.json").then((r) => r.json());
  const wheelBytes = buildInfo.then((bi) => fetchBytes(`./${bi.wheel}`));
  const gpu = detectGPU(opts);
  const [{ loadPyodide }, snap] = await Promise.all([import("./pyodide/pyodide.mjs"), snapshot.find(opts, buildInfo)]);
  const indexURL = new URL("./pyodide/", self.location.href).href;
  const unhook = snap.response ? snapshot.growMemoryFor(snap.bytes) : () => {};
  try {
    pyodide = await loadPyodide(snap.response
      ? { indexURL, _loadSnapshot: snap.response.arrayBuffer() }
      : { indexURL, _makeSnapshot: snapshot.making() });
  } catch (e) {
    unhook();
    if (!snap.response) throw e;
    await snapshot.drop(`restoring the Pyodide snapshot: ${e.message || e}`);  // boot as usual
    pyodide = await loadPyodide({ indexURL });
  }
  unhook();
  const info = { build: await buildInfo, gpu: await gpu };
  const wheel = await wheelBytes;
  timings.pyodide_ms = performance.now() - t0;
  post({ type: "status", text: "installing gpuml…" });
  // a snapshot holds Python's memory, not Pyodide's file system: the files go in on every visit
  const site = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  const tUnpack = performance.now();
  if (!unpackStored(pyodide.FS, wheel, site)) pyodide.unpackArchive(wheel.buffer, "zip", { extractDir: site });
  timings.unpack_ms = performance.now() - tUnpack;
  // the page's Python package (py/gpuml_web/*.py in the site) goes next to gpuml in site-packages
  const pyFiles = info.build.files.filter((f) => f.startsWith("py/") && f.endsWith(".py"));
  await Promise.all(pyFiles.map(async (f) => {
    const text = await (await fetch(`./${f}`)).text();
    const dest = `${site}/${f.slice(3)}`;
    pyodide.FS.mkdirTree(dest.slice(0, dest.lastIndexOf("/")));
    pyodide.FS.writeFile(dest, text);
  }));
  // restored: gpuml_web is imported already (Python's random gets a fresh seed); a first visit with WebGPU imports
  // it here and snapshots (without WebGPU numpy may be loaded first: no snapshot)
  const tPreload = performance.now();
  if (snapshot.restored()) pyodide.runPython("import sys\nif 'random' in sys.modules: sys.modules['random'].seed()");
  else if (snapshot.making() && info.gpu.ok) timings.snapshot_ms = await snapshot.make(pyodide, info.build.version);
  else if (snapshot.making()) snapshot.skip(pyodide);
  timings.import_ms = performance.now() - tPreload - (timings.snapshot_ms || 0);
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
  const tImport = performance.now();  // imported already when a snapshot was made or restored
  await pyodide.runPythonAsync("import gpuml_web");
  timings.import_ms += performance.now() - tImport;
  app = pyodide.pyimport("gpuml_web");
  // shaders for the canvases come from the installed wheel
  const shaders = {};
  for (const name of ["web_image", "web_points", "web_lines"]) {
    shaders[name] = pyodide.FS.readFile(`${site}/gpuml/shaders/render/${name}.wgsl`, { encoding: "utf8" });
  }
  return { info, shaders };
}
const booting = boot(OPTS);
booting.catch(() => {});
later.catch(() => {});  // both reported by init, which awaits them

async function init(msg) {
  const { canvases } = msg;
  const opts = OPTS;
  connected = true;
  for (const [m, transfer] of outbox.splice(0)) self.postMessage(m, transfer);
  const { info, shaders } = await booting;
  const [{ Renderer }, { Renderer2D }] = await later;
  const tDevice = performance.now();
  post({ type: "status", text: "creating the WebGPU device…" });
  const setupFn = app.setup;
  let setup;
  if (backend === "browser") {
    // the renderer needs the device gpuml creates: set it up lazily through a proxy object
    // ?warm=before / ?warm=0: the pad on WebGPU from the start (warmed before Ready / not at all); ?warm=cpu: CPU
    // first even on a real GPU; default: CPU first on a software adapter only
    const pad = { before: "gpu", 0: "gpu", cpu: "cpu" }[opts.warm];
    setup = JSON.parse(await setupFn.callPromising(null, JSON.stringify(pad ? { pad } : {})));
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
  timings.device_ms = performance.now() - tDevice;
  // default model: JSON + raw float32
  const modelName = info.build.model;
  const [meta, blob] = await Promise.all([
    fetch(`./model/${modelName}.json`).then((r) => r.text()),
    fetchBytes(`./model/${modelName}.bin`),
  ]);
  const loaded = await py("load_model", "default", meta, blob);
  timings.model_ms = loaded.ms;
  // "Ready" means the first prediction runs at once. On a software adapter (SwiftShader: ~24 pipeline compiles of
  // ~0.5 s) the pad starts on gpuml's python backend (warmed here) and its WebGPU kernels compile after Ready in
  // the background (warmPad); on a real GPU they are compiled here. ?warm=0: no warm-up at all.
  // The warm-up draws the pad's canvases too (the renderer's image pipeline); on the CPU it costs ~0.1-0.2 s and
  // imports what the first prediction and its explanation need (their first call was ~10x slower).
  const padCPU = !!(setup && setup.pad_cpu_first);
  if (opts.warm === "0") await py("pad_clear");
  else timings.warm_ms = (await py("warm_up")).ms;
  await renderer?.settled();
  const tti = performance.now() - t0;
  tReady = performance.now();
  snapshot.store();  // the first visit's Pyodide snapshot (snapshot.js), now that the page is ready
  post({
    type: "ready", ok: true, backend, setup, timings, tti_worker_ms: tti, build: info.build,
    worker_origin: performance.timeOrigin + t0,
    model: JSON.parse(meta).trained, gpu: info.gpu, snapshot: snapshot.status(), pad_device: padCPU ? "python" : backend,
  });
  if (padCPU && opts.warm !== "0") warmPad().catch((e) => reportError(`warming the pad's WebGPU kernels: ${e.message || e}`));
}

// The pad's WebGPU warm-up after Ready: one short Python step at a time in the background lane (the pad's own
// calls and other demos' go first); each step ends at a kernel not compiled yet, whose pipeline Dawn compiles
// asynchronously while this waits outside the Python queue. The last step switches the pad to WebGPU.
async function warmPad() {
  const t = performance.now();
  const compiling = [];
  const hold = (p) => { compiling.push(p); };
  let steps = 0, kernels = 0;
  for (;;) {
    const r = await py("pad_warm_step", hold);
    steps += 1;
    if (r.done) break;
    kernels += compiling.length;
    await Promise.allSettled(compiling.splice(0));
  }
  timings.pad_warm_ms = performance.now() - t;
  post({ type: "progress", name: "pad_device", data: { device: backend, warm_ms: timings.pad_warm_ms, steps, kernels } });
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
const handlers = later.then(([, , ...demos]) => Object.assign({}, ...demos.map((m) => m.handlers(env))));
handlers.catch(() => {});  // reported by init

async function call(fn, args) {
  if (fn === "worker_calls") return { ready: tReady, calls, presented: renderer?.presented || [] };  // benchmark
  if (fn === "pad_pen") {  // the pen went down / up on the pad: a scheduling hint, no Python
    penDown = args[0] ? performance.now() : null;
    padLast = performance.now();
    pump();
    return null;
  }
  const h = (await handlers)[fn];
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
