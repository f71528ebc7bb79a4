/* MindPost service worker, rendered by mindpost/web/views/pwa.py (CONFIG holds this deploy's
   hashed static URLs). What it keeps: the static app shell and an offline page rendered for nobody
   (fetched without cookies). It never caches API answers or signed-in pages, so nothing of one
   person's is left for the next one to see after sign-out on a shared device. */
"use strict";

var CONFIG = {{ config|safe }};
var CACHE = "mp-shell-" + CONFIG.version;
var HASHED = /\.[0-9a-f]{12}\.[a-z0-9]+$/; // "app.3f2a9c1b7d0e.css": immutable, cache first

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return Promise.all([
        cache.addAll(CONFIG.assets),
        cache.add(new Request(CONFIG.offline, { credentials: "omit" })),
      ]);
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("mp-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && request.mode === "navigate" && url.pathname === CONFIG.share) {
    event.respondWith(takeShare(request));
    return;
  }
  if (request.method !== "GET") return; // uploads, forms and the API go straight to the network
  if (url.pathname.indexOf(CONFIG.staticPrefix) === 0) {
    event.respondWith(HASHED.test(url.pathname) ? cacheFirst(request) : networkFirst(request));
    return;
  }
  // Pages always come from the network, never from a cache; offline, the offline page (and its
  // recorder). While the browser says it is online the worker leaves navigations to the browser
  // (tools that stub page responses, like Playwright's page.route, then still see them); the price
  // is that a connection that claims to be online but fails shows the browser's own error page.
  if (request.mode === "navigate" && !self.navigator.onLine) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(CONFIG.offline, { ignoreVary: true }).then(function (page) {
        return page || Response.error();
      });
    }));
  }
});

function cacheFirst(request) {
  return caches.match(request).then(function (hit) { return hit || fetch(request); });
}

function networkFirst(request) {
  // Unhashed names (development without collectstatic) may change under the same URL.
  return fetch(request).catch(function () {
    return caches.match(request).then(function (hit) { return hit || Response.error(); });
  });
}

// ---- Share target -------------------------------------------------------------------
// The OS posts the shared file here without a CSRF token. It is kept in the recorder's IndexedDB
// queue (same database as static/web/record.js) and /share/ uploads it with the session's token.
var DB_NAME = "mindpost", STORE = "uploads";

function openDb() {
  return new Promise(function (resolve, reject) {
    var request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "id" }); };
    request.onsuccess = function () { resolve(request.result); };
    request.onerror = function () { reject(request.error); };
  });
}

function keep(items) {
  return openDb().then(function (db) {
    return new Promise(function (resolve, reject) {
      var tx = db.transaction(STORE, "readwrite");
      items.forEach(function (item) { tx.objectStore(STORE).put(item); });
      tx.oncomplete = function () { resolve(items.length); };
      tx.onerror = function () { reject(tx.error); };
    });
  });
}

function takeShare(request) {
  return request.formData().then(function (form) {
    var files = form.getAll(CONFIG.shareField).filter(function (file) {
      return file && typeof file === "object" && file.size > 0;
    });
    // No owner: the file goes to whoever is signed in on /share/ (after sign-in, if need be).
    return keep(files.map(function (file) {
      return {
        id: self.crypto.randomUUID(), blob: file, name: file.name || "shared-audio",
        createdAt: Date.now(), seconds: 0, owner: null, shared: true,
      };
    }));
  }).then(function (count) {
    return Response.redirect(CONFIG.share + "?received=" + count, 303);
  }, function () {
    return Response.redirect(CONFIG.share + "?failed=1", 303);
  });
}

// ---- Background sync -----------------------------------------------------------------
// Uploads need the page's CSRF token, so the worker does not upload itself: it wakes the open
// pages, whose recorder flushes its queue (it also does so on "online" and on every load).
self.addEventListener("sync", function (event) {
  if (event.tag !== "mp-upload") return;
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (clients) {
    clients.forEach(function (client) { client.postMessage({ type: "mp-flush" }); });
  }));
});
