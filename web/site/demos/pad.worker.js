// Digit-pad demo, worker side: real test digits for the unsure rule's calibration and the prediction benchmark.

// Test digits that calibrate the "unsure" evidence floor, per backend (the pure-Python backend is slow), classified
// one at a time: the same kernels (and tuned variants) as the user's predictions, so calibrating warms them too
// (batches of 64-256 compile and tune other shape classes: 30-150 s on SwiftShader on a loaded VM, vs ~1 s).
const CALIBRATION = { browser: 128, cpu: 64, python: 32 };

export function handlers({ py, getData, backend, renderer }) {
  // a canvas's last frame on screen (render.js "copy" presentation: the pending copy chain; else drawn already)
  const shown = (name) => renderer()?.canvases?.[name]?.pending;
  async function prepare(model) {
    const xi = await getData("mnist_test_images.u8");
    const n = Math.min(CALIBRATION[backend()] || 64, Math.floor(xi.length / 784));
    return py("pad_prepare", model, xi.subarray(0, n * 784), 1);
  }
  return {
    async mnist_test_pixels([n = 10]) {
      // test digits (uint8) as flat float lists
      const [xi, yi] = await Promise.all(["mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      const px = [];
      for (let i = 0; i < n; i++) px.push(Array.from(xi.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
      return { pixels: px, labels: Array.from(yi.subarray(0, n)) };
    },
    async pad_prepare(args) {
      return args.length > 1 ? py("pad_prepare", ...args) : prepare(args[0] || "default");
    },
    // every prediction first makes sure its model is prepared (calibrated, filters drawn): cheap once done
    // occlusion's batch on WebGPU, compiled and tuned in the background (pad_warm_occlusion_step): started by
    // pad.js once the pad runs on WebGPU; background lane ("pad_warm"), compiles awaited outside the Python queue
    async pad_warm_occlusion() {
      const t = performance.now(), compiling = [];
      let steps = 0;
      for (;;) {
        const r = await py("pad_warm_occlusion_step", (p) => { compiling.push(p); });
        steps += 1;
        if (r.done) break;
        await Promise.allSettled(compiling.splice(0));
      }
      return { ms: performance.now() - t, steps };
    },
    async pad_predict(args) {
      const model = await prepare(args[0] || "default");
      const out = await py("pad_predict", ...args);
      await shown("acts");  // the maps of this result are on screen when the page shows its verdict
      return Object.assign(out, { model });
    },
  };
}
