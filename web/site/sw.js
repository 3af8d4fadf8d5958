// Service worker: caches the whole built site (Pyodide, the gpuml wheel, the model, data, page files) so the
// page works offline after the first load. The build writes its version below; a new build gets a new cache.
const VERSION = "__BUILD_VERSION__";
const CACHE = `gpuml-web-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const info = await (await fetch("./build-info.json", { cache: "no-cache" })).json();
    const cache = await caches.open(CACHE);
    await cache.addAll(["./", ...info.files.map((f) => `./${f}`), "./sw.js"]);
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
