// Digit-pad demo, worker side: real test digits for the unsure rule's calibration and the prediction benchmark.

// test digits used to calibrate the "unsure" evidence floor, per backend (the pure-Python backend is slow)
const CALIBRATION = { browser: 512, cpu: 256, python: 64 };

export function handlers({ py, getData, backend }) {
  async function prepare(model) {
    const xi = await getData("mnist_test_images.u8");
    const n = Math.min(CALIBRATION[backend()] || 64, Math.floor(xi.length / 784));
    return py("pad_prepare", model, xi.subarray(0, n * 784));
  }
  return {
    async mnist_test_pixels([n = 10]) {
      // test digits (uint8) as flat float lists
      const [xi, yi] = await Promise.all(["mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      const px = [];
      for (let i = 0; i < n; i++) px.push(Array.from(xi.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
      return { pixels: px, labels: Array.from(yi.subarray(0, n)) };
    },
    async pad_prepare([model = "default"]) {
      return prepare(model);
    },
    // every prediction first makes sure its model is prepared (calibrated, filters drawn): cheap once done
    async pad_predict(args) {
      const model = await prepare(args[0] || "default");
      const out = await py("pad_predict", ...args);
      return Object.assign(out, { model });
    },
  };
}
