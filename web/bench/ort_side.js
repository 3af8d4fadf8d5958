// The ONNX Runtime Web side of `gpuml bench web` (onnxruntime-web from web/node_modules, pinned in
// web/package.json; loaded by this benchmark page only, never by the gpuml site). Its Wasm files are served from
// web/node_modules too (env.wasm.wasmPaths): the page fetches nothing from the internet. One thread: the page is
// not cross-origin isolated, so there is no SharedArrayBuffer (the other sides run on one thread as well).
// Timed as the other sides: the first run alone, then warm-up runs excluded, then `repeat` runs of wall clock.
// matmul and conv keep inputs and outputs on the GPU (IO binding: Tensor.fromGpuBuffer, preferredOutputLocation
// "gpu-buffer"; sync = queue.onSubmittedWorkDone()), as gpuml's and tf.js's resident tensors; LeNet-5 inference
// is what a user calls: host images in, logits back on the host, every run.
const dist = new URL("../node_modules/onnxruntime-web/dist/", import.meta.url).href;
let ort = null;
let ep = null;
let optLevel = "all";

const fetchArray = async (url, Type = Float32Array) => {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`fetching ${url}: HTTP ${resp.status}`);
  return new Type(await resp.arrayBuffer());
};
const post = async (url, typed) => {
  const resp = await fetch(url, { method: "POST", body: typed });
  if (!resp.ok) throw new Error(`posting ${url}: HTTP ${resp.status}`);
};

async function session(url, gpuOutputs) {
  const options = { executionProviders: [ep], graphOptimizationLevel: optLevel };
  if (gpuOutputs && ep === "webgpu") options.preferredOutputLocation = "gpu-buffer";
  return ort.InferenceSession.create(url, options);
}

// A float32 input for `sess`: a GPU buffer on ORT's device (WebGPU EP), else a host tensor.
async function input(data, dims) {
  if (ep !== "webgpu") return new ort.Tensor("float32", data, dims);
  const device = await ort.env.webgpu.device;
  const buffer = device.createBuffer({
    size: Math.ceil(data.byteLength / 16) * 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return ort.Tensor.fromGpuBuffer(buffer, { dataType: "float32", dims, dispose: () => buffer.destroy() });
}

async function sync() {
  if (ep === "webgpu") await (await ort.env.webgpu.device).queue.onSubmittedWorkDone();
}

// Runs `sess` on `feeds`: first run, warm-up, timed runs; posts the first run's output to `resultUrl`.
async function timeRuns(sess, feeds, spec, resultUrl) {
  const outName = sess.outputNames[0];
  let t0 = performance.now();
  let out = (await sess.run(feeds))[outName];
  await sync();
  const firstMs = performance.now() - t0;
  await post(resultUrl, await out.getData());
  out.dispose();
  for (let i = 0; i < spec.warmup; i++) {
    out = (await sess.run(feeds))[outName];
    await sync();
    out.dispose();
  }
  const walls = [];
  for (let i = 0; i < spec.repeat; i++) {
    t0 = performance.now();
    out = (await sess.run(feeds))[outName];
    await sync();
    walls.push(performance.now() - t0);
    out.dispose();
  }
  return { first_ms: firstMs, walls_ms: walls };
}

window.ortbench = {
  // The WebGPU build (its Wasm binary carries both the WebGPU and the Wasm EP); `withhold`: adapter features not
  // to enable on ORT's device (it enables every one it knows otherwise); `level`: graphOptimizationLevel.
  async init(withhold = [], level = "all") {
    optLevel = level;
    ort = await import(dist + "ort.webgpu.min.mjs");
    ort.env.wasm.wasmPaths = dist;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    if (withhold.length) {
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
      const limits = {};
      for (const name in adapter.limits) limits[name] = adapter.limits[name];
      ort.env.webgpu.device = await adapter.requestDevice({
        requiredFeatures: [...adapter.features].filter((f) => !withhold.includes(f)),
        requiredLimits: limits,
      });
    }
    return { version: ort.env.versions.web, withheld: withhold, graph_optimization: level };
  },

  // Starts a session of execution provider `want` ("webgpu" or "wasm") on the model at `url` (the WebGPU EP fails
  // here when the adapter lacks what it needs); the cases that follow use that EP.
  async use(want, url) {
    ep = want;
    const sess = await session(url, false);
    await sess.release();
    let features = [];
    if (ep === "webgpu") features = [...(await ort.env.webgpu.device).features].sort();
    return { ok: true, features };
  },

  async matmul(spec) {
    const sess = await session(spec.model_url, true);
    const a = await input(await fetchArray(spec.a_url), [spec.m, spec.k]);
    const b = await input(await fetchArray(spec.b_url), [spec.k, spec.n]);
    const timing = await timeRuns(sess, { a, b }, spec, spec.result_url);
    a.dispose();
    b.dispose();
    await sess.release();
    return timing;
  },

  // Conv with bias (one ONNX Conv node; weights are initializers of the model, as a trained model's are).
  async conv(spec) {
    const sess = await session(spec.model_url, true);
    const x = await input(await fetchArray(spec.x_url), [spec.n, spec.c, spec.h, spec.w]);
    const timing = await timeRuns(sess, { x }, spec, spec.result_url);
    x.dispose();
    await sess.release();
    return timing;
  },

  // LeNet-5 as gpuml.export.onnx wrote it: host images in, logits on the host.
  async infer(spec) {
    const sess = await session(spec.model_url, false);
    const images = await fetchArray(spec.images_url);
    const x = new ort.Tensor("float32", images, [spec.batch, 1, 28, 28]);
    const timing = await timeRuns(sess, { [sess.inputNames[0]]: x }, spec, spec.result_url);
    await sess.release();
    return timing;
  },
};
