// A demo's first GPU work starts when its section first comes near the viewport (half a viewport away) or on the
// first interaction with it (pointer, key, focus), whichever comes first, and not at page start, where it would
// compete with the digit pad's background WebGPU compiles and the first visit's start-up. Returns `go` (starts it
// now; later calls do nothing).
export function whenNear(section, start, rootMargin = "50% 0px") {
  const EVENTS = ["pointerdown", "keydown", "focusin"];
  let done = false, io = null;
  const go = () => {
    if (done) return;
    done = true;
    if (io) io.disconnect();
    for (const t of EVENTS) section.removeEventListener(t, go, true);
    start();
  };
  for (const t of EVENTS) section.addEventListener(t, go, true);
  if ("IntersectionObserver" in window) {
    io = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) go(); }, { rootMargin });
    io.observe(section);
  } else {
    go();
  }
  return go;
}
