// Live training, main thread: Start/Pause/Reset and the step read-out (the curves are drawn in the worker).
export const canvases = { curves: "curves-canvas" };

let ctx = null;

export const progress = {
  train(d) {
    const { $, state } = ctx;
    state.train.steps.push(d);
    const last = state.train.steps.slice(-10);
    const ms = last.reduce((a, s) => a + s.ms_per_step, 0) / last.length;
    const tests = state.train.steps.filter((s) => s.test_acc !== null);
    const acc = tests.length ? `, test accuracy ${(100 * tests[tests.length - 1].test_acc).toFixed(1)}%` : "";
    $("train-info").textContent = `step ${d.step} (epoch ${d.epoch.toFixed(2)}): loss ${d.loss.toFixed(3)}${acc} — ${ms.toFixed(1)} ms/step`;
    const lt = state.trainLongTasks;
    $("longtask-info").textContent = `main-thread long tasks (> 50 ms) while training: ${lt.length}` +
      (lt.length ? `, longest ${Math.max(...lt.map((t) => t.ms)).toFixed(0)} ms` : "");
  },
  "train-state"() {
    ctx.state.training = false;
    ctx.$("train-start").textContent = "Start";
  },
};

export function init(c) {
  ctx = c;
  const { $, state, call, showError } = ctx;
  async function reset() {
    await call("train_pause");
    state.training = false;
    const info = await call("train_setup");
    state.train = { steps: [], setup: info };
    $("train-batch").textContent = info.batch;
    $("train-info").textContent = `${info.n_train} training images, ${info.n_test} test images, ${info.parameters.toLocaleString()} parameters`;
    $("train-start").textContent = "Start";
  }
  $("train-reset").onclick = () => reset().catch(showError);
  $("train-start").onclick = async () => {
    if (!state.train) {
      // the training set is fetched when training first starts, not with the page
      $("train-start").textContent = "Fetching the training set…";
      try {
        await reset();
      } catch (e) {
        ctx.errorAt("train-start", e);
        return;
      }
    }
    state.training = true;
    $("train-start").textContent = "Running…";
    await call("train_start");
  };
  $("train-pause").onclick = async () => {
    await call("train_pause");
  };
  $("train-info").textContent = "Start fetches the training subset (2,048 MNIST images) and trains from scratch.";
}
