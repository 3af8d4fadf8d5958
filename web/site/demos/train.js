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

// Per-run series, extended by each step report in O(1) (running means over 10 steps keep single noisy batches
// from hiding the trend), so a frame's draw never rescans or re-smooths the whole history.
const WINDOW = 10;
function newSeries() {
  return { loss: [], acc: [], tests: [], maxLoss: 2.5, sums: { loss: 0, batch_acc: 0 } };
}
function extend(series, steps, d) {
  const n = steps.length; // d is steps[n - 1]
  for (const [key, out] of [["loss", series.loss], ["batch_acc", series.acc]]) {
    series.sums[key] += d[key] - (n > WINDOW ? steps[n - 1 - WINDOW][key] : 0);
    out.push([d.step, series.sums[key] / Math.min(n, WINDOW)]);
  }
  if (d.loss > series.maxLoss) series.maxLoss = d.loss;
  if (d.test_acc !== null) series.tests.push([d.step, d.test_acc]);
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
  const series = (run && run.series) || newSeries();
  const maxLoss = series.maxLoss;
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
  // at most ~2 vertices per pixel column: long runs (20 epochs of batch 16 = 20,480 steps) stay cheap to stroke
  const line = (pts, colour, Y, width = 1.5) => {
    if (!pts.length) return;
    const stride = Math.max(1, Math.floor(pts.length / (2 * w)));
    g.strokeStyle = colour; g.lineWidth = width; g.beginPath();
    g.moveTo(X(pts[0][0]), Y(pts[0][1]));
    for (let i = stride; i < pts.length; i += stride) g.lineTo(X(pts[i][0]), Y(pts[i][1]));
    const last = pts[pts.length - 1];
    g.lineTo(X(last[0]), Y(last[1]));
    g.stroke(); g.lineWidth = 1;
  };
  line(series.acc, COLOURS.batch, YA);
  line(series.loss, COLOURS.loss, YL, 2);
  line(series.tests, COLOURS.test, YA, 2);
  g.fillStyle = COLOURS.test;
  for (const [s, v] of series.tests) { g.beginPath(); g.arc(X(s), YA(v), 3, 0, 2 * Math.PI); g.fill(); }
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
  const tests = run.series.tests;
  const acc = tests.length ? `, test accuracy ${(100 * tests[tests.length - 1][1]).toFixed(1)}%` : "";
  const last = run.steps.slice(-10);
  const ms = last.reduce((a, t) => a + t.ms_per_step, 0) / last.length;
  const head = s.done ? "done" : "training";
  return `${head}: step ${s.step} of ${s.total_steps} (epoch ${s.epoch.toFixed(2)}), loss ${s.loss.toFixed(3)}${acc}` +
    ` — ${ms.toFixed(0)} ms/step`;
}

// Step reports only extend the run; the canvas and the text are redrawn at most once per animation frame (reports
// arriving together cost one draw), and only when something changed.
let frame = 0;
function redraw() {
  frame = 0;
  const { $, state } = ctx;
  if (!state.train) return;
  drawCurves($("train-canvas"), state.train);
  if (state.train.steps.length) $("train-info").textContent = summary(state.train);
  const lt = state.trainLongTasks;
  $("longtask-info").textContent = `main-thread long tasks (> 50 ms) while training: ${lt.length}` +
    (lt.length ? `, longest ${Math.max(...lt.map((t) => t.ms)).toFixed(0)} ms` : "");
}
function scheduleRedraw() {
  if (!frame) frame = requestAnimationFrame(redraw);
}

export const progress = {
  train(d) {
    const run = ctx.state.train;
    run.steps.push(d);
    run.done = d.done;
    extend(run.series, run.steps, d);
    scheduleRedraw();
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
    state.train = { steps: [], series: newSeries(), setup: info, done: false, settings: JSON.stringify(settings($)) };
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
