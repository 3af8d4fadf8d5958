// Optimizer race, main thread: the surface by name (validated in Python; the error goes next to the field), the
// learning-rate multiplier, Play/Step/Restart; the surface, paths and markers drawn with Canvas 2D from the new
// points each slice brings, and the leaderboard as a table. The worker turns the surface into an ImageBitmap, and
// the paths accumulate on a trail canvas (surface + finish + start + paths so far): a slice strokes only its new
// segments there, and a frame is one copy of the trail plus six markers, whatever the paths' length (the main
// thread stays under the 50 ms task budget on SwiftShader).
import { whenNear } from "./lazy.js";

export const canvases = {};

const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#17becf"];
const STATUS = { finished: "at the minimum", running: "running", budget: "out of steps", out: "left the plot" };

let ctx = null;
// {view, paths: [[x, y]...] per run, image: the surface (ImageBitmap, or a canvas), trail: canvas, cells: board}
let race = null;

function magma(t) {  // a short magma-like ramp (the worker's surfaceBitmap uses the same stops)
  const stops = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
  return stops[i].map((a, k) => a + (stops[i + 1][k] - a) * f);
}

// Only where the worker could not make an ImageBitmap (no createImageBitmap there): the surface built here.
function surfaceImage(b64, n) {
  const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  const img = new ImageData(n, n);
  for (let k = 0; k < n * n; k++) {
    const [r, g, b] = magma(bytes[k] / 255);
    img.data[4 * k] = r; img.data[4 * k + 1] = g; img.data[4 * k + 2] = b; img.data[4 * k + 3] = 255;
  }
  const c = document.createElement("canvas");
  c.width = c.height = n;
  c.getContext("2d").putImageData(img, 0, 0);
  return c;
}

function mapping() {  // data -> canvas pixels for the current view
  const canvas = ctx.$("race-canvas"), v = race.view;
  const W = canvas.width, H = canvas.height, [x0, x1] = v.x_range, [y0, y1] = v.y_range;
  return { W, H, px: (x) => ((x - x0) / (x1 - x0)) * W, py: (y) => ((y1 - y) / (y1 - y0)) * H };
}

function resetTrail() {  // the surface, the finish (a cross inside the tolerance circle) and the start
  const v = race.view;
  const { W, H, px, py } = mapping();
  const [x0, x1] = v.x_range, [y0, y1] = v.y_range;
  if (!race.trail || race.trail.width !== W || race.trail.height !== H) {  // made once: the image covers it all
    race.trail = document.createElement("canvas");
    race.trail.width = W;
    race.trail.height = H;
  }
  const g = race.trail.getContext("2d");
  g.imageSmoothingEnabled = true;
  g.drawImage(race.image, 0, 0, W, H);
  g.strokeStyle = "#fff";
  g.lineWidth = 1.5;
  for (const [mx, my] of v.minima) {
    g.beginPath();
    g.ellipse(px(mx), py(my), (v.tol / (x1 - x0)) * W, (v.tol / (y1 - y0)) * H, 0, 0, 2 * Math.PI);
    g.moveTo(px(mx) - 6, py(my)); g.lineTo(px(mx) + 6, py(my));
    g.moveTo(px(mx), py(my) - 6); g.lineTo(px(mx), py(my) + 6);
    g.stroke();
  }
  g.fillStyle = "#fff";
  g.fillRect(px(v.start[0]) - 4, py(v.start[1]) - 4, 8, 8);
}

function extendTrail(newPoints) {  // each run's new segments, from its last drawn point; then the points are kept
  const { px, py } = mapping();
  const g = race.trail.getContext("2d");
  g.lineWidth = 2;
  g.lineJoin = g.lineCap = "round";  // segments drawn slice by slice join without gaps
  newPoints.forEach((p, i) => {
    const path = race.paths[i], pts = p.points;
    if (pts.length) {
      const from = path.length ? path[path.length - 1] : pts[0];
      g.strokeStyle = COLORS[i];
      g.beginPath();
      g.moveTo(px(from[0]), py(from[1]));
      for (const [x, y] of pts) g.lineTo(px(x), py(y));
      g.stroke();
    }
    for (const q of pts) path.push(q);
  });
}

function draw() {
  const t0 = performance.now();
  const g = ctx.$("race-canvas").getContext("2d");
  const { px, py } = mapping();
  g.drawImage(race.trail, 0, 0);
  race.paths.forEach((path, i) => {  // markers last, outlined: visible on any background
    if (!path.length) return;
    const [x, y] = path[path.length - 1];
    g.fillStyle = COLORS[i];
    g.fillRect(px(x) - 5, py(y) - 5, 10, 10);
    g.strokeStyle = "#000";
    g.lineWidth = 1;
    g.strokeRect(px(x) - 5.5, py(y) - 5.5, 11, 11);
  });
  return performance.now() - t0;
}

