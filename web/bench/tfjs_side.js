// The TensorFlow.js (WebGPU backend) side of `gpuml bench web` (driven by gpuml/bench_web.py; gpuml's side is
// gpuml_side.py). Every case is timed as gpuml's: warm-up runs excluded, then `repeat` runs of
// wall clock = work + device sync (flush tf.js's command encoder, await queue.onSubmittedWorkDone(); no readback),
// then `profile` runs under tf.time() (per-kernel GPU time from timestamp queries, each kernel in its own pass).
// Inputs come from the host as raw little-endian files (/data/...), outputs go back by POST (/result/...).
"use strict";

window.tfbench = (() => {
  const fetchArray = async (url, Type = Float32Array) => {
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`fetching ${url}: HTTP ${resp.status}`);
    return new Type(await resp.arrayBuffer());
  };
  const post = async (url, typed) => {
    const resp = await fetch(url, { method: "POST", body: typed });
    if (!resp.ok) throw new Error(`posting ${url}: HTTP ${resp.status}`);
  };

  // Finish everything tf.js has recorded: end the open pass, submit, wait (what tensor.data() does, minus the copy).
  async function sync() {
    const be = tf.backend();
    be.ensureCommandEncoderReady();
    be.endComputePassEncoder();
    be.submitQueue();
    await be.device.queue.onSubmittedWorkDone();
  }

  // tf.time()'s per-kernel list ("Name: ms, Name: ms") folded into [[name, count, total ms], ...].
  function foldKernels(info, into) {
    const text = info.getExtraProfileInfo ? info.getExtraProfileInfo() : "";
    for (const part of text.split(", ")) {
      const at = part.lastIndexOf(": ");
      if (at < 0) continue;
      const name = part.slice(0, at);
      const ms = Number(part.slice(at + 2));
      const entry = into.get(name) || [0, 0];
      entry[0] += 1;
      entry[1] += ms;
      into.set(name, entry);
    }
  }

  // ms of the first call + sync (shader compiles on first use are in it).
  async function firstCall(fn) {
    const t0 = performance.now();
    const out = fn();
    await sync();
    const ms = performance.now() - t0;
    tf.dispose(out);
    return ms;
  }

  // LeNet-5 (ReLU, max pooling) as a tf.sequential model with gpuml's weights (converted by the host).
  function lenet(spec, flat) {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "relu" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 5, padding: "valid", activation: "relu" }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 120, activation: "relu" }),
        tf.layers.dense({ units: 84, activation: "relu" }),
        tf.layers.dense({ units: 10 }),
      ],
    });
    let offset = 0;
    const weights = spec.weight_shapes.map((shape) => {
      const size = shape.reduce((p, s) => p * s, 1);
      const t = tf.tensor(flat.subarray(offset, offset + size), shape);
      offset += size;
      return t;
    });
    model.setWeights(weights);
    tf.dispose(weights);
    return model;
  }

  // Time `fn` (returns a tensor or an array of tensors, which are disposed after each run).
  async function timeIt(fn, { warmup, repeat, profile }) {
    for (let i = 0; i < warmup; i++) {
      const out = fn();
      await sync();
      tf.dispose(out);
    }
    const walls = [];
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const out = fn();
      await sync();
      walls.push(performance.now() - t0);
      tf.dispose(out);
    }
    const kernelMs = [];
    const kernels = new Map();
    for (let i = 0; i < profile; i++) {
      let out = null;
      const info = await tf.time(() => { out = fn(); });
      await sync();
      tf.dispose(out);
      kernelMs.push(info.kernelMs);
      foldKernels(info, kernels);
    }
    const perRun = [...kernels].map(([name, [n, ms]]) => [name, n / Math.max(profile, 1), ms / Math.max(profile, 1)]);
    perRun.sort((a, b) => b[2] - a[2]);
    return { walls_ms: walls, kernel_ms: kernelMs, kernels: perRun };
  }

  return {
    // `flags`: tf.env() flags to set before the backend starts (tuning experiments; none by default).
    async init(flags = {}) {
      for (const [name, value] of Object.entries(flags)) tf.env().set(name, value);
      await tf.setBackend("webgpu");
      await tf.ready();
      const be = tf.backend();
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
      const info = adapter ? adapter.info : {};
      return {
        tfjs: tf.version.tfjs,
        backend: tf.getBackend(),
        timestamp_query: !!be.supportTimestampQuery,
        features: [...be.device.features].sort(),
        adapter: {
          vendor: info.vendor || "", architecture: info.architecture || "",
          device: info.device || "", description: info.description || "",
        },
        user_agent: navigator.userAgent,
        flags: Object.fromEntries(
          ["WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", "WEBGPU_CPU_FORWARD", "WEBGPU_MATMUL_PROGRAM_TYPE",
            "WEBGPU_CONV_SEPARATE_IM2COL_SHADER", "WEBGPU_USE_NAIVE_CONV2D_DEBUG", ...Object.keys(flags)]
            .map((name) => [name, tf.env().get(name)])),
      };
    },

    // C = A @ B, A (m, k), B (k, n), float32.
    async matmul(spec) {
      const a = tf.tensor2d(await fetchArray(spec.a_url), [spec.m, spec.k]);
      const b = tf.tensor2d(await fetchArray(spec.b_url), [spec.k, spec.n]);
      const fn = () => tf.matMul(a, b);
      const firstMs = await firstCall(fn);
      const out = fn();
      await post(spec.result_url, await out.data());
      tf.dispose(out);
      const timing = await timeIt(fn, spec);
      tf.dispose([a, b]);
      return { ...timing, first_ms: firstMs };
    },

    // `ops` dependent adds of two n-float tensors (y = y + x), then one sync: the cost of issuing an op.
    async chain(spec) {
      const x = tf.tensor1d(await fetchArray(spec.x_url));
      const fn = () => tf.tidy(() => {
        let y = x;
        for (let i = 0; i < spec.ops; i++) y = tf.add(y, x);
        return y;
      });
      const firstMs = await firstCall(fn);
      const out = fn();
      await post(spec.result_url, await out.data());
      tf.dispose(out);
      const timing = await timeIt(fn, spec);
      tf.dispose(x);
      return { ...timing, first_ms: firstMs };
    },

    // y = conv2d(x, w) + b in tf.js's own layout: x NHWC, w (KH, KW, C, OC), explicit zero padding, stride 1;
    // tf.fused.conv2d adds the bias in the same kernel (as gpuml's conv2d does).
    async conv(spec) {
      const x = tf.tensor4d(await fetchArray(spec.x_url), [spec.n, spec.h, spec.w, spec.c]);
      const w = tf.tensor4d(await fetchArray(spec.w_url), [spec.k, spec.k, spec.c, spec.oc]);
      const b = tf.tensor1d(await fetchArray(spec.b_url));
      const pad = [[0, 0], [spec.pad, spec.pad], [spec.pad, spec.pad], [0, 0]];
      const fn = () => tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad, dataFormat: "NHWC" });
      const firstMs = await firstCall(fn);
      const out = fn();
      await post(spec.result_url, await out.data());
      tf.dispose(out);
      const timing = await timeIt(fn, spec);
      tf.dispose([x, w, b]);
      return { ...timing, first_ms: firstMs };
    },

    // LeNet-5 as a user predicts with it: host images in (NCHW == NHWC with one channel), model.predict, the
    // logits back on the host, every run.
    async infer(spec) {
      const B = spec.batch;
      const images = await fetchArray(spec.images_url);
      const model = lenet(spec, await fetchArray(spec.weights_url));
      const predict = async () => {
        const x = tf.tensor4d(images, [B, 28, 28, 1]);
        const y = model.predict(x);
        const data = await y.data();
        tf.dispose([x, y]);
        return data;
      };
      let t0 = performance.now();
      const logits = await predict();
      const firstMs = performance.now() - t0;
      await post(spec.result_url, logits);
      for (let i = 0; i < spec.warmup; i++) await predict();
      const walls = [];
      for (let i = 0; i < spec.repeat; i++) {
        t0 = performance.now();
        await predict();
        walls.push(performance.now() - t0);
      }
      model.dispose();
      return { first_ms: firstMs, walls_ms: walls };
    },

    // LeNet-5 with gpuml's initial weights, Adam via optimizer.minimize; one step = upload the batch, forward, softmax cross-entropy (mean), backward,
    // Adam update, read the loss (4 bytes).
    async train(spec) {
      const B = spec.batch;
      const images = await fetchArray(spec.images_url);
      const labels = await fetchArray(spec.labels_url, Int32Array);
      const flat = await fetchArray(spec.weights_url);
      const model = lenet(spec, flat);
      const optimizer = tf.train.adam(spec.lr, 0.9, 0.999, 1e-8);
      const step = (i) => {
        const k = i % spec.n_batches;
        const x = tf.tensor4d(images.subarray(k * B * 784, (k + 1) * B * 784), [B, 28, 28, 1]);
        const y = tf.tensor1d(labels.subarray(k * B, (k + 1) * B), "int32");
        const loss = optimizer.minimize(() => {
          const logits = model.apply(x, { training: true });
          return tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), logits);
        }, true);
        tf.dispose([x, y]);
        return loss;
      };
      const losses = [];
      let firstMs = null;
      const tFirst = performance.now();
      for (let i = 0; i < spec.check_steps; i++) {
        const loss = step(i);
        losses.push((await loss.data())[0]);
        loss.dispose();
        if (firstMs === null) firstMs = performance.now() - tFirst;
      }
      // Wall time of a step ends with reading the loss, as gpuml's side does (loss.item()).
      let i = spec.check_steps;
      for (let w = 0; w < spec.warmup; w++) {
        const loss = step(i++);
        await loss.data();
        loss.dispose();
      }
      const walls = [];
      for (let r = 0; r < spec.repeat; r++) {
        const t0 = performance.now();
        const loss = step(i++);
        await loss.data();
        walls.push(performance.now() - t0);
        loss.dispose();
      }
      const timing = await timeIt(() => step(i++), { warmup: 0, repeat: 0, profile: spec.profile });
      timing.walls_ms = walls;
      timing.first_ms = firstMs;
      timing.losses = losses;
      timing.tensors_alive = tf.memory().numTensors;
      model.dispose();
      optimizer.dispose();
      return timing;
    },
  };
})();
