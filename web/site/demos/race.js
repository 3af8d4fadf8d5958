// Optimizer race, main thread: the surface by name (validated in Python; the error goes next to the field), the
// learning-rate multiplier, Play/Step/Restart; the surface, paths and markers drawn with Canvas 2D from the new
// points each slice brings, and the leaderboard as a table.
export const canvases = {};

const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#17becf"];
const STATUS = { finished: "at the minimum", running: "running", budget: "out of steps", out: "left the plot" };

let ctx = null;
let race = null;  // {view, paths: [[x, y]...] per run, image: ImageBitmap-able canvas of the surface}

function magma(t) {  // a short magma-like ramp
  const stops = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
  return stops[i].map((a, k) => a + (stops[i + 1][k] - a) * f);
}

function surfaceImage(b64, n) {
  const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  const img = new ImageData(n, n);
  for (let k = 0; k < n * n; k++) {
    const [r, g, b] = magma(bytes[k] / 255);
    img.data[4 * k] = r; img.data[4 * k + 1] = g; img.data[4 * k + 2] = b; img.data[4 * k + 3] = 255;
  }
  const small = document.createElement("canvas");
  small.width = small.height = n;
  small.getContext("2d").putImageData(img, 0, 0);
  const target = ctx.$("race-canvas");  // scaled once here: each frame's draw is then a plain copy
  const c = document.createElement("canvas");
  c.width = target.width;
  c.height = target.height;
  const g = c.getContext("2d");
  g.imageSmoothingEnabled = true;
  g.drawImage(small, 0, 0, c.width, c.height);
  return c;
}

function draw() {
  const t0 = performance.now();
  const canvas = ctx.$("race-canvas");
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, v = race.view;
  const [x0, x1] = v.x_range, [y0, y1] = v.y_range;
  const px = (x) => ((x - x0) / (x1 - x0)) * W, py = (y) => ((y1 - y) / (y1 - y0)) * H;
  g.drawImage(race.image, 0, 0);
  g.strokeStyle = "#fff";
  g.lineWidth = 1.5;
  for (const [mx, my] of v.minima) {  // the finish: a cross inside the tolerance circle
    g.beginPath();
    g.ellipse(px(mx), py(my), (v.tol / (x1 - x0)) * W, (v.tol / (y1 - y0)) * H, 0, 0, 2 * Math.PI);
    g.moveTo(px(mx) - 6, py(my)); g.lineTo(px(mx) + 6, py(my));
    g.moveTo(px(mx), py(my) - 6); g.lineTo(px(mx), py(my) + 6);
    g.stroke();
  }
  g.fillStyle = "#fff";
  g.fillRect(px(v.start[0]) - 4, py(v.start[1]) - 4, 8, 8);
  race.paths.forEach((path, i) => {
    g.strokeStyle = COLORS[i];
    g.lineWidth = 2;
    g.beginPath();
    path.forEach(([x, y], k) => (k ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y))));
    g.stroke();
  });
  race.paths.forEach((path, i) => {  // markers last, outlined: visible on any background
    const [x, y] = path[path.length - 1];
    g.fillStyle = COLORS[i];
    g.fillRect(px(x) - 5, py(y) - 5, 10, 10);
    g.strokeStyle = "#000";
    g.lineWidth = 1;
    g.strokeRect(px(x) - 5.5, py(y) - 5.5, 11, 11);
  });
  return performance.now() - t0;
}

function board(v) {
  const body = ctx.$("race-board").tBodies[0];
  body.replaceChildren();
  for (const row of v.leaderboard) {
    const tr = body.insertRow();
    const sw = document.createElement("span");
    sw.className = "race-swatch";
    sw.style.background = COLORS[row.index];
    tr.insertCell().textContent = `${row.rank}.`;
    const name = tr.insertCell();
    name.append(sw, ` ${row.name}`);
    tr.insertCell().textContent = STATUS[row.status] + (row.status === "finished" ? ` in ${row.steps} steps` : "");
    tr.insertCell().textContent = `lr ${row.lr.toPrecision(2)}`;
    tr.insertCell().textContent = `f ${row.loss.toPrecision(3)}`;
  }
}

function apply(out, reset) {
  const { $, state } = ctx;
  if (reset) race.paths = out.new_points.map(() => []);
  out.new_points.forEach((p, i) => race.paths[i].push(...p.points));
  delete out.new_points;
  race.view = Object.assign(race.view || {}, out);
  state.race.view = race.view;
  state.race.paths = race.paths;
  state.race.drawMs.push(draw());
  board(race.view);
  $("race-status").textContent = out.status;
  if (out.finished) { state.race.finished = true; $("race-play").textContent = "Play"; }
}

export const progress = {
  race: (d) => apply(d, false),
  "race-state": () => { ctx.$("race-play").textContent = "Play"; },
};

export function init(c) {
  ctx = c;
  const { $, state, call, errorAt, clearError, showError } = ctx;
  state.race = { view: null, paths: [], drawMs: [], finished: false, setups: 0 };
  race = { view: null, paths: [], image: null };
  const lr = () => Number($("race-lr").value);
  let requested = null;  // the name last asked for: a change event for the same name (after Enter) is skipped
  async function setup() {
    const name = $("race-surface").value.trim();
    requested = name;
    try {
      const out = await call("race_setup", name, lr());
      clearError("race-surface");
      race.image = surfaceImage(out.background, out.grid);
      delete out.background;
      race.view = null;
      state.race.finished = false;
      state.race.setups += 1;
      state.race.surface = name;
      apply(out, true);
      $("race-play").textContent = "Play";
    } catch (e) {
      errorAt("race-surface", e);
    }
  }
  call("race_surfaces").then((names) => {  // pure Python, instant
    for (const [name, label] of Object.entries(names)) $("race-surfaces").append(new Option(label, name));
  }).catch(showError);
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
