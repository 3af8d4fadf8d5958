// Regularization, main thread: the three log-scale λ sliders (live: a new λ applies from the next step), Start/
// Pause/Restart, and the four columns (train/test accuracy per epoch, weight histogram) drawn with Canvas 2D from
// the view the worker returns after each slice (a draw takes a few ms).
export const canvases = {};

const RUNS = ["none", "L1", "L2", "weight decay"];
const COLORS = { none: "#bab0ac", L1: "#f28e2b", L2: "#4e79a7", "weight decay": "#59a14f" };
const TRAIN = "#9aa0b4", TEST = "#ffb347", DIM = "#8a8fa3", FG = "#e6e6e6", GRID = "#2c3142";
const SLIDERS = { log_l1: "reg-l1", log_l2: "reg-l2", log_wd: "reg-wd" };

let ctx = null;

const fmtLam = (v) => {
  const x = 10 ** v;
  return x >= 0.01 ? String(Number(x.toPrecision(2))) : x.toExponential(1).replace(".0e", "e");
};
const pct = (v) => `${(100 * v).toFixed(1)}%`;

function axes(g, x, y, w, h) {
  g.strokeStyle = GRID;
  g.lineWidth = 1;
  g.strokeRect(x + 0.5, y + 0.5, w, h);
}

function curves(g, view, name, x0, y0, w) {
  const h = view.history[name];
  const s = view.summary[name];
  const px = x0 + 38, py = y0 + 40, pw = w - 48, ph = 150;
  g.fillStyle = COLORS[name];
  g.font = "bold 14px system-ui, sans-serif";
  g.fillText(name, x0 + 4, y0 + 16);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = DIM;
  if (name !== "none") g.fillText(`λ = ${fmtLam(Math.log10(s.lambda))}`, x0 + 4 + g.measureText(name).width + 60, y0 + 16);
  g.fillText("accuracy", x0 + 4, y0 + 32);
  axes(g, px, py, pw, ph);
  const ex = (e) => px + (e / Math.max(view.epochs, 1)) * pw, ay = (a) => py + ph - a * ph;
  g.textAlign = "right";
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    g.fillStyle = GRID;
    g.fillRect(px, Math.round(ay(a)), pw, 1);
    g.fillStyle = DIM;
    g.fillText(`${a * 100}%`, px - 4, ay(a) + 4);
  }
  g.textAlign = "center";
  for (const e of [0, Math.round(view.epochs / 2), view.epochs]) g.fillText(String(e), ex(e), py + ph + 14);
  g.fillText("epoch", px + pw / 2, py + ph + 28);
  for (const [epoch, run] of view.changes) {  // when this run's λ changed
    if (run !== name) continue;
    g.fillStyle = "#6b6b78";
    g.fillRect(Math.round(ex(epoch)), py, 1, ph);
  }
  for (const [key, color] of [["train_acc", TRAIN], ["test_acc", TEST]]) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    h.epoch.forEach((e, i) => (i ? g.lineTo(ex(e), ay(h[key][i])) : g.moveTo(ex(e), ay(h[key][i]))));
    g.stroke();
  }
  g.textAlign = "left";
  const ly = py + ph + 44;  // legend below the plot, clear of the curves
  g.fillStyle = TRAIN; g.fillRect(px, ly - 8, 14, 3);
  g.fillStyle = DIM; g.fillText("train", px + 18, ly - 3);
  g.fillStyle = TEST; g.fillRect(px + 60, ly - 8, 14, 3);
  g.fillStyle = DIM; g.fillText("test", px + 78, ly - 3);
  g.fillStyle = FG;
  g.fillText(`train ${pct(s.train_acc)} · test ${pct(s.test_acc)}`, x0 + 4, ly + 14);
  g.fillStyle = COLORS[name];
  g.fillText(`gap ${(100 * s.gap).toFixed(1)} points`, x0 + 4, ly + 30);
}

