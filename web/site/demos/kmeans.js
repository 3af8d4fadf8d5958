// k-means, main thread: dataset / k (slider + typed value) / seed / speed controls, Play/Step/Reset, the step
// read-out, and the elbow and silhouette plots (Canvas 2D, drawn from the worker's sweep results: a few
// hundred draw calls, well under a millisecond). The first run starts when the section comes near the viewport or
// is first used (lazy.js), not at page start.
import { whenNear } from "./lazy.js";

export const canvases = { kmeans: "kmeans-canvas" };

const SPEEDS = [0.5, 1, 2, 5, 10, 30, 60]; // steps per second (the model's SPEEDS)
// While Play runs, the read-out (an aria-live region) changes at most every INFO_MS: each change costs the main
// thread a frame (style, layout, paint: 3-10 ms on SwiftShader's 2-core VM), and at 60 steps/s neither eyes nor a
// screen reader follow it. Step, Pause and the end are shown at once.
const INFO_MS = 250;
let ctx = null, infoAt = -Infinity, infoTimer = null, infoStep = null;

function onStep(d, now = false) {
  const { state } = ctx;
  state.kmeans.steps.push(d);
  if (d.done) {
    state.kmeans.done = true;
    state.kmeans.labels = d.labels;
    ctx.$("km-play").textContent = "Play";
  }
  if (d.revealed !== undefined) state.kmeans.revealed = d.revealed;
  infoStep = d;
  const wait = INFO_MS - (performance.now() - infoAt);
  if (now || d.done || wait <= 0) showStep();
  else if (!infoTimer) infoTimer = setTimeout(showStep, wait);
}

function showStep() {
  const { $, state } = ctx;
  clearTimeout(infoTimer);
  infoTimer = null;
  const d = infoStep;
  if (!d) return;
  infoStep = null;
  infoAt = performance.now();
  const frames = state.kmeans.steps.filter((s) => !s.done && s.step_ms);
  const stepMs = frames.reduce((a, s) => a + s.step_ms + s.draw_ms, 0) / Math.max(frames.length, 1);
  let text;
  if (d.done) {
    text = `converged after ${d.n_iter} iterations, inertia ${d.inertia.toFixed(2)}; ${stepMs.toFixed(2)} ms per iteration + frame`;
  } else if (d.phase === "seed") {
    text = `k-means++ seeding: centre ${d.revealed} of ${d.k} chosen. Brighter, larger points are farther from every ` +
      `chosen centre: the next centre is drawn with probability ∝ D² (${d.seed_ms.toFixed(1)} ms)`;
  } else {
    text = `iteration ${d.iteration}` + (d.inertia === null ? "" : ` (before: inertia ${d.inertia.toFixed(2)}, shift ` +
      `${d.shift.toExponential(2)})`) + ` — step ${d.step_ms.toFixed(2)} ms, draw ${d.draw_ms.toFixed(2)} ms`;
  }
  $("km-info").textContent = text;
  $("kmeans-canvas").setAttribute("aria-label", `k-means scatter plot: ${text}`);
}

// --- the k and seed boxes, checked here at once ------------------------------------------------------------
// The model's rules and words (gpuml/playground/kmeans.py: K_MIN..K_MAX, check_seed; controls.py: got): a check in
// the worker waited behind the elbow sweep's slices, seconds during which the error shown was the previous
// value's. The model checks again when the run starts (tests/browser/test_page_kmeans.py compares the words).
export const K_MIN = 2, K_MAX = 15, SEED_MAX = 4294967295;

// Python's repr() of a str (the cases a text box gives) and of a number as Pyodide passes it (a safe integer: int).
function reprStr(s) {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const esc = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (esc[ch]) out += esc[ch];
    else if (ch === q) out += "\\" + ch;
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return q + out + q;
}
function reprNumber(v) {
  if (Number.isSafeInteger(v)) return String(v);
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  const [m, e] = v.toExponential().split("e"), exp = Number(e);  // shortest round-trip digits, like Python
  if (exp < -4 || exp >= 16) return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  const s = String(v);
  return s.includes(".") || s.includes("e") ? s : `${s}.0`;
}
const got = (v) => (v === null || v === undefined || (typeof v === "string" && !v.trim()) ? "nothing" :
  typeof v === "string" ? reprStr(v) : reprNumber(v));

