// The demo shop's service worker: the preference centre opens without a
// network, so that a visitor can still make choices offline (the SDK keeps
// them in IndexedDB and sends them when the browser is back online).
//
// Network first, always: online, every page comes from the gate, filtered
// for the visitor's current decision. Only when the network fails does a
// page of the offline set come from the cache. That set is the preference
// centre and the scripts and styles it needs, never a shop page, so a stale
// personalised page can never be shown after a withdrawal. The API (/v1/),
// the gate's own routes (/__sg/) and the keys are never cached.
const CACHE = "trailhead-offline-1";
const OFFLINE = [
  "/preferences",
  "/shop/shop.css", "/shop/site.mjs", "/shop/words.mjs", "/shop/preferences.mjs",
  "/sdk/signalgate.mjs",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(OFFLINE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !OFFLINE.includes(url.pathname)) return;
  event.respondWith((async () => {
    try {
      const fresh = await fetch(event.request);
      if (fresh.ok) {
        const copy = fresh.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.pathname, copy)));
      }
      return fresh;
    } catch (e) {
      const cached = await caches.match(url.pathname, { cacheName: CACHE });
      if (cached) return cached;
      throw e;
    }
  })());
});
