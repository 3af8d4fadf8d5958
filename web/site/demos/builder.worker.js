// Architecture builder, worker side: the MNIST subsets (fetched on the first Train) and the training run, in
// slices of a few steps with a progress message after each; the last slice also measures the test accuracy.
export function handlers({ py, post, getData }) {
  const run = { stop: false };
  return {
    async builder_train([stack, steps, slice]) {
      const [xi, yi, xt, yt] = await Promise.all(["mnist_train_images.u8", "mnist_train_labels.u8",
        "mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      const setup = await py("builder_setup", xi, yi, xt, yt, JSON.stringify(stack));
      post({ type: "progress", name: "builder", data: { setup, steps } });
      run.stop = false;
      let out = null;
      for (let done = 0; done < steps && !run.stop;) {
        const n = Math.min(slice || 5, steps - done);
        done += n;
        out = await py("builder_steps", n, done >= steps || run.stop);
        post({ type: "progress", name: "builder", data: { ...out, steps } });
        await new Promise((r) => setTimeout(r, 0)); // other demos' calls in between slices
      }
      if (out && out.test_acc === null) out = await py("builder_steps", 0, true);
      return { setup, ...out, steps };
    },
    builder_stop() { run.stop = true; return { stopped: true }; },
  };
}
