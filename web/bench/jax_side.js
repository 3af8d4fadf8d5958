// The jax-js side of `gpuml bench web` (@jax-js/jax from web/node_modules, pinned in web/package.json; loaded by
// this benchmark page only, never by the gpuml site). Timed as the other sides: the first call alone (tracing,
// jit compile, pipeline creation), then warm-up runs excluded, then `repeat` runs of wall clock = work + device
// sync (Array.blockUntilReady(): submit what is pending, then a 0-byte read that waits for the queue).
// Layouts are gpuml's (NCHW, (OC, C, K, K)); dense weights arrive as (in, out). Every function below follows
// jax-js's ownership rule: an Array passed in is consumed, `.ref` keeps one.
const base = new URL("../node_modules/@jax-js/jax/dist/index.js", import.meta.url).href;
let jax = null;

const fetchArray = async (url, Type = Float32Array) => {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`fetching ${url}: HTTP ${resp.status}`);
  return new Type(await resp.arrayBuffer());
};
const post = async (url, typed) => {
  const resp = await fetch(url, { method: "POST", body: typed });
  if (!resp.ok) throw new Error(`posting ${url}: HTTP ${resp.status}`);
};

// `fn()` returns one Array; first call, warm-up, timed runs; the result of the first call is returned undisposed.
async function timeIt(fn, { warmup, repeat }) {
  let t0 = performance.now();
  const first = fn();
  await first.blockUntilReady();
  const firstMs = performance.now() - t0;
  for (let i = 0; i < warmup; i++) {
    const out = fn();
    await out.blockUntilReady();
    out.dispose();
  }
  const walls = [];
  for (let i = 0; i < repeat; i++) {
    t0 = performance.now();
    const out = fn();
    await out.blockUntilReady();
    walls.push(performance.now() - t0);
    out.dispose();
  }
  return { first, timing: { first_ms: firstMs, walls_ms: walls } };
}

// LeNet-5 (ReLU, 2x2 max pooling) on NCHW input; `p` holds the layers' weights (consumed).
function lenet(p, x) {
  const { numpy: np, lax, nn } = jax;
  const n = x.shape[0];
  const pool = (h) => {
    const [b, c, hh, ww] = h.shape;
    return h.reshape([b, c, hh / 2, 2, ww / 2, 2]).max([3, 5]);
  };
  let h = lax.conv(x, p.c1w, [1, 1], [[2, 2], [2, 2]]).add(p.c1b.reshape([1, -1, 1, 1]));
  h = pool(nn.relu(h));
  h = lax.conv(h, p.c2w, [1, 1], "VALID").add(p.c2b.reshape([1, -1, 1, 1]));
  h = pool(nn.relu(h)).reshape([n, 400]);
  h = nn.relu(np.matmul(h, p.f1w).add(p.f1b));
  h = nn.relu(np.matmul(h, p.f2w).add(p.f2b));
  return np.matmul(h, p.f3w).add(p.f3b);
}

// LeNet-5 + Adam for `spec` (gpuml's initial weights, the host's batches): run(i) starts step i and returns its
// loss (an Array); dispose() frees the state.
async function trainer(spec) {
  const { numpy: np, nn } = jax;
  const B = spec.batch;
  const images = await fetchArray(spec.images_url);
  const labels = await fetchArray(spec.labels_url, Int32Array);
  const onehot = new Float32Array(labels.length * 10);
  labels.forEach((y, i) => { onehot[i * 10 + y] = 1; });
  let p = params(await fetchArray(spec.weights_url), spec.weight_shapes);
  let m = jax.tree.map((t) => np.zerosLike(t), jax.tree.ref(p));
  let v = jax.tree.map((t) => np.zerosLike(t), jax.tree.ref(p));
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const lossFn = (pp, x, y) => nn.logSoftmax(lenet(pp, x), -1).mul(y).sum().mul(-1 / B);
  const step = jax.jit((pp, mm, vv, x, y, stepSize, sqrtBc2) => {
    const [loss, g] = jax.valueAndGrad(lossFn)(jax.tree.ref(pp), x, y);
    const m2 = jax.tree.map((mi, gi) => mi.mul(b1).add(gi.mul(1 - b1)), mm, jax.tree.ref(g));
    const v2 = jax.tree.map((vi, gi) => vi.mul(b2).add(gi.ref.mul(gi).mul(1 - b2)), vv, g);
    const p2 = jax.tree.map(
      (pi, mi, vi) => pi.sub(mi.mul(stepSize.ref).div(np.sqrt(vi).div(sqrtBc2.ref).add(eps))),
      pp, jax.tree.ref(m2), jax.tree.ref(v2));
    stepSize.dispose();
    sqrtBc2.dispose();
    return [loss, p2, m2, v2];
  });
  let t = 0;
  const run = (i) => {
    const k = i % spec.n_batches;
    t += 1;
    const x = np.array(images.subarray(k * B * 784, (k + 1) * B * 784)).reshape([B, 1, 28, 28]);
    const y = np.array(onehot.subarray(k * B * 10, (k + 1) * B * 10)).reshape([B, 10]);
    const stepSize = np.array([spec.lr / (1 - b1 ** t)]).reshape([]);
    const sqrtBc2 = np.array([Math.sqrt(1 - b2 ** t)]).reshape([]);
    let loss;
    [loss, p, m, v] = step(p, m, v, x, y, stepSize, sqrtBc2);
    return loss;
  };
  return { run, dispose: () => { jax.tree.dispose([p, m, v]); step.dispose(); } };
}

