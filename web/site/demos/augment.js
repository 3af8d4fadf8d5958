// Augmentation demo, main thread: the pipeline builder (steps with sliders, probability, reorder, remove, add),
// the text spec (advanced; both stay in sync: Python parses the spec into steps and writes the spec from them),
// seed, presets, and the download of the shown set (a zip built in the worker). The first gallery is made when the
// section comes near the viewport or is first used (lazy.js), not at page start.
import { whenNear } from "./lazy.js";

export const canvases = { gallery: "gallery-canvas" };

let catalog = [];

function el(tag, props = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) e.append(k);
  return e;
}

const fmt = (v) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));

export function init(ctx) {
  const { $, state, call, errorAt, clearError } = ctx;
  let busy = Promise.resolve();
  const serial = (f) => (busy = busy.then(f, f)); // one pipeline call at a time, in order

  function shown(out) {
    state.augment = out;
    $("aug-spec").value = out.spec;
    clearError("aug-spec");
    renderSteps(out.steps);
    const [, c, h, w] = out.shape;
    $("aug-info").textContent = `original ${out.original.slice(2).join("×")} + ${out.shape[0]} variants ` +
      `${h}×${w}${c === 3 ? " RGB" : ""}, seed ${out.seed}: ${out.spec || "(no transform: copies)"} — ` +
      `${out.ms.toFixed(1)} ms (parameters, kernels, draw)`;
  }

  // The digit number, checked here: Python would slice past the data and fail with a reshape error.
  function digitIndex() {
    const box = $("aug-index"), raw = box.value.trim(), n = Number(raw), max = Number(box.max);
    if (raw !== "" && Number.isInteger(n) && n >= 0 && n <= max) return n;
    throw new Error(`digit # takes a whole number from 0 to ${max}, got ${raw === "" ? "nothing" : raw}`);
  }

  // Run the text spec (the builder follows it). Errors go next to the control that caused them: the digit number,
  // the seed (the model names it), else the spec field.
  const run = () => serial(async () => {
    let index;
    try {
      index = digitIndex();
      clearError("aug-index");
    } catch (e) {
      errorAt("aug-index", e);
      return;
    }
    try {
      shown(await call("augment_run", $("aug-spec").value, Number($("aug-seed").value), $("aug-source").value,
        index));
      clearError("aug-seed");
    } catch (e) {
      if (/'seed'/.test(String((e && e.message) || e))) errorAt("aug-seed", e);
      else errorAt("aug-spec", e);
    }
  });

  // A builder edit; an error goes next to the control that made it.
  const edit = (control, op, index, arg = 0, key = -1) => serial(async () => {
    try {
      shown(await call("augment_edit", op, index, arg, key));
    } catch (e) {
      errorAt(control, e);
    }
  });

  function paramRow(i, k, p, value, disabled) {
    const id = k === null ? `aug-s${i}-prob` : `aug-s${i}-p${k}`;
    const step = p.integer ? 1 : "any";
    const range = el("input", { type: "range", id, min: p.lo, max: p.hi, step, value, disabled });
    const num = el("input", { type: "number", id: `${id}-n`, min: p.lo, max: p.hi, step, value: fmt(value), disabled });
    const name = k === null ? "probability" : p.key === p.unit ? p.key : `${p.key} (${p.unit})`;
    range.setAttribute("aria-label", `step ${i + 1} ${name}`);
    num.setAttribute("aria-label", `step ${i + 1} ${name}, typed`);
    range.oninput = () => { num.value = fmt(Number(range.value)); };
    range.onchange = () => edit(range, "set", i, Number(fmt(Number(range.value))), k === null ? -1 : k);
    num.onchange = () => edit(num, "set", i, num.value.trim() === "" ? NaN : Number(num.value), k === null ? -1 : k);
    return el("div", { className: "aug-param" }, el("span", { className: "aug-pname" }, name), range, num);
  }

  function renderSteps(steps) {
    const focus = document.activeElement && document.activeElement.id;
    const list = $("aug-steps");
    list.replaceChildren();
    steps.forEach((s, i) => {
      const info = catalog.find((c) => c.name === s.name);
      const tools = el("span", { className: "aug-tools" },
        el("button", { textContent: "↑", title: "move up", id: `aug-s${i}-up`, disabled: i === 0,
          onclick: () => edit(`aug-s${i}-up`, "up", i) }),
        el("button", { textContent: "↓", title: "move down", id: `aug-s${i}-down`, disabled: i === steps.length - 1,
          onclick: () => edit(`aug-s${i}-down`, "down", i) }),
        el("button", { textContent: "✕", title: "remove", id: `aug-s${i}-remove`,
          onclick: () => edit(`aug-s${i}-remove`, "remove", i) }));
      for (const b of tools.children) b.setAttribute("aria-label", `${b.title}: step ${i + 1} (${s.name})`);
      const head = el("div", { className: "aug-head" }, el("b", { textContent: `${i + 1}. ${s.name}` }), tools);
      const li = el("li", { className: "aug-step" }, head);
      li.dataset.name = s.name;
      if (s.raw !== undefined || !info) {
        li.append(el("div", { className: "caption", textContent: `${s.raw} — edit it in the text spec` }));
      } else {
        li.append(el("div", { className: "caption", textContent: info.help }));
        info.params.forEach((p, k) => li.append(paramRow(i, k, p, s.values[k], false)));
        if (info.p !== null) {
          li.append(paramRow(i, null, { lo: 0, hi: 1, integer: false }, s.p, false));
        }
        if (s.extra) li.append(el("div", { className: "caption", textContent: `options: ${s.extra}` }));
      }
      list.append(li);
    });
    if (!steps.length) list.append(el("li", { className: "caption", textContent: "No steps: the variants are copies." }));
    if (focus && $(focus)) $(focus).focus();
  }

  async function download() {
    const btn = $("aug-download");
    btn.disabled = true;
    try {
      await busy;
      const out = await call("augment_zip");
      const url = URL.createObjectURL(new Blob([out.bytes], { type: "application/zip" }));
      const a = $("aug-download-link");
      if (a.href) URL.revokeObjectURL(a.href);
      a.href = url;
      a.download = out.name;
      a.textContent = `${out.name} (${(out.bytes.length / 1024).toFixed(1)} kB)`;
      a.hidden = false;
      a.click();
      clearError("aug-download");
    } catch (e) {
      errorAt("aug-download", e);
    } finally {
      btn.disabled = false;
    }
  }

  $("aug-run").onclick = run;
  $("aug-spec").addEventListener("keydown", (e) => { if (e.key === "Enter") run(); });
  $("aug-source").onchange = run;
  $("aug-index").onchange = run;
  $("aug-seed").onchange = run;
  $("aug-new").onclick = () => { $("aug-seed").value = Number($("aug-seed").value) + 1; run(); };
  $("aug-add-btn").onclick = () => edit("aug-add", "add", 0, $("aug-add").value);
  $("aug-download").onclick = download;
  for (const b of document.querySelectorAll("#augment .presets button")) {
    b.onclick = () => { $("aug-spec").value = b.dataset.spec; $("aug-source").value = b.dataset.src; run(); };
  }
  whenNear($("augment"), () => {
    serial(async () => {
      catalog = await call("augment_catalog");
      $("aug-add").replaceChildren(...catalog.map((c) => el("option", { value: c.name, textContent: c.name })));
    });
    run();
  });
}
