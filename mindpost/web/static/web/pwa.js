/* The installable app on every page: registers the service worker (served at /sw.js, see
   mindpost/web/views/pwa.py) and remembers who recordings made offline belong to. */
(function () {
  "use strict";

  var OWNER_KEY = "mp-owner";
  var meta = document.querySelector('meta[name="mp-user"]');
  var signedIn = meta ? meta.getAttribute("content") || "" : "";
  var offlinePage = !!document.querySelector('meta[name="mp-offline"]');

  // Signed-in pages name their user; the offline page (rendered for nobody) uses the last one seen
  // on this device. Any other signed-out page means sign-out: forget it.
  try {
    if (signedIn) localStorage.setItem(OWNER_KEY, signedIn);
    else if (!offlinePage) localStorage.removeItem(OWNER_KEY);
  } catch (e) { /* storage disabled: recordings then carry no owner */ }

  // Whose queued recordings this page may upload (or tag): "" when unknown.
  window.mpOwner = function () {
    if (signedIn || !offlinePage) return signedIn;
    try { return localStorage.getItem(OWNER_KEY) || ""; } catch (e) { return ""; }
  };

  // Ask the worker for a background sync: where supported, it wakes the open pages to upload
  // as soon as the connection is back, even while the tab sits in the background.
  window.mpRequestSync = function () {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) return registration.sync.register("mp-upload");
    }).catch(function () { return null; });
  };

  if (!("serviceWorker" in navigator)) return;
  var script = document.currentScript;
  var url = (script && script.dataset.swUrl) || "/sw.js";
  window.addEventListener("load", function () {
    navigator.serviceWorker.register(url, { scope: "/" }).catch(function () { return null; });
  });
  navigator.serviceWorker.addEventListener("message", function (event) {
    if (event.data && event.data.type === "mp-flush") window.dispatchEvent(new CustomEvent("mp:flush"));
  });
})();
