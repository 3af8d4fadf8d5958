// k-means animation, main thread: dataset/k/seed controls, Play/Step, the iteration read-out.
export const canvases = { kmeans: "kmeans-canvas" };

let ctx = null;

function onStep(d) {
  const { $, state } = ctx;
  state.kmeans.steps.push(d);
  if (d.done) {
    state.kmeans.done = true;
    state.kmeans.labels = d.labels;
    $("km-play").textContent = "Play";
  }
  const frames = state.kmeans.steps.filter((s) => !s.done && s.step_ms);
  const stepMs = frames.reduce((a, s) => a + s.step_ms + s.draw_ms, 0) / Math.max(frames.length, 1);
  $("km-info").textContent = d.done
    ? `converged after ${d.n_iter} iterations, inertia ${d.inertia.toFixed(2)}; ${stepMs.toFixed(2)} ms per iteration + frame`
    : `iteration ${d.iteration}` + (d.inertia === null ? "" : ` (before: inertia ${d.inertia.toFixed(2)}, shift ` +
      `${d.shift.toExponential(2)})`) + ` — step ${d.step_ms.toFixed(2)} ms, draw ${d.draw_ms.toFixed(2)} ms`;
}

export const progress = {
  kmeans: (d) => onStep(d),
  "kmeans-state": () => { ctx.$("km-play").textContent = "Play"; },
};

export function init(c, ready) {
  ctx = c;
  const { $, state, call, errorAt, clearError } = ctx;
  const sel = $("km-dataset");
  for (const name of ready.build.kmeans_datasets) sel.add(new Option(name, name));
  async function reset() {
    await call("kmeans_pause");
    const ds = $("km-dataset").value, k = Number($("km-k").value), seed = Number($("km-seed").value);
    state.kmeans = { dataset: ds, k, seed, steps: [], done: false, labels: null };
    try {
      await call("kmeans_start", ds, k, seed);
      clearError("km-k");
    } catch (e) {
      errorAt("km-k", e);
      return;
    }
    $("km-info").textContent = `${ds}: 1,000 points, k = ${k}, seed ${seed}`;
    $("km-play").textContent = "Play";
  }
  $("km-reset").onclick = reset;
  $("km-dataset").onchange = reset;
  $("km-k").onchange = reset;
  $("km-seed").onchange = reset;
  $("km-play").onclick = async () => {
    if ($("km-play").textContent === "Pause") {
      await call("kmeans_pause");
      $("km-play").textContent = "Play";
    } else {
      if (state.kmeans.done) await reset();
      $("km-play").textContent = "Pause";
      await call("kmeans_play");
    }
  };
  $("km-step").onclick = async () => {
    await call("kmeans_pause");
    onStep(await call("kmeans_step"));
  };
  window.gpumlKmeansReset = reset;
  reset();
}