function board(v) {  // the rows are built once; a slice only rewrites the cells whose text changed
  const body = ctx.$("race-board").tBodies[0];
  if (body.rows.length !== v.leaderboard.length) {
    body.replaceChildren();
    race.cells = v.leaderboard.map(() => {
      const tr = body.insertRow(), cells = [];
      for (let c = 0; c < 5; c++) cells.push(tr.insertCell());
      const sw = document.createElement("span");
      sw.className = "race-swatch";
      const name = document.createTextNode("");
      cells[1].append(sw, name);
      return { nodes: [cells[0], name, cells[2], cells[3], cells[4]], sw, texts: [], color: null };
    });
  }
  v.leaderboard.forEach((row, r) => {
    const rec = race.cells[r];
    const texts = [`${row.rank}.`, ` ${row.name}`,
      STATUS[row.status] + (row.status === "finished" ? ` in ${row.steps} steps` : ""),
      `lr ${row.lr.toPrecision(2)}`, `f ${row.loss.toPrecision(3)}`];
    texts.forEach((t, c) => {
      if (rec.texts[c] !== t) { rec.nodes[c].textContent = t; rec.texts[c] = t; }
    });
    if (rec.color !== COLORS[row.index]) { rec.sw.style.background = COLORS[row.index]; rec.color = COLORS[row.index]; }
  });
}

function apply(out, reset) {  // a slice's (or a setup's) main-thread work, timed in state.race.applyMs
  const { $, state } = ctx;
  const t0 = performance.now();
  const newPoints = out.new_points;
  delete out.new_points;
  race.view = Object.assign(race.view || {}, out);
  if (reset) {
    race.paths = newPoints.map(() => []);
    resetTrail();
  }
  extendTrail(newPoints);
  state.race.view = race.view;
  state.race.paths = race.paths;
  state.race.drawMs.push(draw());
  board(race.view);
  $("race-status").textContent = out.status;
  if (out.finished) { state.race.finished = true; $("race-play").textContent = "Play"; }
  state.race.applyMs.push(performance.now() - t0);
}

export const progress = {
  race: (d) => apply(d, false),
  "race-state": () => { ctx.$("race-play").textContent = "Play"; },
};

export function init(c) {
  ctx = c;
  const { $, state, call, errorAt, clearError, showError } = ctx;
  state.race = { view: null, paths: [], drawMs: [], applyMs: [], setupMs: [], finished: false, setups: 0 };
  race = { view: null, paths: [], image: null, trail: null, cells: [] };
  const lr = () => Number($("race-lr").value);
  let requested = null;  // the name last asked for: a change event for the same name (after Enter) is skipped
  async function setup() {
    const name = $("race-surface").value.trim();
    requested = name;
    try {
      const out = await call("race_setup", name, lr());
      const t0 = performance.now();
      clearError("race-surface");
      race.image = out.image || surfaceImage(out.background, out.grid);
      delete out.image;
      delete out.background;
      race.view = null;
      state.race.finished = false;
      state.race.setups += 1;
      state.race.surface = name;
      apply(out, true);
      $("race-play").textContent = "Play";
      state.race.setupMs.push(performance.now() - t0);
    } catch (e) {
      errorAt("race-surface", e);
    }
  }
  // the surface names (a Python call) when the section comes near or is used (lazy.js)
  whenNear($("race"), () => call("race_surfaces").then((names) => {
    for (const [name, label] of Object.entries(names)) $("race-surfaces").append(new Option(label, name));
  }).catch(showError));
  $("race-surface").addEventListener("change", () => { if ($("race-surface").value.trim() !== requested) setup(); });
  $("race-surface").addEventListener("keydown", (e) => { if (e.key === "Enter") setup(); });
  $("race-lr").addEventListener("input", () => { $("race-lr-value").textContent = (10 ** lr()).toPrecision(2); });
  $("race-lr").addEventListener("change", async () => {
    try {
      const out = await call("race_set", "lr_scale", lr());
      clearError("race-lr");
      state.race.finished = false;
      apply(out, true);
    } catch (e) {
      errorAt("race-lr", e);
    }
  });
  $("race-play").onclick = async () => {
    if ($("race-play").textContent === "Pause") {
      await call("race_pause");
      $("race-play").textContent = "Play";
      return;
    }
    if (!race.view) return;
    if (state.race.finished) await setup();
    $("race-play").textContent = "Pause";
    await call("race_play");
  };
  $("race-step").onclick = async () => {
    if (!race.view) return;
    $("race-play").textContent = "Play";
    apply(await call("race_step"), false);
  };
  $("race-restart").onclick = setup;
  // the first race is set up when the section comes into view: nothing queued ahead of the first prediction
  const seen = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) { seen.disconnect(); if (!state.race.setups) setup(); }
  });
  seen.observe($("race"));
}