const NAMES = ["c1w", "c1b", "c2w", "c2b", "f1w", "f1b", "f2w", "f2b", "f3w", "f3b"];

function params(flat, shapes) {
  const p = {};
  let offset = 0;
  shapes.forEach((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    p[NAMES[i]] = jax.numpy.array(flat.slice(offset, offset + size)).reshape(shape);
    offset += size;
  });
  return p;
}

window.jaxbench = {
  // Starts the jax-js backends asked for ("webgpu", "wasm"); returns those that started. Each case runs on the
  // device its spec names (spec.device).
  async init(wants = ["webgpu", "wasm"]) {
    jax = await import(base);
    const devices = await jax.init(...wants);
    const features = devices.includes("webgpu") ? [...jax.getWebGPUDevice().features].sort() : [];
    const pkg = await (await fetch(new URL("../package.json", base))).json();
    return { version: pkg.version, devices, features };
  },

  async matmul(spec) {
    jax.defaultDevice(spec.device);
    const np = jax.numpy;
    const a = np.array(await fetchArray(spec.a_url)).reshape([spec.m, spec.k]);
    const b = np.array(await fetchArray(spec.b_url)).reshape([spec.k, spec.n]);
    const mm = jax.jit((x, y) => np.matmul(x, y));
    const { first, timing } = await timeIt(() => mm(a.ref, b.ref), spec);
    await post(spec.result_url, await first.data());
    a.dispose();
    b.dispose();
    mm.dispose();
    return timing;
  },

  // y = conv2d(x, w) + b, NCHW, zero padding `pad`, stride 1, jitted (the bias add fuses).
  async conv(spec) {
    jax.defaultDevice(spec.device);
    const { numpy: np, lax } = jax;
    const x = np.array(await fetchArray(spec.x_url)).reshape([spec.n, spec.c, spec.h, spec.w]);
    const w = np.array(await fetchArray(spec.w_url)).reshape([spec.oc, spec.c, spec.k, spec.k]);
    const b = np.array(await fetchArray(spec.b_url)).reshape([1, spec.oc, 1, 1]);
    const pad = [[spec.pad, spec.pad], [spec.pad, spec.pad]];
    const f = jax.jit((xx, ww, bb) => lax.conv(xx, ww, [1, 1], pad).add(bb));
    const { first, timing } = await timeIt(() => f(x.ref, w.ref, b.ref), spec);
    await post(spec.result_url, await first.data());
    for (const t of [x, w, b]) t.dispose();
    f.dispose();
    return timing;
  },

  // Inference as a user runs it: host images in, jitted forward, logits back on the host (every run).
  async infer(spec) {
    jax.defaultDevice(spec.device);
    const np = jax.numpy;
    const B = spec.batch;
    const images = await fetchArray(spec.images_url);
    const p = params(await fetchArray(spec.weights_url), spec.weight_shapes);
    const fwd = jax.jit(lenet);
    const run = () => fwd(jax.tree.ref(p), np.array(images).reshape([B, 1, 28, 28]));
    // Wall time of a prediction ends with the logits on the host (as gpuml's and ORT's sides).
    let t0 = performance.now();
    const first = run();
    const logits = await first.data();
    const firstMs = performance.now() - t0;
    await post(spec.result_url, logits);
    for (let i = 0; i < spec.warmup; i++) await run().data();
    const walls = [];
    for (let i = 0; i < spec.repeat; i++) {
      t0 = performance.now();
      await run().data();
      walls.push(performance.now() - t0);
    }
    jax.tree.dispose(p);
    fwd.dispose();
    return { first_ms: firstMs, walls_ms: walls };
  },

  // One LeNet-5 step, jitted whole: forward, mean softmax cross-entropy, valueAndGrad, Adam (PyTorch's form,
  // as gpuml's: p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)); the loss read back (4 bytes).
  async train(spec) {
    jax.defaultDevice(spec.device);
    const { run, dispose } = await trainer(spec);
    const losses = [];
    let t0 = performance.now();
    let firstMs = null;
    for (let i = 0; i < spec.check_steps; i++) {
      const loss = run(i);
      losses.push((await loss.data())[0]);
      if (firstMs === null) firstMs = performance.now() - t0;
    }
    let i = spec.check_steps;
    for (let w = 0; w < spec.warmup; w++) await run(i++).data();
    const walls = [];
    for (let r = 0; r < spec.repeat; r++) {
      t0 = performance.now();
      await run(i++).data();
      walls.push(performance.now() - t0);
    }
    dispose();
    return { first_ms: firstMs, walls_ms: walls, losses };
  },

  // The alternating A/B with gpuml (peers.alternate_train): abTrainStep() runs one step, returns [ms, loss].
  async abTrainSetup(spec) {
    jax.defaultDevice(spec.device);
    const t = await trainer(spec);
    window.jaxbench.ab = { ...t, i: 0 };
    return "ok";
  },
  async abTrainStep() {
    const ab = window.jaxbench.ab;
    const t0 = performance.now();
    const loss = (await ab.run(ab.i++).data())[0];
    return [performance.now() - t0, loss];
  },
};
