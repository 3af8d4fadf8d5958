// Regularization demo, worker side: the MNIST subsets (fetched on the first Start) and the training loop, in
// slices of a few batches with a progress message (the view: curves and histograms) after each.
export function handlers({ py, post, getData }) {
  const loop = { running: false, ready: false };

  async function run() {
    while (loop.running) {
      const out = await py("reg_steps", 2);
      post({ type: "progress", name: "regularization", data: out });
      if (out.done) break;
      await new Promise((r) => setTimeout(r, 0)); // let slider moves and other demos' calls in between slices
    }
    loop.running = false;
    post({ type: "progress", name: "regularization-state", data: { running: false } });
  }

  return {
    async reg_start([values]) {
      if (!loop.ready) {
        const [xi, yi, xt, yt] = await Promise.all(["mnist_train_images.u8", "mnist_train_labels.u8",
          "mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
        const out = await py("reg_setup", xi, yi, xt, yt, JSON.stringify(values || {}));
        loop.ready = true;
        post({ type: "progress", name: "regularization", data: out });
      }
      if (!loop.running) { loop.running = true; run(); }
      return { running: true };
    },
    reg_pause() {
      loop.running = false;
      return { running: false };
    },
    reg_ready() { return { ready: loop.ready }; },
  };
}
