/* Record page: MediaRecorder with a level meter, preview, and an IndexedDB queue so a
   recording that could not be uploaded (offline, server error) is kept and retried. */
(function () {
  "use strict";

  // ---- IndexedDB queue ---------------------------------------------------------------
  var DB_NAME = "mindpost", STORE = "uploads";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "id" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  function withStore(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  var queue = {
    put: function (item) { return withStore("readwrite", function (s) { return s.put(item); }); },
    remove: function (id) { return withStore("readwrite", function (s) { return s.delete(id); }); },
    all: function () { return withStore("readonly", function (s) { return s.getAll(); }); },
  };
  window.mpUploadQueue = queue;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "r-" + Date.now() + "-" + Math.random().toString(16).slice(2);
  }

  function pickMimeType() {
    var types = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
    for (var i = 0; i < types.length; i++) {
      if (window.MediaRecorder && MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return "";
  }
  function extensionFor(type) {
    if (type.indexOf("ogg") >= 0) return "ogg";
    if (type.indexOf("mp4") >= 0) return "m4a";
    if (type.indexOf("wav") >= 0) return "wav";
    if (type.indexOf("mpeg") >= 0) return "mp3";
    return "webm";
  }

  // One upload at a time, with progress; resolves with the server's JSON, rejects with
  // {message, keep}: keep=false for answers that retrying cannot fix (too long, limit reached).
  function send(item, url, onProgress) {
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      form.append("audio_file", item.blob, item.name);
      form.append("client_id", item.id);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", window.mpCsrf());
      xhr.setRequestHeader("Idempotency-Key", item.id);
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable && onProgress) onProgress(Math.round((100 * event.loaded) / event.total));
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
        var retryable = xhr.status >= 500 || xhr.status === 429 || xhr.status === 408;
        var message = window.mpBusyMessage(xhr.status, body.code) || body.detail || "The upload failed (" + xhr.status + ").";
        reject({ message: message, keep: retryable, code: body.code });
      };
      xhr.onerror = function () {
        reject({ message: "You seem to be offline. The recording is saved on this device and will upload by itself.", keep: true, offline: true });
      };
      xhr.send(form);
    });
  }

  // Who this page's recordings belong to (static/web/pwa.js): "" when unknown.
  function owner() { return window.mpOwner ? window.mpOwner() : ""; }
  // A queued recording is uploaded only by a page of the person who made it, so on a shared
  // device it never lands in the account of whoever signs in next. Items without an owner (made
  // signed out, or shared into the app) go to whoever is signed in.
  function mine(item) { return !item.owner || item.owner === owner(); }

  var flushing = false;
  function flushQueue(url, onDone) {
    if (flushing || !navigator.onLine) return Promise.resolve();
    flushing = true;
    return queue.all().then(function (items) {
      return items.filter(mine).reduce(function (chain, item) {
        return chain.then(function () {
          return send(item, url).then(function (body) {
            return queue.remove(item.id).then(function () { if (onDone) onDone(item, body, null); });
          }, function (failure) {
            if (!failure.keep) return queue.remove(item.id).then(function () { if (onDone) onDone(item, null, failure); });
            if (onDone) onDone(item, null, failure);
          });
        });
      }, Promise.resolve());
    }).finally(function () { flushing = false; });
  }

  // The record page follows the saved note through the worker's stages (views/record.py note_progress).
  var POLL_MS = 1000;
  var ANNOUNCE = {
    uploaded: function () { return "Saved. Waiting to be transcribed."; },
    transcribing: function () { return "Transcribing…"; },
    indexing: function () { return "Transcribed. Indexing it for search…"; },
    ready: function (title) { return "Your note is ready" + (title ? ": " + title : "") + "."; },
    failed: function () { return "Processing failed. Open the note to try again."; },
  };
  // Every stage the page showed, in order (read by the browser tests, handy when debugging).
  window.mpRecordStages = [];

  // Focus `id` once Alpine has shown it (x-show): focusing a hidden element does nothing, and
  // the Stop button that had focus is disabled by then, so focus would fall to <body>.
  function focusById(id, tries) {
    var el = document.getElementById(id);
    if (!el) return;
    if (el.getClientRects().length) el.focus();
    if (document.activeElement !== el && (tries || 0) < 40) {
      setTimeout(function () { focusById(id, (tries || 0) + 1); }, 25);
    }
  }

  function register(Alpine) {
    Alpine.data("recorder", function () {
      return {
        state: "idle", // idle | recording | recorded | uploading
        elapsed: 0,
        level: 0,
        progress: 0,
        previewUrl: "",
        error: "",
        savedUrl: "",
        pending: 0,
        maxSeconds: 600,
        allowed: true,
        blob: null,
        saveOnStop: false,
        announcement: "",
        progressUrl: "",
        noteStatus: "",
        lastStage: "",
        pollGen: 0,
        init: function () {
          var el = this.$el;
          this.uploadUrl = el.dataset.uploadUrl;
          this.maxSeconds = parseInt(el.dataset.maxSeconds, 10) || 600;
          this.allowed = el.dataset.allowed !== "false";
          this.saveOnStop = el.dataset.saveOnStop === "true";
          // The offline page only queues: it is rendered for nobody, so the record page (signed in)
          // does the uploading once the connection is back.
          this.queueOnly = el.dataset.queueOnly === "true";
          this.onlineUrl = el.dataset.onlineUrl || "";
          var self = this;
          this.refreshPending();
          window.addEventListener("online", function () { self.wentOnline = true; self.retryQueued(); });
          window.addEventListener("mp:flush", function () { self.retryQueued(); }); // background sync
          this.retryTimer = setInterval(function () { self.retryQueued(); }, 20000);
          this.retryQueued();
          window.mpRecorder = this;
        },
        get isRecording() { return this.state === "recording"; },
        get isUploading() { return this.state === "uploading"; },
        // With "save when I stop" the recording goes straight up: no preview unless that upload is refused.
        get hasPreview() {
          return this.state === "recorded" || (this.state === "uploading" && !!this.previewUrl && !this.saveOnStop);
        },
        get showStatus() { return this.isUploading || !!this.progressUrl; },
        get statusTitle() {
          if (this.isUploading) return "Saving your note";
          if (this.noteStatus === "ready") return "Your note is ready";
          if (this.noteStatus === "failed") return "Processing failed";
          return "Processing your note";
        },
        get cannotRecord() { return !this.allowed || this.state === "uploading" || this.state === "recorded"; },
        get clock() { return window.mpClock(this.elapsed); },
        get maxClock() { return window.mpClock(this.maxSeconds); },
        get levelStyle() { return "width:" + this.level + "%"; },
        get buttonLabel() { return this.isRecording ? "Stop recording" : "Start recording"; },
        get buttonClass() { return this.isRecording ? "bg-red-600 hover:bg-red-700 animate-pulse" : "bg-brand-600 hover:bg-brand-700"; },
        get queued() { return this.pending > 0; },
        get queuedText() {
          return "Saved offline: " + this.pending + (this.pending === 1 ? " recording is" : " recordings are") +
            " saved on this device and will upload when the connection is back.";
        },
        get hint() {
          if (!this.allowed) return "Recording is not available on your plan right now.";
          if (this.isRecording) return "Recording… press the button again to stop.";
          if (this.state === "recorded") return "Play it back, then save or discard it.";
          if (this.saveOnStop) return "Press the button and start talking. Press again to stop: the note saves itself.";
          return "Press the button and start talking. Press again to stop.";
        },
        refreshPending: function () {
          var self = this;
          return queue.all().then(function (items) { self.pending = items.filter(mine).length; }, function () { self.pending = 0; });
        },
        toggle: function () {
          if (this.isRecording) this.stop(); else this.start();
        },
        start: function () {
          var self = this;
          this.error = "";
          this.savedUrl = "";
          this.stopTracking();
          if (!navigator.mediaDevices || !window.MediaRecorder) {
            this.error = "This browser cannot record audio. Upload a file or type your note instead.";
            return;
          }
          navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
            self.stream = stream;
            var type = pickMimeType();
            var recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
            self.chunks = [];
            recorder.ondataavailable = function (e) { if (e.data && e.data.size) self.chunks.push(e.data); };
            recorder.onstop = function () { self.finish(recorder.mimeType || type || "audio/webm"); };
            self.recorder = recorder;
            recorder.start(1000);
            self.state = "recording";
            self.announcement = "Recording. Press the button again to stop.";
            self.startedAt = Date.now();
            self.elapsed = 0;
            self.timer = setInterval(function () {
              self.elapsed = (Date.now() - self.startedAt) / 1000;
              if (self.elapsed >= self.maxSeconds) self.stop();
            }, 200);
            self.meter(stream);
          }, function (err) {
            self.error = err && err.name === "NotAllowedError"
              ? "MindPost needs permission to use your microphone. Allow it in the browser's address bar and try again."
              : "No microphone could be opened. Upload a file or type your note instead.";
          });
        },
        meter: function (stream) {
          var self = this;
          try {
            var AudioCtx = window.AudioContext || window.webkitAudioContext;
            this.audioCtx = new AudioCtx();
            var analyser = this.audioCtx.createAnalyser();
            analyser.fftSize = 512;
            this.audioCtx.createMediaStreamSource(stream).connect(analyser);
            var data = new Uint8Array(analyser.fftSize);
            var tick = function () {
              if (self.state !== "recording") { self.level = 0; return; }
              analyser.getByteTimeDomainData(data);
              var peak = 0;
              for (var i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i] - 128));
              self.level = Math.min(100, Math.round((peak / 128) * 140));
              requestAnimationFrame(tick);
            };
            tick();
          } catch (e) { this.level = 0; }
        },
        stop: function () {
          if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
          clearInterval(this.timer);
        },
        finish: function (type) {
          if (this.stream) this.stream.getTracks().forEach(function (t) { t.stop(); });
          if (this.audioCtx) this.audioCtx.close();
          this.blob = new Blob(this.chunks, { type: type.split(";")[0] });
          this.type = type;
          if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
          this.previewUrl = URL.createObjectURL(this.blob);
          this.state = "recorded";
          if (this.saveOnStop) {
            this.announcement = "Recording stopped. Saving it…";
            this.save();
            return;
          }
          this.announcement = "Recording stopped at " + this.clock + ". Listen to it, then save or discard it.";
          // Focus follows the next step instead of falling to <body> with the hidden Stop icon.
          this.$nextTick(function () { focusById("save-note-button"); });
        },
        discard: function () {
          this.clearPreview();
          this.announcement = "Recording discarded.";
          this.$nextTick(function () { focusById("record-button"); });
        },
        clearPreview: function () {
          if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
          this.previewUrl = "";
          this.blob = null;
          this.elapsed = 0;
          this.state = "idle";
        },
        save: function () {
          if (!this.blob) return;
          var item = {
            id: newId(), blob: this.blob, name: "recording-" + new Date().toISOString().replace(/[:.]/g, "-") + "." + extensionFor(this.type || ""),
            createdAt: Date.now(), seconds: this.elapsed, owner: owner() || null,
          };
          this.enqueueAndSend(item);
        },
        // Files go through the same queue as recordings.
        saveFile: function (file) {
          this.error = "";
          this.savedUrl = "";
          this.stopTracking();
          this.enqueueAndSend({ id: newId(), blob: file, name: file.name || "upload", createdAt: Date.now(), seconds: 0, owner: owner() || null });
        },
        enqueueAndSend: function (item) {
          var self = this;
          this.state = "uploading";
          this.progress = 0;
          this.error = "";
          this.announcement = "Uploading your recording…";
          this.$nextTick(function () { focusById("record-status"); });
          // Kept on the device first, so nothing is lost if the tab closes mid-upload.
          queue.put(item).catch(function () { return null; }).then(function () {
            if (self.queueOnly) throw { keep: true, offline: true };
            return send(item, self.uploadUrl, function (p) { self.progress = p; });
          }).then(function (body) {
            queue.remove(item.id);
            self.progress = 100;
            self.savedUrl = body.url;
            self.updateAllowance(body.allowance);
            self.clearPreview();
            self.refreshPending();
            self.track(body);
          }, function (failure) {
            // Offline is not an error: the recording waits on the device (the "Saved offline" status).
            self.error = failure.offline ? "" : failure.message;
            if (failure.offline) {
              self.announcement = "Saved offline. It will upload when you are back online.";
              if (window.mpRequestSync) window.mpRequestSync();
            }
            if (!failure.keep) queue.remove(item.id);
            self.state = failure.keep ? "idle" : "recorded";
            if (failure.keep) self.clearPreview();
            self.refreshPending();
            if (self.queueOnly) self.retryQueued(); // the connection may have come back meanwhile
            // The error is announced by its role=alert; focus goes where the user can act on it.
            self.$nextTick(function () { focusById(failure.keep ? "record-button" : "save-note-button"); });
          });
        },
        retryQueued: function () {
          var self = this;
          if (this.state === "uploading") return;
          if (this.queueOnly) {
            // Back online on the offline page: the record page uploads, once no recording is under
            // way. Only on the "online" event (not on load): navigator.onLine can be true while the
            // server is unreachable, and going to a page that fails again would loop.
            if (this.wentOnline && this.state === "idle" && this.onlineUrl) window.location.assign(this.onlineUrl);
            return;
          }
          flushQueue(this.uploadUrl, function (item, body, failure) {
            if (body) { self.savedUrl = body.url; self.updateAllowance(body.allowance); self.track(body); }
            if (failure && !failure.keep) self.error = failure.message;
          }).then(function () { self.refreshPending(); });
        },
        // Follow a saved note: uploaded → transcribing n % → indexing → ready (title and transcript shown here).
        track: function (body) {
          if (!body.progress_url) return;
          this.stopTracking();
          this.progressUrl = body.progress_url;
          window.mpRecordStages = [];
          this.showStage(body.stage || "uploaded", body.progress || 0, body.status || "processing", "");
          this.poll(this.pollGen);
        },
        stopTracking: function () {
          this.pollGen += 1;
          clearTimeout(this.pollTimer);
          this.progressUrl = "";
          this.noteStatus = "";
          this.lastStage = "";
          var box = document.getElementById("record-progress");
          if (box) box.innerHTML = "";
        },
        poll: function (gen) {
          var self = this;
          var again = function (ms) { if (gen === self.pollGen) self.pollTimer = setTimeout(function () { self.poll(gen); }, ms); };
          fetch(this.progressUrl, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (response) {
            if (response.status === 404) return null; // deleted meanwhile (another tab)
            if (!response.ok) throw new Error("HTTP " + response.status);
            return response.text();
          }).then(function (html) {
            if (gen !== self.pollGen || html === null) return;
            var box = document.getElementById("record-progress");
            box.innerHTML = html; // server-rendered and escaped by Django
            var info = box.querySelector("[data-note-progress]");
            if (!info) return;
            self.showStage(info.dataset.stage, Number(info.dataset.progress), info.dataset.status, info.dataset.title || "");
            if (info.dataset.status === "processing") again(POLL_MS);
          }).catch(function () { again(POLL_MS * 3); });
        },
        showStage: function (stage, percent, status, title) {
          var key = status === "ready" ? "ready" : status === "failed" ? "failed" : stage;
          var label = key === "transcribing" ? key + " " + percent : key;
          var seen = window.mpRecordStages;
          if (seen[seen.length - 1] !== label) seen.push(label);
          this.noteStatus = status;
          if (key === this.lastStage) return; // one announcement per stage, not one per percent
          this.lastStage = key;
          if (ANNOUNCE[key]) this.announcement = ANNOUNCE[key](title);
        },
        updateAllowance: function (allowance) {
          if (!allowance) return;
          this.allowed = allowance.allowed;
          this.maxSeconds = allowance.max_seconds || this.maxSeconds;
          var el = document.getElementById("allowance-remaining");
          if (el && allowance.remaining !== null) el.textContent = allowance.remaining;
        },
      };
    });

    Alpine.data("dropzone", function () {
      return {
        dragging: false,
        get dropClass() { return this.dragging ? "border-brand-500 bg-brand-50" : "border-stone-300"; },
        over: function () { this.dragging = true; },
        leave: function () { this.dragging = false; },
        drop: function (event) {
          this.dragging = false;
          var file = event.dataTransfer && event.dataTransfer.files[0];
          if (file && window.mpRecorder) window.mpRecorder.saveFile(file);
        },
        pick: function (event) {
          var file = event.target.files[0];
          if (file && window.mpRecorder) window.mpRecorder.saveFile(file);
          event.target.value = "";
        },
      };
    });
  }

  (window.mpComponents = window.mpComponents || []).push(register);
})();
