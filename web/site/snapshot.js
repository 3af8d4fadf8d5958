// Pyodide memory snapshots for the page's worker: a repeat visit restores Python's memory as it was once gpuml and
// gpuml_web were imported, instead of booting CPython and importing them again (the bulk of the time to Ready on a
// small machine: see benchmarks/RESULTS.md, "Page time to interactive").
//
// The first visit loads Pyodide with `_makeSnapshot` (Pyodide then reaches JS globals through an accessor proxy,
// so that every JS object Python holds can be named by its path), imports gpuml_web before any device exists
// (Python holds no WebGPU object yet) and copies the wasm memory; after Ready the copy goes into the service
// worker's cache for this build (`gpuml-web-<version>`, deleted with it when a new build activates). A snapshot is
// wasm memory only: Pyodide's file system (the stdlib zip, site-packages) is filled again on every visit, and
// Pyodide refuses a snapshot of another Pyodide build (then the page boots as usual and drops it).
//
// ?snapshot=0 turns both off (A/B runs: benchmarks/bench_page_tti.py).

const KEY = "./__pyodide_snapshot__";  // a name in the build's cache, never fetched
// What the snapshot imports: gpuml_web and the modules Ready imported after it on a first visit (measured with
// sys.modules at the snapshot vs at Ready): each is compiled from source on every visit otherwise (the .pyc files
// are in Pyodide's file system, which a snapshot does not hold). Importing them creates no JS object.
const PRELOAD = "import gpuml_web, gpuml.backends.browser, gpuml.backends.python, gpuml.shaders, " +
  "importlib.resources, platform";
const cacheName = (version) => `gpuml-web-${version}`;  // sw.js's cache for this build

// state: "off" | "make" (no snapshot yet: this visit makes one) | "made" (kept until Ready) | "stored" |
// "restored" | "none" (this visit cannot make one) | "failed: why"
let state = "off", pending = null, pendingVersion = null;
export const stored = {};  // bytes and ms of the snapshot this visit stored

export const status = () => state;

/** {response} of a stored snapshot of this build, else {} with state "make" (or "off"). */
export async function find(opts, buildInfo) {
  if (opts.snapshot === "0" || opts.gpu === "off" || !self.caches) return {};
  try {
    const [hit, bi] = await Promise.all([caches.match(KEY), buildInfo]);
    if (hit && hit.headers.get("x-gpuml-build") === bi.version) {
      state = "restored";
      return { response: hit, bytes: Number(hit.headers.get("x-gpuml-bytes")) };
    }
  } catch (e) {
    state = `failed: reading the snapshot: ${e.message || e}`;
    return {};
  }
  state = "make";
  return {};
}

export const making = () => state === "make";

/** The first visit: import gpuml_web and what Ready imports (PRELOAD), copy Python's memory (stored by store()
 * after Ready); returns the copy's ms. Then Python's JS objects are swapped for the real ones (see unproxy). */
export async function make(pyodide, version) {
  await pyodide.runPythonAsync(PRELOAD);
  const t = performance.now();
  try {
    pending = pyodide.makeMemorySnapshot();
    pendingVersion = version;
    state = "made";
  } catch (e) {
    state = `failed: ${e.message || e}`;
  }
  unproxy(pyodide);
  return performance.now() - t;
}

/** A first visit that makes no snapshot after all (no WebGPU: numpy may be loaded before gpuml_web). */
export function skip(pyodide) {
  state = "none";
  unproxy(pyodide);
}

// With `_makeSnapshot` Pyodide hands Python its JS globals wrapped in a Proxy that records each object's path (so
// that the snapshot can name them). Reading a WebIDL attribute through it fails ("Illegal invocation": the getter
// gets the Proxy as `this`; e.g. navigator.gpu), so once the snapshot is taken every JS object Python holds is
// swapped for the real one found at its path, as a restore from the snapshot does, and the session goes on as if
// it had never been wrapped.
function unproxy(pyodide) {
  const API = pyodide._api, Module = pyodide._module;
  const wrapped = API.config.jsglobals;
  const conf = API.serializeHiwireState(() => null);
  const n = API.getExpectedKeys().length;
  API.config.jsglobals = globalThis;
  for (let i = 0; i < n; i++) if (Module.__hiwire_get(i) === wrapped) Module.__hiwire_set(i, globalThis);
  conf.hiwireKeys.forEach((k, i) => {
    if (k && k.path) Module.__hiwire_set(n + i, k.path.reduce((o, p) => (o == null ? o : o[p]), globalThis) ?? null);
  });
}

// Pyodide 314 sizes the wasm memory of a restore by its own default (INITIAL_MEMORY is not read: pyodide#6254),
// and a snapshot larger than that fails to restore; the memory is grown to the snapshot's size as soon as the wasm
// instance exists, before Pyodide copies the snapshot in. Returns the function that undoes the hook.
export function growMemoryFor(bytes) {
  const { instantiate, instantiateStreaming } = WebAssembly;
  const grow = (res) => {
    const memory = (res.instance || res).exports.memory;  // Pyodide's (other modules have none)
    if (!(memory instanceof WebAssembly.Memory)) return res;
    const pages = Math.ceil((bytes - memory.buffer.byteLength) / 65536);
    if (pages > 0) memory.grow(pages);
    return res;
  };
  WebAssembly.instantiate = (...a) => instantiate.apply(WebAssembly, a).then(grow);
  WebAssembly.instantiateStreaming = (...a) => instantiateStreaming.apply(WebAssembly, a).then(grow);
  return () => Object.assign(WebAssembly, { instantiate, instantiateStreaming });
}

/** After Ready: the snapshot made by this visit goes into the build's cache. */
export async function store() {
  if (!pending) return;
  const bytes = pending;
  pending = null;
  const t = performance.now();
  try {
    const cache = await caches.open(cacheName(pendingVersion));
    // a Blob body: its bytes reach the cache from the blob system, not streamed by this (busy) worker thread
    await cache.put(KEY, new Response(new Blob([bytes]), {
      headers: { "content-type": "application/octet-stream", "x-gpuml-build": pendingVersion,
        "x-gpuml-bytes": String(bytes.length) },
    }));
    state = "stored";
    stored.bytes = bytes.length;
  } catch (e) {
    state = `failed: storing it: ${e.message || e}`;
  }
  stored.ms = performance.now() - t;
}

/** A snapshot that did not restore: removed, so that the next visit makes a new one. */
export async function drop(why) {
  state = `failed: ${why}`;
  try {
    for (const name of await caches.keys()) await (await caches.open(name)).delete(KEY);
  } catch (e) {
    // nothing stored to remove
  }
}

export const restored = () => state === "restored";
