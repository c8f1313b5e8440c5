// Keeps the participant page usable offline: the page and its files come from the cache when
// the server cannot be reached. API calls and the WebSocket are never cached.
const CACHE = "stresstrack-companion-v2";
const FILES = ["/", "/static/participant.js", "/static/selfreport.js", "/static/style.css"];
self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
// Network first, so a new version of the page arrives as soon as it is online; the cached
// copy when the network fails or takes longer than NETWORK_WAIT_MS (a phone on a poor
// connection, or a server that stopped while a connection to it was still open).
const NETWORK_WAIT_MS = 4000;
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.pathname.startsWith("/api/") || url.pathname === "/ws") return;
  if (!FILES.includes(url.pathname)) return;
  e.respondWith(
    caches.match(e.request).then((cached) => {
      const network = fetch(e.request).then((r) => {
        if (r.ok) {
          const copy = r.clone();
          caches.open(CACHE).then((c) => c.put(e.request, copy));
        }
        return r;
      });
      if (!cached) return network;
      const late = new Promise((resolve) => setTimeout(() => resolve(cached), NETWORK_WAIT_MS));
      return Promise.race([network.catch(() => cached), late]);
    })
  );
});
// A just-in-time prompt's notification opens (or focuses) the participant page.
self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  e.waitUntil(self.clients.matchAll({ type: "window" }).then((list) =>
    list.length ? list[0].focus() : self.clients.openWindow("/")));
});
