// k-means demo, worker side: the Play loop (k-means++ seeding one centre per step, then Lloyd iterations, at the
// user's steps per second), the elbow/silhouette sweep (one k per Python call, interleaved with the animation) and
// the benchmarks.
const frame = () => new Promise((r) => (self.requestAnimationFrame ? self.requestAnimationFrame(r) : setTimeout(r, 16)));

export function handlers({ py, post, getJSON, renderer }) {
  // ticks: the Play loop's animation frames since the last start (interval since the previous tick, Python time)
  const loop = { running: false, speed: 5, sweepId: 0, ticks: [], slices: 0 };

  // Every animation frame is a tick; a step is due every 1/speed s (at most one per tick). A tick's interval is
  // the frame time the worker loop sees: it includes any Python call (a step, a sweep slice) that ran before it.
  async function play() {
    let last = performance.now(), budget = 1, lastStep = last;
    while (loop.running) {
      const t0 = performance.now();
      const interval = t0 - last;
      last = t0;
      budget = Math.min(budget + (interval / 1000) * loop.speed, 1);
      let callMs = 0;
      if (budget >= 1) {
        budget -= 1;
        const out = await py("kmeans_step");
        const now = performance.now();
        callMs = now - t0;
        // frame_ms: between consecutive steps shown; call_ms: the Python call (step + draw + JSPI/JSON)
        Object.assign(out, { frame_ms: now - lastStep, call_ms: callMs, tick_ms: interval });
        lastStep = now;
        post({ type: "progress", name: "kmeans", data: out });
        if (out.done) { loop.running = false; }
      }
      loop.ticks.push({ interval_ms: interval, call_ms: callMs, slices: loop.slices }); // slices: sweep slices so far
      if (loop.ticks.length > 5000) loop.ticks.shift();
      if (loop.running) await frame();
    }
    post({ type: "progress", name: "kmeans-state", data: { running: false } });
  }

  // The elbow/silhouette sweep: k = 2..10 in short Python slices (a run's seeding, ~20 ms of Lloyd iterations, the
  // silhouette), one per animation frame. While Play runs, the sweep waits: a slice can take far longer than a
  // frame (a new k compiles its pipelines), and the animation's frames come first. A newer sweep ends this one.
  async function sweep(id) {
    while (id === loop.sweepId) {
      await frame();
      while (loop.running && id === loop.sweepId) await frame();
      if (id !== loop.sweepId) break;
      const out = await py("kmeans_sweep_slice");
      loop.slices += 1;
      if (id !== loop.sweepId) break;
      post({ type: "progress", name: "kmeans-sweep", data: out });
      if (out.done) break;
    }
  }

  // The animation's sustained rate: `frames` k-means frames paced by requestAnimationFrame, one Lloyd iteration
  // each (the seeding is stepped through first, outside the timing), on one dataset, restarting with the next seed
  // whenever a fit converges (intervals that include a restart are left out). Returns the intervals between frames
  // and the Python call time of each.
  async function animBench(dataset, k, frames) {
    const sets = await getJSON("kmeans.json");
    loop.running = false;
    const rows = JSON.stringify(sets[dataset]);
    let seed = 0, restarts = 0, last = null;
    const start = async (s) => {
      await py("kmeans_start", rows, k, s);
      for (let j = 1; j < k; j++) await py("kmeans_step"); // the seeding steps
    };
    await start(seed);
    await py("kmeans_step"); // compiles the pipelines
    const frameMs = [], callMs = [];
    const t0 = performance.now();
    while (frameMs.length < frames) {
      await frame();
      const t1 = performance.now();
      let out = await py("kmeans_step");
      if (out.done) {
        restarts += 1;
        await start(++seed);
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
      if (!loop.running) { loop.running = true; loop.ticks = []; play(); }
      return { running: true };
    },
    kmeans_pause() {
      loop.running = false;
      return { running: false };
    },
    kmeans_speed([stepsPerSecond]) {
      if (!(stepsPerSecond > 0 && stepsPerSecond <= 60)) throw new Error(`speed takes steps per second in (0, 60], got ${stepsPerSecond}`);
      loop.speed = stepsPerSecond;
      return { speed: loop.speed };
    },
    async kmeans_sweep([dataset, seed]) {
      const sets = await getJSON("kmeans.json");
      const id = ++loop.sweepId;
      const info = await py("kmeans_sweep_start", JSON.stringify(sets[dataset]), seed);
      sweep(id).catch((e) =>
        post({ type: "progress", name: "kmeans-sweep", data: { error: String((e && e.message) || e) } }));
      return info;
    },
    kmeans_ticks() { return loop.ticks; },
    kmeans_bench([frames]) { return renderer().benchPoints("kmeans", frames || 60); },
    kmeans_anim_bench([dataset, k, frames]) { return animBench(dataset || "blobs", k || 5, frames || 120); },
  };
}
