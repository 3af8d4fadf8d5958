// Service worker: caches the built site (Pyodide, the gpuml wheel, the model, data, page files) so the page works
// offline after the first load; files the build marks lazy (the training set) are cached when first fetched.
// The build writes its version below; a new build gets a new cache. The page's worker keeps its Pyodide memory
// snapshot in this cache too (snapshot.js), so it goes with the build it was made from.
const VERSION = "__BUILD_VERSION__";
const CACHE = `gpuml-web-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const info = await (await fetch("./build-info.json", { cache: "no-cache" })).json();
    const cache = await caches.open(CACHE);
    const lazy = new Set(info.lazy || []); // fetched (and cached below) when first needed, e.g. training data
    await cache.addAll(["./", ...info.files.filter((f) => !lazy.has(f)).map((f) => `./${f}`), "./sw.js"]);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(event.request);
    if (response.ok) cache.put(event.request, response.clone());
    return response;
  })());
});
