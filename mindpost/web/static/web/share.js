/* /share/: upload what the service worker kept from a share (static/web/record.js's IndexedDB queue,
   items marked `shared`) with this session's CSRF token, then open the new note. */
(function () {
  "use strict";

  var box = document.getElementById("share-box");
  if (!box || !window.mpUploadQueue) return;
  var queue = window.mpUploadQueue;
  var status = document.getElementById("share-status");
  var errorBox = document.getElementById("share-error");

  function say(text) { status.textContent = text; }
  function fail(text) { errorBox.textContent = text; errorBox.hidden = false; }

  // Resolves with the new note's URL (the view answers 303 to it); rejects with {message, keep}.
  function upload(item) {
    var form = new FormData();
    form.append("audio", item.blob, item.name);
    return fetch(box.dataset.shareUrl, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRFToken": window.mpCsrf(), "Idempotency-Key": item.id },
    }).then(function (response) {
      if (response.redirected && response.url.indexOf("/accounts/login/") >= 0) {
        window.location.assign(response.url); // signed out meanwhile: sign in, then back here
        return new Promise(function () { return null; });
      }
      if (response.ok && response.redirected) return response.url;
      return response.json().catch(function () { return {}; }).then(function (body) {
        var keep = response.status >= 500 || response.status === 429;
        throw { message: window.mpBusyMessage(response.status, body.code) || body.detail || "The upload failed (" + response.status + ").", keep: keep };
      });
    }, function () {
      throw { message: "You seem to be offline. The recording is kept on this device: open this page again when you are back online.", keep: true };
    });
  }

  queue.all().then(function (items) {
    var shared = items.filter(function (item) { return item.shared; });
    if (!shared.length) {
      say("There is no shared recording waiting here.");
      return;
    }
    say(shared.length === 1 ? "Uploading the shared recording…" : "Uploading " + shared.length + " shared recordings…");
    var urls = [];
    return shared.reduce(function (chain, item) {
      return chain.then(function () {
        return upload(item).then(function (url) {
          urls.push(url);
          return queue.remove(item.id);
        }, function (failure) {
          fail((item.name ? item.name + ": " : "") + failure.message);
          if (!failure.keep) return queue.remove(item.id);
        });
      });
    }, Promise.resolve()).then(function () {
      if (!urls.length) { say("Nothing was added."); return; }
      say("Added. Opening your note…");
      if (errorBox.hidden) window.location.replace(urls.length === 1 ? urls[0] : box.dataset.notesUrl);
    });
  }, function () { fail("This browser keeps no shared files (storage is turned off)."); });
})();