// check_seed on the seed box's text: the seed, or the model's one-line error.
export function checkSeed(text) {
  const t = text.trim();
  if (/^[+-]?\d+(_\d+)*$/.test(t)) {  // int() takes it
    const v = BigInt(t.replace(/_/g, ""));
    if (v < 0n) throw new Error(`seed must be a whole number ≥ 0, got ${v}`);
    if (v > BigInt(SEED_MAX)) throw new Error(`seed must be at most ${SEED_MAX}, got ${v}`);
    return Number(v);
  }
  throw new Error(`seed must be a whole number ≥ 0, got ${got(text)}`);
}

// The k control's check on the slider's or the typed box's value ("" when the box is empty).
export function checkK(raw) {
  const v = typeof raw === "string" && raw.trim() === "" ? raw : Number(raw);
  if (typeof v !== "number" || !Number.isInteger(v) || v < K_MIN || v > K_MAX) {
    throw new Error(`control 'k' takes an integer in [${K_MIN}, ${K_MAX}], got ${got(v)}`);
  }
  return v;
}

// --- elbow and silhouette plots ---------------------------------------------------------------------------
function plot(canvas, xs, ys, { title, color, mark, current, yFmt }) {
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 46, R = 10, T = 22, B = 34;
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#11131a";
  g.fillRect(0, 0, W, H);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#9aa0b0";
  g.fillText(title, L, 15);
  const x0 = 2, x1 = 10;
  const vals = ys.filter((v) => v !== null && Number.isFinite(v));
  let y0 = vals.length ? Math.min(...vals) : 0, y1 = vals.length ? Math.max(...vals) : 1;
  if (yFmt === "inertia") y0 = 0;
  if (y1 <= y0) y1 = y0 + 1;
  const pad = (y1 - y0) * 0.08;
  if (yFmt !== "inertia") y0 -= pad;
  y1 += pad;
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  // axes, ticks, labels
  g.strokeStyle = "#3a4158";
  g.lineWidth = 1;
  g.strokeRect(L, T, W - L - R, H - T - B);
  g.fillStyle = "#9aa0b0";
  g.textAlign = "center";
  for (let k = x0; k <= x1; k++) {
    g.beginPath(); g.moveTo(px(k), H - B); g.lineTo(px(k), H - B + 4); g.stroke();
    g.fillText(String(k), px(k), H - B + 14);
  }
  g.fillText("k", (L + W - R) / 2, H - 2);
  g.textAlign = "right";
  const fmt = (v) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(Math.abs(v) < 10 ? 2 : 0));
  for (const v of [y0, (y0 + y1) / 2, y1]) g.fillText(fmt(v), L - 4, py(v) + 4);
  g.textAlign = "left";
  if (current >= x0 && current <= x1) { // the k on the slider
    g.strokeStyle = "#6b6b78";
    g.setLineDash([3, 3]);
    g.beginPath(); g.moveTo(px(current), T); g.lineTo(px(current), H - B); g.stroke();
    g.setLineDash([]);
  }
  if (mark) { // the suggested k
    g.strokeStyle = "#ff9a3c";
    g.lineWidth = 2;
    g.beginPath(); g.moveTo(px(mark), T); g.lineTo(px(mark), H - B); g.stroke();
    g.fillStyle = "#ff9a3c";
    // the label where the curve is not: the silhouette's mark is its maximum, at the top of the plot
    const at = ys[xs.indexOf(mark)], high = at !== undefined && at !== null && py(at) < (T + H - B) / 2;
    g.fillText(`k = ${mark}`, Math.min(px(mark) + 4, W - R - 40), high ? H - B - 6 : T + 14);
  }
  g.strokeStyle = color;
  g.fillStyle = color;
  g.lineWidth = 2;
  g.beginPath();
  let started = false;
  xs.forEach((x, i) => {
    if (ys[i] === null) return;
    if (started) g.lineTo(px(x), py(ys[i])); else g.moveTo(px(x), py(ys[i]));
    started = true;
  });
  g.stroke();
  xs.forEach((x, i) => { if (ys[i] !== null) g.fillRect(px(x) - 3, py(ys[i]) - 3, 6, 6); }); // every computed k
}

