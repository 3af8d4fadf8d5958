// Live-training demo, worker side: the MNIST subsets (fetched when the first run is set up) and the step loop,
// which ends by itself when the run's epochs are done.
export function handlers({ py, post, getData }) {
  const loop = { running: false };
  let data = null;

  async function run() {
    while (loop.running) {
      const out = await py("train_steps", 1);
      post({ type: "progress", name: "train", data: out });
      if (out.done) break;
      await new Promise((r) => setTimeout(r, 0)); // let messages (pause, pad strokes) in between steps
    }
    loop.running = false;
    post({ type: "progress", name: "train-state", data: { running: false } });
  }

  return {
    async train_setup([settings]) {
      loop.running = false;
      data = data || await Promise.all(["mnist_train_images.u8", "mnist_train_labels.u8",
        "mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      return py("train_setup", ...data, JSON.stringify(settings || {}), 0);
    },
    train_check([settings]) {
      return py("train_check", JSON.stringify(settings || {}));
    },
    train_start() {
      if (!loop.running) { loop.running = true; run(); }
      return { running: true };
    },
    // Trainer.fit to its end on the first n images (tests: the page's Trainer against native runs)
    async trainer_fit([options]) {
      const n = (options && options.n) || 192;
      const [images, labels] = await Promise.all(["mnist_train_images.u8", "mnist_train_labels.u8"].map(getData));
      return py("trainer_fit", images.subarray(0, n * 784), labels.subarray(0, n), JSON.stringify(options || {}));
    },
    train_pause() {
      loop.running = false;
      return { running: false };
    },
  };
}
