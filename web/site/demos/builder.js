// Architecture builder, main thread: the layer rows (type, its settings, ↑ ↓ ✕), "add layer", each row's output
// shape and parameter count from the worker after every edit (an invalid stack is explained next to the row that
// breaks it), Train (a short run on MNIST, progress and the final test accuracy), Export (a gpuml model file as a
// download, which `gpuml predict model.npz digit.png` reads natively) and the page's prediction for a test digit.
import { whenNear } from "./lazy.js";

export const canvases = {};

const TYPES = ["conv", "pool", "fc", "relu", "tanh", "sigmoid", "gelu", "leakyrelu", "dropout", "bn", "flatten"];
const DEFAULTS = {
  conv: { out: 8, k: 3, stride: 1, pad: 1 }, pool: { mode: "max", k: 2 }, fc: { out: 10 }, dropout: { rate: 0.25 },
};
const FIELDS = {  // name: [label, min, max, step]
  out: ["outputs", 1, 512, 1], k: ["size", 1, 11, 1], stride: ["stride", 1, 4, 1], pad: ["pad", 0, 5, 1],
  rate: ["rate", 0, 0.95, 0.05],
};
const START = [
  { type: "conv", out: 8, k: 3, stride: 1, pad: 1 }, { type: "relu" }, { type: "pool", mode: "max", k: 2 },
  { type: "conv", out: 16, k: 3, stride: 1, pad: 1 }, { type: "relu" }, { type: "pool", mode: "max", k: 2 },
  { type: "flatten" }, { type: "fc", out: 10 },
];

let ctx = null;
let seq = 0;  // the latest analysis wins (edits can outrun the worker)

function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function rowControls(li, layer, i) {
  const type = el("select", { id: `builder-type-${i}`, "aria-label": `layer ${i + 1} type` });
  for (const t of TYPES) type.append(el("option", { value: t }, t));
  type.value = layer.type;
  type.onchange = () => { ctx.state.builder.stack[i] = { type: type.value, ...(DEFAULTS[type.value] || {}) }; edit(); };
  li.append(el("span", { class: "builder-num" }, `${i + 1}`), type);
  if (layer.type === "pool") {
    const mode = el("select", { id: `builder-${i}-mode`, "aria-label": `layer ${i + 1} pooling` });
    for (const m of ["max", "avg"]) mode.append(el("option", { value: m }, m));
    mode.value = layer.mode || "max";
    mode.onchange = () => { layer.mode = mode.value; edit(); };
    li.append(mode);
  }
  for (const key of Object.keys(DEFAULTS[layer.type] || {})) {
    if (key === "mode") continue;
    const [label, min, max, step] = FIELDS[key];
    const input = el("input", { id: `builder-${i}-${key}`, type: "number", min, max, step, "aria-label": `layer ${i + 1} ${label}` });
    input.value = layer[key];
    input.onchange = () => { layer[key] = input.value === "" ? null : Number(input.value); edit(); };
    const lab = el("label", {}, `${label} `);
    lab.append(input);
    li.append(lab);
  }
  const n = ctx.state.builder.stack.length;
  for (const [sym, what, delta, off] of [["↑", "up", -1, i === 0], ["↓", "down", 1, i === n - 1], ["✕", "remove", 0, false]]) {
    const b = el("button", { id: `builder-${what}-${i}`, "aria-label": `${what === "remove" ? "remove" : `move ${what}`} layer ${i + 1}` }, sym);
    b.disabled = off;
    b.onclick = () => {
      const s = ctx.state.builder.stack;
      if (!delta) s.splice(i, 1); else [s[i], s[i + delta]] = [s[i + delta], s[i]];
      edit();
    };
    li.append(b);
  }
  li.append(el("span", { id: `builder-out-${i}`, class: "builder-out" }, "…"));
}

function render() {
  const list = ctx.$("builder-stack");
  list.replaceChildren();
  ctx.state.builder.stack.forEach((layer, i) => {
    const li = el("li", { class: "builder-row", id: `builder-row-${i}` });
    rowControls(li, layer, i);
    list.append(li);
  });
}

function show(a) {
  const { $, state, errorAt } = ctx;
  const b = state.builder;
  b.analysis = a;
  b.analyses += 1;
  a.rows.forEach((r, i) => {
    const out = $(`builder-out-${i}`);
    if (!out) return;
    out.textContent = r.shape ? `→ ${r.shape} · ${r.params.toLocaleString()} params` : r.error ? "✗" : "(not reached)";
    if (r.error) errorAt(out, r.error);
  });
  for (let i = a.rows.length; $(`builder-out-${i}`); i++) $(`builder-out-${i}`).textContent = "· not computed (a layer above does not fit)";
  const last = a.rows.length ? $(`builder-out-${a.rows.length - 1}`) : null;
  const tail = a.errors.find((e) => !a.rows.some((r) => r.error === e));
  if (tail) errorAt(last || "builder-add", tail);
  $("builder-summary").textContent = a.ok
    ? `input ${a.input} → 10 class scores · ${a.params.toLocaleString()} parameters · spec: ${a.spec}`
    : `cannot train this stack: ${a.errors[0]}`;
  $("builder-train").disabled = !a.ok || b.training;
}