function drawSweep() {
  const { $, state } = ctx;
  const s = state.kmeansSweep;
  if (!s) return;
  const t0 = performance.now();
  const current = Number($("km-k").value);
  plot($("km-elbow"), s.k, s.inertia, { title: "elbow: inertia vs k", color: "#4e79a7", mark: s.suggested_k, current, yFmt: "inertia" });
  plot($("km-sil"), s.k, s.silhouette, { title: "mean silhouette vs k", color: "#59a14f", mark: s.suggested_k, current });
  s.draw_ms.push(performance.now() - t0);
}

function onSweep(d) {
  const { $, state } = ctx;
  if (d.error) {
    ctx.errorAt("km-sweep-info", d.error);
    return;
  }
  const s = state.kmeansSweep;
  if (!s) return;
  for (const f of ["k", "inertia", "silhouette", "done", "suggested_k", "kneedle_k", "rule"]) if (f in d) s[f] = d[f];
  if (d.slice_ms !== undefined) { s.slices.push(d.slice_ms); s.stages.push(d.stage); }
  // most slices finish a stage, not a k: nothing shown changes, and a redraw would cost the main thread a frame
  const shown = `${d.k.length}/${d.silhouette.length}/${!!d.done}`;
  if (shown === s.shown) return;
  s.shown = shown;
  drawSweep();
  const last = d.k.length ? `k = ${d.k[d.k.length - 1]}: inertia ${d.inertia[d.inertia.length - 1].toFixed(1)}, ` +
    `silhouette ${(d.silhouette[d.silhouette.length - 1] ?? NaN).toFixed(3)}` : "";
  $("km-sweep-info").textContent = d.done
    ? `Suggested k = ${d.suggested_k} (${d.rule}); the elbow's kneedle knee is k = ${d.kneedle_k}. ` +
      `k = 2..10 on ${s.n.toLocaleString()} points, in ${s.slices.length} worker slices between animation frames.`
    : `computing… ${d.k.length} of 9` + (last ? ` (${last})` : "");
  $("km-elbow").setAttribute("aria-label", `elbow plot: inertia for k = ${d.k.join(", ")}: ${d.inertia.map((v) => v.toFixed(0)).join(", ")}` +
    (d.done ? `; suggested k = ${d.suggested_k}` : ""));
  $("km-sil").setAttribute("aria-label", `silhouette plot: mean silhouette for k = ${d.k.join(", ")}: ` +
    `${d.silhouette.map((v) => (v ?? NaN).toFixed(3)).join(", ")}` + (d.done ? `; suggested k = ${d.suggested_k}` : ""));
}

export const progress = {
  kmeans: (d) => onStep(d),
  "kmeans-state": () => { ctx.$("km-play").textContent = "Play"; showStep(); },
  "kmeans-sweep": (d) => onSweep(d),
};

