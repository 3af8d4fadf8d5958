// Convolution benchmark panel, main thread: shape and runs, Run (the worker times each algorithm in its own call),
// and the speedups over direct drawn as bars (Canvas 2D, a few ms) against the 2× Winograd target line, with the
// medians, the kernel that ran and the largest difference from direct's output in a table.
import { whenNear } from "./lazy.js";

export const canvases = {};

const COLORS = { direct: "#9aa0b4", im2col: "#4e79a7", winograd2: "#f28e2b", winograd4: "#59a14f" };
const DIM = "#8a8fa3", FG = "#e6e6e6", GRID = "#2c3142", TARGET = "#e15759";

let ctx = null;

function draw(d) {
  const t0 = performance.now();
  const canvas = ctx.$("cb-canvas");
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  g.fillStyle = "#11131a";
  g.fillRect(0, 0, W, H);
  const direct = d.results.find((r) => r.algo === "direct");
  const speed = (r) => (direct ? direct.ms / r.ms : 0);
  const top = Math.max(2.5, ...d.results.map(speed)) * 1.1;
  const px = 48, py = 16, pw = W - 64, ph = H - 84;
  const y = (v) => py + ph - (v / top) * ph;
  g.font = "12px system-ui, sans-serif";
  g.textAlign = "right";
  for (let v = 0; v <= top; v += top > 6 ? 2 : 0.5) {
    g.fillStyle = GRID;
    g.fillRect(px, Math.round(y(v)), pw, 1);
    g.fillStyle = DIM;
    g.fillText(`${v}×`, px - 6, y(v) + 4);
  }
  const bw = pw / d.info.algos.length;
  g.textAlign = "center";
  d.info.algos.forEach((algo, i) => {
    const r = d.results.find((x) => x.algo === algo);
    const x0 = px + i * bw + bw * 0.2, w = bw * 0.6;
    g.fillStyle = DIM;
    g.fillText(d.info.names[algo], x0 + w / 2, py + ph + 16);
    if (!r) { g.fillText("…", x0 + w / 2, y(0) - 6); return; }
    g.fillStyle = COLORS[algo];
    g.fillRect(x0, y(speed(r)), w, y(0) - y(speed(r)));
    g.fillStyle = FG;
    g.fillText(`${speed(r).toFixed(2)}×`, x0 + w / 2, y(speed(r)) - 6);
    g.fillStyle = DIM;
    g.fillText(`${r.ms.toFixed(1)} ms`, x0 + w / 2, py + ph + 32);
  });
  g.strokeStyle = TARGET;
  g.setLineDash([6, 4]);
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(px, y(d.info.target));
  g.lineTo(px + pw, y(d.info.target));
  g.stroke();
  g.setLineDash([]);
  g.fillStyle = TARGET;
  g.textAlign = "left";
  g.fillText(`${d.info.target}× Winograd target`, px + 4, y(d.info.target) - 6);
  g.fillStyle = DIM;
  g.fillText("speedup over direct (warm median)", px, H - 6);
  return performance.now() - t0;
}

function table(d) {
  const body = ctx.$("cb-table").querySelector("tbody");
  body.replaceChildren();
  const direct = d.results.find((r) => r.algo === "direct");
  for (const r of d.results) {
    const tr = document.createElement("tr");
    const diff = r.max_abs_diff === null ? "–" : r.max_abs_diff.toExponential(2);
    const cells = [d.info.names[r.algo], r.kernel || "?", `${r.ms.toFixed(2)} ms`,
      direct ? `${(direct.ms / r.ms).toFixed(2)}×` : "–", diff];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    body.append(tr);
  }
}

function show(d) {
  const s = ctx.state.convbench;
  s.last = d;
  s.drawMs.push(draw(d));
  table(d);
  const direct = d.results.find((r) => r.algo === "direct");
  const parts = d.results.map((r) => `${d.info.names[r.algo]} ${r.ms.toFixed(1)} ms` +
    (direct ? ` (${(direct.ms / r.ms).toFixed(2)}×)` : ""));
  const diffs = d.results.filter((r) => r.max_abs_diff !== null).map((r) => r.max_abs_diff);
  const agree = diffs.length ? `; outputs agree with direct to ${Math.max(...diffs).toExponential(1)} (max abs diff)` : "";
  ctx.$("cb-summary").textContent = `${d.done ? "" : "running… "}${d.info.adapter || d.info.backend}: ${parts.join(", ")}${agree}`;
}

export const progress = { convbench: (d) => show(d) };

export async function init(c) {
  ctx = c;
  const { $, state, call, errorAt, clearError, showError } = ctx;
  state.convbench = { last: null, drawMs: [], runs: 0 };
  // the shapes and the adapter (a Python call) when the section comes near or is used (lazy.js)
  whenNear($("convbench"), async () => {
    try {
      const info = await call("cb_info");
      $("cb-shape").replaceChildren(...info.shapes.map((label, i) => {
        const o = document.createElement("option");
        o.value = String(i);
        o.textContent = label;
        return o;
      }));
      $("cb-adapter").textContent = `adapter: ${info.adapter || "?"} (${info.backend})`;
    } catch (e) {
      showError(e);
    }
  });
  $("cb-run").onclick = async () => {
    const runs = Number($("cb-runs").value);
    if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
      errorAt("cb-runs", `runs must be an integer in [1, 50], got ${$("cb-runs").value || "nothing"}`);
      return;
    }
    clearError("cb-runs");
    $("cb-run").disabled = true;
    $("cb-summary").textContent = "running… (first: direct)";
    try {
      await call("cb_start", Number($("cb-shape").value), runs);
      state.convbench.runs += 1;
      clearError("cb-run");
    } catch (e) {
      errorAt("cb-run", e);
    } finally {
      $("cb-run").disabled = false;
    }
  };
}
