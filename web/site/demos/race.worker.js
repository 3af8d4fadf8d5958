// Optimizer race, worker side: the Play loop (a slice of steps per animation frame, each slice's new points posted).
const frame = () => new Promise((r) => (self.requestAnimationFrame ? self.requestAnimationFrame(r) : setTimeout(r, 16)));

export function handlers({ py, post }) {
  const loop = { running: false };

  async function play() {
    while (loop.running) {
      const out = await py("race_steps", 50, 40);
      post({ type: "progress", name: "race", data: out });
      if (out.finished) break;
      await frame();
    }
    loop.running = false;
    post({ type: "progress", name: "race-state", data: { running: false } });
  }

  return {
    async race_setup([surface, lrScale]) {
      loop.running = false;
      return py("race_setup", surface, lrScale);
    },
    async race_set([name, value]) {
      loop.running = false;
      return py("race_set", name, value);
    },
    race_play() {
      if (!loop.running) { loop.running = true; play(); }
      return { running: true };
    },
    race_pause() {
      loop.running = false;
      return { running: false };
    },
    async race_step() {
      loop.running = false;
      return py("race_steps", 1, 1000);
    },
  };
}