export function init(c, ready) {
  ctx = c;
  const { $, state, call, errorAt, clearError } = ctx;
  const sel = $("km-dataset");
  for (const name of ready.build.kmeans_datasets) sel.add(new Option(name, name));
  let sweepKey = null, visible = false, runs = 0;

  // The sweep runs on the dataset and seed of the latest run that started (its seed checked by the model).
  async function startSweep() {
    const run = state.kmeans;
    if (!run || run.seed === null) return; // not started yet, or its controls were refused
    const ds = run.dataset, seed = run.seed;
    const key = `${ds}/${seed}`;
    if (key === sweepKey) return;
    sweepKey = key;
    state.kmeansSweep = { dataset: ds, seed, k: [], inertia: [], silhouette: [], done: false, slices: [], stages: [], draw_ms: [], n: 1000 };
    $("km-sweep-info").textContent = "computing… 0 of 9";
    drawSweep();
    try {
      await call("kmeans_sweep", ds, seed);
    } catch (e) {
      sweepKey = null;
      errorAt("km-seed", e);
    }
  }

  // A new run: k from the slider, or from the typed box (`source`), and the seed box's text, checked here at once
  // with the model's rules and again by the model (a one-line error next to the control that gave it: an empty or
  // non-numeric seed is not taken as 0). `current`: the latest run's start (a promise); the first is made by
  // whenNear, a control or a test (gpumlKmeansReset), whichever comes first.
  let current = null;
  const reset = (source = "km-k") => (current = start(source));
  const begin = () => current || reset();

  async function start(source) {
    const ds = $("km-dataset").value, seedText = $("km-seed").value;
    const raw = source === "km-k-num" ? $("km-k-num").value : $("km-k").value;
    const kBox = source === "km-k-num" ? "km-k-num" : "km-k";
    const run = ++runs;
    let k;
    try {  // answered here at once, whatever the worker is busy with; the run on show is kept
      k = checkK(raw);
      for (const id of ["km-k", "km-k-num"]) clearError(id);
      $("km-k").value = $("km-k-num").value = $("km-k-out").textContent = String(k);
      checkSeed(seedText);
      clearError("km-seed");
    } catch (e) {
      errorAt(k === undefined ? kBox : "km-seed", e);
      return;
    }
    await call("kmeans_pause");
    if (run !== runs) return;  // a newer reset owns the controls now
    const mine = { dataset: ds, k, seed: null, steps: [], done: false, labels: null, revealed: 0 };
    const before = state.kmeans; // kept (and still playable) when the model refuses this run's controls
    state.kmeans = mine;
    infoStep = null; // a throttled read-out of the old run is not shown
    let seed;
    try {
      const out = await call("kmeans_start", ds, k, seedText);
      if (run !== runs) return; // a newer reset owns the controls now
      mine.revealed = out.revealed;
      mine.seed = seed = out.seed;
      for (const id of ["km-k", "km-k-num", "km-seed"]) clearError(id);
    } catch (e) {
      if (run !== runs) return;
      if (before && before.seed !== null) {
        state.kmeans = before;
        $("km-k").value = $("km-k-num").value = $("km-k-out").textContent = String(before.k);
      }
      $("km-play").textContent = "Play"; // paused above
      errorAt(ctx.words(e).startsWith("seed") ? "km-seed" : kBox, e);
      return;
    }
    $("km-info").textContent = `${ds}: 1,000 points, k = ${k}, seed ${seed}. Step or Play: first the k-means++ seeding ` +
      "(one centre per step), then Lloyd iterations.";
    $("km-play").textContent = "Play";
    drawSweep();
    if (visible) startSweep();
  }
  $("km-reset").onclick = () => reset();
  $("km-dataset").onchange = () => reset();
  $("km-k").oninput = () => { $("km-k-out").textContent = $("km-k").value; $("km-k-num").value = $("km-k").value; };
  $("km-k").onchange = () => reset("km-k");
  $("km-k-num").onchange = () => reset("km-k-num");
  $("km-seed").onchange = () => reset();
  $("km-speed").oninput = async () => {
    const v = SPEEDS[Number($("km-speed").value)];
    $("km-speed-out").textContent = `${v} steps/s`;
    try {
      await call("kmeans_speed", v);
      clearError("km-speed");
    } catch (e) {
      errorAt("km-speed", e);
    }
  };
  const started = () => state.kmeans && state.kmeans.seed !== null; // a run the model accepted is on show
  $("km-play").onclick = async () => {
    await begin();
    if (!started()) return;
    if ($("km-play").textContent === "Pause") {
      await call("kmeans_pause");
      $("km-play").textContent = "Play";
      showStep();
    } else {
      if (state.kmeans.done) await reset();
      $("km-play").textContent = "Pause";
      await call("kmeans_play");
    }
  };
  $("km-step").onclick = async () => {
    await begin();
    if (!started()) return;
    await call("kmeans_pause");
    $("km-play").textContent = "Play";
    onStep(await call("kmeans_step"), true);
  };
  window.gpumlKmeansReset = reset;
  window.gpumlKmeansCheck = { seed: checkSeed, k: checkK };  // tests compare the words with the model's
  whenNear($("kmeans"), begin);
  // the sweep starts when the demo is first on screen (not during page start-up, where it would delay the others)
  const onScreen = () => { visible = true; startSweep(); };
  if ("IntersectionObserver" in window) {
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { io.disconnect(); onScreen(); }
    });
    io.observe($("kmeans"));
  } else {
    onScreen();
  }
  $("km-speed").oninput();
}