async function edit() {
  const { state, call, showError, clearError } = ctx;
  render();
  clearError("builder-add");
  const mine = ++seq;
  try {
    const a = await call("builder_analyze", JSON.stringify(state.builder.stack));
    if (mine === seq) show(a);
  } catch (e) {
    showError(e);
  }
  state.builder.exported = null;
}

export const progress = {
  builder: (d) => {
    const s = ctx.$("builder-train-status");
    if (d.setup && d.step === undefined) {
      s.textContent = `training on ${d.setup.n_train.toLocaleString()} MNIST images (${d.setup.parameters.toLocaleString()} parameters)…`;
      return;
    }
    ctx.state.builder.progress.push(d);
    const acc = d.test_acc !== null && d.test_acc !== undefined ? ` · test accuracy ${(100 * d.test_acc).toFixed(1)}%` : "";
    s.textContent = `step ${d.step} of ${d.steps} · loss ${d.loss.toFixed(3)} · batch accuracy ${(100 * d.batch_acc).toFixed(0)}%${acc}`;
    ctx.$("builder-bar").value = d.step / d.steps;
  },
};

export function init(c) {
  ctx = c;
  const { $, state, call, errorAt, clearError } = ctx;
  state.builder = { stack: START.map((l) => ({ ...l })), analysis: null, analyses: 0, progress: [], training: false,
    result: null, exported: null, prediction: null };
  const add = $("builder-add-type");
  for (const t of TYPES) add.append(el("option", { value: t }, t));
  add.value = "conv";
  $("builder-add").onclick = () => {
    const s = state.builder.stack;
    // image layers go before the first flatten / fc, the rest before the final fc (the classifier stays last)
    const head = s.findIndex((l) => l.type === "flatten" || l.type === "fc");
    const last = s.length && s[s.length - 1].type === "fc" ? s.length - 1 : s.length;
    const at = ["conv", "pool", "bn"].includes(add.value) && head >= 0 ? head : last;
    s.splice(at, 0, { type: add.value, ...(DEFAULTS[add.value] || {}) });
    edit();
  };
  $("builder-reset").onclick = () => { state.builder.stack = START.map((l) => ({ ...l })); edit(); };
  $("builder-train").onclick = async () => {
    const steps = Number($("builder-steps").value);
    if (!Number.isInteger(steps) || steps < 1 || steps > 2000) {
      errorAt("builder-steps", `steps must be an integer in [1, 2000], got ${$("builder-steps").value || "nothing"}`);
      return;
    }
    clearError("builder-steps");
    state.builder.training = true;
    state.builder.progress = [];
    $("builder-train").disabled = true;
    $("builder-export").disabled = $("builder-predict").disabled = true;
    try {
      const r = await call("builder_train", JSON.parse(JSON.stringify(state.builder.stack)), steps, 5);
      state.builder.result = r;
      $("builder-train-status").textContent = `trained ${r.step} steps · loss ${r.loss.toFixed(3)} · ` +
        `test accuracy ${(100 * r.test_acc).toFixed(1)}% (${r.setup.n_test.toLocaleString()} test images)`;
      $("builder-export").disabled = $("builder-predict").disabled = false;
      clearError("builder-train");
    } catch (e) {
      errorAt("builder-train", e);
    } finally {
      state.builder.training = false;
      $("builder-train").disabled = !(state.builder.analysis && state.builder.analysis.ok);
    }
  };
  $("builder-export").onclick = async () => {
    try {
      const r = await call("builder_export");
      const bytes = Uint8Array.from(atob(r.b64), (ch) => ch.charCodeAt(0));
      const link = $("builder-download");
      if (link.href) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
      link.download = r.name;
      link.textContent = `download ${r.name} (${(r.bytes / 1024).toFixed(1)} KiB)`;
      link.hidden = false;
      state.builder.exported = { name: r.name, bytes: r.bytes };
      clearError("builder-export");
    } catch (e) {
      errorAt("builder-export", e);
    }
  };
  $("builder-predict").onclick = async () => {
    const i = Number($("builder-digit").value);
    const n = state.builder.result ? state.builder.result.setup.n_test : 512;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      errorAt("builder-digit", `test digit must be an integer in [0, ${n - 1}], got ${$("builder-digit").value || "nothing"}`);
      return;
    }
    try {
      const p = await call("builder_predict", i);
      state.builder.prediction = p;
      $("builder-prediction").textContent = `test digit #${p.index}: the page's model says ${p.class} ` +
        `(p = ${p.p.toFixed(3)}); its label is ${p.label}`;
      clearError("builder-digit");
    } catch (e) {
      errorAt("builder-digit", e);
    }
  };
  // the first analysis (a Python call and the stack's rows) when the section comes near or is used (lazy.js)
  whenNear($("builder"), edit);
}
