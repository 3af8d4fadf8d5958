// Live-training demo, worker side: the MNIST subset (fetched when training is set up) and the step loop.
export function handlers({ py, post, getData, backend }) {
  const loop = { running: false, stepsLeft: 0 };

  async function run() {
    while (loop.running && loop.stepsLeft > 0) {
      const out = await py("train_steps", 1);
      loop.stepsLeft -= 1;
      post({ type: "progress", name: "train", data: out });
      await new Promise((r) => setTimeout(r, 0)); // let messages (pause, pad strokes) in between steps
    }
    loop.running = false;
    post({ type: "progress", name: "train-state", data: { running: false } });
  }

  return {
    async train_setup() {
      const [xi, yi, xt, yt] = await Promise.all(["mnist_train_images.u8", "mnist_train_labels.u8",
        "mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      loop.running = false;
      return py("train_setup", xi, yi, xt, yt, backend() === "python" ? 16 : 64, 2e-3, 0);
    },
    train_start([steps]) {
      loop.stepsLeft = steps || 1e9;
      if (!loop.running) { loop.running = true; run(); }
      return { running: true };
    },
    train_pause() {
      loop.running = false;
      return { running: false };
    },
  };
}
