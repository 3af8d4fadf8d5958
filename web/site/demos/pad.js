// Digit pad (CNN explorer), main thread: pen input, prediction queue, probabilities.
export const canvases = { pad: "pad-canvas", input: "input-canvas", acts: "acts-canvas" };

export function init(ctx) {
  const { $, state, call, showError } = ctx;
  const pad = $("pad-canvas");
  let drawing = false, last = null, segs = [], flushTimer = null;
  function flushSegs() {
    flushTimer = null;
    if (!segs.length) return;
    const batch = segs;
    segs = [];
    call("pad_stroke", batch, Number($("pad-brush").value)).catch(showError);
  }
  function queueSeg(a, b) {
    segs.push(a[0], a[1], b[0], b[1]);
    if (!flushTimer) flushTimer = setTimeout(flushSegs, 16);
  }
  function pos(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * (280 / r.width), (e.clientY - r.top) * (280 / r.height)];
  }
  // Predictions run one after another; while one runs, later requests share the one queued behind it.
  let predictChain = Promise.resolve(), queuedPredict = null;
  function predict() {
    if (!state.ready) return Promise.resolve(null);
    flushSegs();
    if (queuedPredict) return queuedPredict;
    const p = predictChain.then(async () => {
      queuedPredict = null;
      const out = await call("pad_predict", $("pad-model").value);
      if (!out.empty) showPrediction(out);
      return out;
    }).catch((e) => { showError(`prediction failed: ${ctx.words(e)}`); return null; });
    queuedPredict = p;
    predictChain = p;
    return p;
  }
  function showPrediction(out) {
    state.lastPrediction = out;
    state.predictions = (state.predictions || 0) + 1;
    $("pad-prediction").textContent = `${out.label}  (${(100 * out.probs[out.label]).toFixed(1)}%)`;
    const bars = $("pad-probs");
    bars.textContent = "";
    out.probs.forEach((p, i) => {
      const row = document.createElement("div");
      row.className = "bar" + (i === out.label ? " top" : "");
      row.innerHTML = `<span>${i}</span><i style="width:${(100 * p).toFixed(1)}%"></i>`;
      bars.appendChild(row);
    });
    $("pad-timing").textContent = `prediction ${out.predict_ms.toFixed(2)} ms (forward + readback), ` +
      `preprocess ${out.preprocess_ms.toFixed(1)} ms, Grad-CAM + activations ${out.gradcam_and_draw_ms.toFixed(1)} ms`;
  }
  pad.addEventListener("pointerdown", (e) => {
    if (!state.ready) return;
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    last = pos(e);
    queueSeg(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = pos(e);
    queueSeg(last, p);
    last = p;
  });
  const stop = () => {
    if (!drawing) return;
    drawing = false;
    flushSegs();
    if ($("pad-live").checked) predict();
  };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  $("pad-clear").onclick = () => {
    segs = [];
    call("pad_clear").catch(showError);
    state.lastPrediction = null;
    $("pad-prediction").textContent = "—";
    $("pad-probs").textContent = "";
  };
  window.gpumlPredict = predict;
}
