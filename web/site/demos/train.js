// Live training, main thread: the run's settings (validated in Python, errors next to each control),
// Start/Pause/Reset, and the curves drawn here with Canvas 2D (axes, ticks, legend) from the worker's step reports.
export const canvases = {};

let ctx = null;
const SETTINGS = { epochs: "train-epochs", batch: "train-batch-size", lr: "train-lr", optimizer: "train-optimizer" };
const COLOURS = { loss: "#f28e2b", batch: "#9aa0a6", test: "#4e9bd6" };

function settings($) {
  const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  return { epochs: num("train-epochs"), batch: Number($("train-batch-size").value), lr: num("train-lr"),
    optimizer: $("train-optimizer").value };
}

// Loss (left axis, 0..max) and accuracy (right axis, 0..100 %) against epochs, with ticks and a legend.
export function drawCurves(canvas, run) {
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 46, R = 46, T = 28, B = 34;
  const w = W - L - R, h = H - T - B;
  g.clearRect(0, 0, W, H);
  g.font = "11px sans-serif";
  g.lineWidth = 1;
  const epochs = run ? run.setup.epochs : 3;
  const perEpoch = run ? run.setup.per_epoch : 1;
  const steps = run ? run.steps : [];
  const maxLoss = Math.max(2.5, ...steps.map((s) => s.loss));
  const X = (step) => L + (w * step) / (perEpoch * epochs);
  const YL = (v) => T + h * (1 - v / maxLoss), YA = (v) => T + h * (1 - v);
  g.strokeStyle = "#3a3f4b"; g.fillStyle = "#9aa0a6";
  g.textAlign = "center"; g.textBaseline = "top";
  const xStep = epochs <= 10 ? 0.5 : 2;
  for (let e = 0; e <= epochs + 1e-9; e += xStep) {
    const x = X(e * perEpoch);
    g.beginPath(); g.moveTo(x, T); g.lineTo(x, T + h + 4); g.stroke();
    if (Number.isInteger(e)) g.fillText(String(e), x, T + h + 6);
  }
  g.fillText("epoch", L + w / 2, H - 13);
  g.textBaseline = "middle";
  for (let i = 0; i <= 5; i++) {
    const y = T + (h * i) / 5;
    g.beginPath(); g.moveTo(L - 4, y); g.lineTo(L + w + 4, y); g.stroke();
    g.textAlign = "right"; g.fillStyle = COLOURS.loss;
    g.fillText((maxLoss * (1 - i / 5)).toFixed(1), L - 6, y);
    g.textAlign = "left"; g.fillStyle = COLOURS.test;
    g.fillText(`${100 - 20 * i}%`, L + w + 6, y);
  }
  g.save(); g.translate(11, T + h / 2); g.rotate(-Math.PI / 2); g.textAlign = "center"; g.fillStyle = COLOURS.loss;
  g.fillText("loss", 0, 0); g.restore();
  g.save(); g.translate(W - 8, T + h / 2); g.rotate(Math.PI / 2); g.textAlign = "center"; g.fillStyle = COLOURS.test;
  g.fillText("accuracy", 0, 0); g.restore();
  const line = (pts, colour, Y, width = 1.5) => {
    if (!pts.length) return;
    g.strokeStyle = colour; g.lineWidth = width; g.beginPath();
    pts.forEach(([s, v], i) => (i ? g.lineTo(X(s), Y(v)) : g.moveTo(X(s), Y(v))));
    g.stroke(); g.lineWidth = 1;
  };
  // running means over 10 steps keep single noisy batches from hiding the trend
  const smooth = (key) => steps.map((s, i) => {
    const win = steps.slice(Math.max(0, i - 9), i + 1);
    return [s.step, win.reduce((a, t) => a + t[key], 0) / win.length];
  });
  line(smooth("batch_acc"), COLOURS.batch, YA);
  line(smooth("loss"), COLOURS.loss, YL, 2);
  const tests = steps.filter((s) => s.test_acc !== null).map((s) => [s.step, s.test_acc]);
  line(tests, COLOURS.test, YA, 2);
  g.fillStyle = COLOURS.test;
  for (const [s, v] of tests) { g.beginPath(); g.arc(X(s), YA(v), 3, 0, 2 * Math.PI); g.fill(); }
  // legend, top left inside the frame, on a backing box so curves never hide it
  const items = [["training loss", COLOURS.loss], ["training accuracy (batches)", COLOURS.batch],
    ["test accuracy", COLOURS.test]];
  let x = L + 8;
  g.textAlign = "left"; g.textBaseline = "middle";
  const widths = items.map(([t]) => g.measureText(t).width + 30);
  g.fillStyle = "rgba(24, 26, 38, 0.85)";
  g.fillRect(L + 2, 4, widths.reduce((a, b) => a + b, 0) + 10, 18);
  items.forEach(([t, c], i) => {
    g.fillStyle = c; g.fillRect(x, 11, 16, 4);
    g.fillStyle = "#e8eaed"; g.fillText(t, x + 20, 13);
    x += widths[i];
  });
}

