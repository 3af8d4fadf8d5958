// Augmentation gallery, main thread: source, text spec, seed, presets.
export const canvases = { gallery: "gallery-canvas" };

export function init(ctx) {
  const { $, state, call, errorAt, clearError } = ctx;
  async function run() {
    try {
      const out = await call("augment_run", $("aug-spec").value, Number($("aug-seed").value), $("aug-source").value);
      clearError("aug-spec");
      state.augment = out;
      $("aug-info").textContent = `${out.shape.join(" × ")} in ${out.ms.toFixed(1)} ms (upload, parameters, kernels, draw)`;
    } catch (e) {
      errorAt("aug-spec", e);
    }
  }
  $("aug-run").onclick = run;
  for (const b of document.querySelectorAll("#augment .presets button")) {
    b.onclick = () => { $("aug-spec").value = b.dataset.spec; $("aug-source").value = b.dataset.src; run(); };
  }
  run();
}
