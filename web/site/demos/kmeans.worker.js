// k-means demo, worker side: the Play loop (one Lloyd iteration per animation frame) and its benchmarks.
const frame = () => new Promise((r) => (self.requestAnimationFrame ? self.requestAnimationFrame(r) : setTimeout(r, 16)));

export function handlers({ py, post, getJSON, renderer }) {
  const loop = { running: false };

  async function play() {
    let last = performance.now(), waited = 0;
    while (loop.running) {
      const t0 = performance.now();
      const out = await py("kmeans_step");
      const now = performance.now();
      // frame_ms: between consecutive iterations shown; call_ms: the Python call (step + draw + JSPI/JSON);
      // wait_ms: the wait for this animation frame before it
      Object.assign(out, { frame_ms: now - last, call_ms: now - t0, wait_ms: waited });
      last = now;
      post({ type: "progress", name: "kmeans", data: out });
      if (out.done) { loop.running = false; break; }
      const t1 = performance.now();
      await frame();
      waited = performance.now() - t1;
    }
    post({ type: "progress", name: "kmeans-state", data: { running: false } });
  }

  // The animation's sustained rate: `frames` k-means frames paced by requestAnimationFrame exactly as play()
  // paces them, on one dataset, restarting with the next seed whenever a fit converges (intervals that include a
  // restart are left out). Returns the intervals between frames and the Python call time of each.
  async function animBench(dataset, k, frames) {
    const sets = await getJSON("kmeans.json");
    loop.running = false;
    const rows = JSON.stringify(sets[dataset]);
    let seed = 0, restarts = 0, last = null;
    await py("kmeans_start", rows, k, seed);
    await py("kmeans_step"); // compiles the pipelines
    const frameMs = [], callMs = [];
    const t0 = performance.now();
    while (frameMs.length < frames) {
      await frame();
      const t1 = performance.now();
      let out = await py("kmeans_step");
      if (out.done) {
        restarts += 1;
        await py("kmeans_start", rows, k, ++seed);
        out = await py("kmeans_step");
        last = null;
      }
      const now = performance.now();
      if (last !== null) { frameMs.push(now - last); callMs.push(now - t1); }
      last = now;
    }
    return { dataset, k, frames, restarts, wall_ms: performance.now() - t0, frame_ms: frameMs, call_ms: callMs };
  }

  return {
    async kmeans_start([dataset, k, seed]) {
      const sets = await getJSON("kmeans.json");
      loop.running = false;
      return py("kmeans_start", JSON.stringify(sets[dataset]), k, seed);
    },
    kmeans_play() {
      if (!loop.running) { loop.running = true; play(); }
      return { running: true };
    },
    kmeans_pause() {
      loop.running = false;
      return { running: false };
    },
    kmeans_bench([frames]) { return renderer().benchPoints("kmeans", frames || 60); },
    kmeans_anim_bench([dataset, k, frames]) { return animBench(dataset || "blobs", k || 5, frames || 120); },
  };
}