function summary(run) {
  const s = run.steps[run.steps.length - 1];
  const tests = run.steps.filter((t) => t.test_acc !== null);
  const acc = tests.length ? `, test accuracy ${(100 * tests[tests.length - 1].test_acc).toFixed(1)}%` : "";
  const last = run.steps.slice(-10);
  const ms = last.reduce((a, t) => a + t.ms_per_step, 0) / last.length;
  const head = s.done ? "done" : "training";
  return `${head}: step ${s.step} of ${s.total_steps} (epoch ${s.epoch.toFixed(2)}), loss ${s.loss.toFixed(3)}${acc}` +
    ` — ${ms.toFixed(0)} ms/step`;
}

export const progress = {
  train(d) {
    const { $, state } = ctx;
    state.train.steps.push(d);
    state.train.done = d.done;
    drawCurves($("train-canvas"), state.train);
    $("train-info").textContent = summary(state.train);
    const lt = state.trainLongTasks;
    $("longtask-info").textContent = `main-thread long tasks (> 50 ms) while training: ${lt.length}` +
      (lt.length ? `, longest ${Math.max(...lt.map((t) => t.ms)).toFixed(0)} ms` : "");
  },
  "train-state"() {
    ctx.state.training = false;
    ctx.$("train-start").textContent = ctx.state.train && ctx.state.train.done ? "Train again" : "Start";
  },
};

export function init(c, readyMsg) {
  ctx = c;
  const { $, state, call, showError, errorAt, clearError } = ctx;
  if ((readyMsg && readyMsg.backend) === "python") $("train-batch-size").value = "16"; // far slower there
  drawCurves($("train-canvas"), null);

  function showErrors(errors) {
    for (const [name, id] of Object.entries(SETTINGS)) {
      if (errors[name]) errorAt(id, errors[name]); else clearError(id);
    }
    return Object.keys(errors).length === 0;
  }
  async function setup() {
    // checked before the training set is fetched: a bad value is refused next to its control
    if (!showErrors(await call("train_check", settings($)))) return false;
    await call("train_pause");
    state.training = false;
    const info = await call("train_setup", settings($));
    if (info.errors) { showErrors(info.errors); return false; }
    showErrors({});
    state.train = { steps: [], setup: info, done: false, settings: JSON.stringify(settings($)) };
    drawCurves($("train-canvas"), state.train);
    $("train-info").textContent = `${info.n_train.toLocaleString()} training images, ${info.n_test} test images, ` +
      `${info.parameters.toLocaleString()} parameters: ${info.epochs} epochs of ${info.per_epoch} steps`;
    $("train-start").textContent = "Start";
    return true;
  }
  for (const id of Object.values(SETTINGS)) {
    $(id).addEventListener("change", () => call("train_check", settings($)).then(showErrors).catch(showError));
  }
  $("train-reset").onclick = () => setup().catch(showError);
  $("train-start").onclick = async () => {
    if (state.training) return;
    const stale = !state.train || state.train.done || state.train.settings !== JSON.stringify(settings($));
    if (stale) {
      // the training set is fetched when training first starts, not with the page
      if (!state.train) $("train-start").textContent = "Fetching the training set…";
      try {
        if (!(await setup())) { $("train-start").textContent = "Start"; return; }
      } catch (e) {
        errorAt("train-start", e);
        $("train-start").textContent = "Start";
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
  $("train-info").textContent = "Start fetches the MNIST training subset and trains LeNet-5 from scratch.";
}