function histogram(g, hist, i, x0, y0, w) {
  const run = hist.runs[i];
  const px = x0 + 38, py = y0 + 24, pw = w - 48, ph = 130;
  g.fillStyle = DIM;
  g.font = "12px system-ui, sans-serif";
  g.textAlign = "left";
  g.fillText(`weights (${run.weights.toLocaleString()}), share (log)`, x0 + 4, y0 + 14);
  axes(g, px, py, pw, ph);
  const lo = -4, hi = 0;  // 0.01% .. 100%: the spike at zero and the tails both fit
  const ly = (f) => py + ph - ((Math.max(Math.log10(f), lo) - lo) / (hi - lo)) * ph;
  g.textAlign = "right";
  for (const e of [0, -2, -4]) {
    g.fillStyle = DIM;
    g.fillText(`${10 ** (e + 2)}%`, px - 4, ly(10 ** e) + 4);
  }
  const bw = pw / run.shares.length;
  g.fillStyle = COLORS[run.name];
  run.shares.forEach((f, j) => {
    if (f > 0) { const top = ly(f); g.fillRect(px + j * bw, top, Math.max(bw - 1, 1), py + ph - top); }
  });
  const span = hist.edges[hist.edges.length - 1];
  g.fillStyle = DIM;
  g.textAlign = "center";
  g.fillText("0", px + pw / 2, py + ph + 14);
  g.textAlign = "left";
  g.fillText((-span).toFixed(2), px, py + ph + 14);
  g.textAlign = "right";
  g.fillText(span.toFixed(2), px + pw, py + ph + 14);
  g.textAlign = "center";
  g.fillText("weight value", px + pw / 2, py + ph + 28);
  g.textAlign = "left";
  g.fillStyle = FG;
  g.fillText(`|w| < ${hist.near_zero_below}: ${pct(run.near_zero)}`, x0 + 4, py + ph + 46);
}

function draw(view) {
  const t0 = performance.now();
  const canvas = ctx.$("reg-canvas");
  // four columns side by side; two by two where the section is narrow (phones), so the text stays readable
  const cols = canvas.parentElement.clientWidth < 700 ? 2 : 4;
  const w = 240, h = 520;
  if (canvas.width !== cols * w) {
    canvas.width = cols * w;
    canvas.height = (RUNS.length / cols) * h;
  }
  const g = canvas.getContext("2d");
  g.fillStyle = "#11131a";
  g.fillRect(0, 0, canvas.width, canvas.height);
  RUNS.forEach((name, i) => {
    const x = (i % cols) * w, y = Math.floor(i / cols) * h;
    curves(g, view, name, x, y, w);
    histogram(g, view.histograms, i, x, y + 290, w);
  });
  return performance.now() - t0;
}

function show(view) {
  const { $, state } = ctx;
  const r = state.regularization;
  r.last = view;
  r.views += 1;
  r.drawMs.push(draw(view));
  const gaps = RUNS.map((n) => `${n}: gap ${(100 * view.summary[n].gap).toFixed(1)} points (test ${pct(view.summary[n].test_acc)})`);
  const head = view.done ? `done after ${view.epoch} epochs` : `epoch ${view.epoch} of ${view.epochs}`;
  $("reg-summary").textContent = `${head} — ${gaps.join("; ")}`;
  if (view.done) $("reg-start").textContent = "Start";
}

export const progress = {
  regularization: (d) => show(d),
  "regularization-state": () => {
    ctx.state.regularization.running = false;
    if (ctx.$("reg-start").textContent !== "Start") ctx.$("reg-start").textContent = "Start";
  },
};

export function init(c) {
  ctx = c;
  const { $, state, call, errorAt, clearError, showError } = ctx;
  state.regularization = { views: 0, last: null, drawMs: [], running: false, sets: [] };
  const values = () => Object.fromEntries(Object.entries(SLIDERS).map(([k, id]) => [k, Number($(id).value)]));
  for (const [name, id] of Object.entries(SLIDERS)) {
    const el = $(id);
    el.addEventListener("input", () => { $(`${id}-value`).textContent = fmtLam(Number(el.value)); });
    el.addEventListener("change", async () => {
      if (!state.regularization.last) return;  // not set up yet: Start takes the slider values
      try {
        const view = await call("reg_set", name, Number(el.value));
        state.regularization.sets.push([name, Number(el.value)]);
        clearError(el);
        show(view);
      } catch (e) {
        errorAt(el, e);
      }
    });
  }
  $("reg-start").onclick = async () => {
    $("reg-start").textContent = "Running…";
    state.regularization.running = true;
    try {
      await call("reg_start", values());
      clearError("reg-start");
    } catch (e) {
      errorAt("reg-start", e);
      $("reg-start").textContent = "Start";
    }
  };
  window.addEventListener("resize", () => { if (state.regularization.last) draw(state.regularization.last); });
  $("reg-pause").onclick = () => call("reg_pause").catch(showError);
  $("reg-restart").onclick = async () => {
    if (!state.regularization.last) return;
    try {
      show(await call("reg_restart"));
    } catch (e) {
      showError(e);
    }
  };
}
