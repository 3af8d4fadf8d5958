// Optimizer race, worker side: the Play loop (a slice of steps per animation frame, each slice's new points posted)
// and the surface image: its bytes colored here and sent as an ImageBitmap (the main thread only draws it, scaled
// with smoothing, once per race).
const frame = () => new Promise((r) => (self.requestAnimationFrame ? self.requestAnimationFrame(r) : setTimeout(r, 16)));

const STOPS = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];  // race.js's magma()
const MAGMA = (() => {  // byte -> RGBA
  const lut = new Uint8ClampedArray(256 * 4);
  for (let v = 0; v < 256; v++) {
    const x = (v / 255) * (STOPS.length - 1), i = Math.min(Math.floor(x), STOPS.length - 2), f = x - i;
    for (let k = 0; k < 3; k++) lut[4 * v + k] = STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f;
    lut[4 * v + 3] = 255;
  }
  return lut;
})();

function surfaceBitmap(b64, n) {
  const bin = atob(b64), img = new ImageData(n, n), d = img.data;
  for (let k = 0; k < n * n; k++) {
    const v = 4 * bin.charCodeAt(k);
    d[4 * k] = MAGMA[v]; d[4 * k + 1] = MAGMA[v + 1]; d[4 * k + 2] = MAGMA[v + 2]; d[4 * k + 3] = 255;
  }
  return createImageBitmap(img);
}

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
      const out = await py("race_setup", surface, lrScale);
      if (typeof createImageBitmap === "function") {
        out.image = await surfaceBitmap(out.background, out.grid);
        delete out.background;
      }
      return out;
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
