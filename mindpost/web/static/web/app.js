/* MindPost web app behaviour. Loaded as a static file (CSP: no inline script, no eval);
   Alpine's CSP build reads the components registered here by name. */
(function () {
  "use strict";

  // ---- Toasts: failures that have no better place to appear ------------------------
  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("p");
    item.className = "pointer-events-auto shadow-lg " + (kind === "ok" ? "alert-success" : "alert-error");
    item.setAttribute("role", "alert");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 7000);
  }
  window.mpToast = toast;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  window.mpCsrf = csrfToken;

  // ---- htmx: never fail silently ----------------------------------------------------
  document.addEventListener("htmx:sendError", function () {
    toast("Could not reach MindPost. Check your connection and try again.");
  });
  // 503s that mean "busy for a moment" (the overload guard, the database, the language model):
  // nothing is broken, so say so rather than "something went wrong".
  var BUSY_CODES = ["overloaded", "database_unavailable", "model_unavailable"];
  var BUSY = "MindPost is busy right now. Please try again in a moment.";

  // The error's code and message: JSON {code, detail} or the error fragment (data-code + text).
  function errorOf(xhr) {
    var text = xhr.responseText || "";
    try {
      var body = JSON.parse(text);
      return { code: body.code || "", detail: body.detail || "" };
    } catch (e) { /* not JSON */ }
    // An inert document: nothing in it loads or runs.
    var fragment = new DOMParser().parseFromString(text, "text/html").querySelector(".alert-error[data-code]");
    if (!fragment) return { code: "", detail: "" };
    return { code: fragment.getAttribute("data-code") || "", detail: (fragment.textContent || "").trim() };
  }
  // Also used by the chat and the recorder, which read JSON errors themselves.
  window.mpBusyMessage = function (status, code) {
    return status === 503 && (!code || BUSY_CODES.indexOf(code) >= 0) ? BUSY : "";
  };

  document.addEventListener("htmx:responseError", function (event) {
    // 4xx answers carry a human message and are swapped into their target (see htmx-config);
    // a 5xx (or a 4xx with nowhere to go) still needs saying.
    var xhr = event.detail.xhr;
    if (xhr.status === 503) {
      var error = errorOf(xhr);
      toast(window.mpBusyMessage(503, error.code) || error.detail || BUSY);
    } else if (xhr.status >= 500) toast("Something went wrong on our side. Please try again.");
    else if (!xhr.responseText || !event.detail.target) toast("That did not work. Please try again.");
  });
  // A session that expired mid-page: go to the sign-in page instead of swapping it into a box.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var url = event.detail.xhr && event.detail.xhr.responseURL;
    if (url && url.indexOf("/accounts/login/") >= 0) {
      event.detail.shouldSwap = false;
      window.location.href = url;
    }
  });

  // Expected 4xx answers (a wrong password, a form that does not validate) carry a message for
  // their target: swap it in as an ordinary answer, so that htmx logs no error to the console.
  // A 4xx with no message or nowhere to put it stays an error (the toast above).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.status < 500 && event.detail.shouldSwap && xhr.responseText && event.detail.target) {
      event.detail.isError = false;
    }
  });

  // Forms marked data-reset-on-success clear themselves after a successful HTMX post
  // (not after a 4xx, which beforeSwap above no longer counts as failed).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt, xhr = event.detail.xhr;
    if (event.detail.successful && xhr && xhr.status < 400 && form && form.hasAttribute && form.hasAttribute("data-reset-on-success")) form.reset();
  });

  // ---- Formatting helpers shared by components --------------------------------------
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  window.mpClock = clock;

  document.addEventListener("alpine:init", function () {
    var Alpine = window.Alpine;

    Alpine.data("disclosure", function () {
      return {
        open: false,
        toggle: function () { this.open = !this.open; },
        close: function () { this.open = false; },
      };
    });

    // Notes list: how many notes are ticked for "Create post".
    Alpine.data("selection", function () {
      return {
        count: 0,
        update: function () {
          this.count = document.querySelectorAll("input[name=note_ids]:checked").length;
        },
        get none() { return this.count === 0; },
        get summary() {
          if (!this.count) return "Select ready notes to turn them into a post.";
          return this.count + (this.count === 1 ? " note selected." : " notes selected.");
        },
      };
    });

    // Note detail: the transcript's segments seek the player; ?t= starts at a cited time.
    Alpine.data("player", function () {
      return {
        current: -1,
        init: function () {
          var self = this, audio = this.$refs.audio;
          if (!audio) return;
          var start = parseFloat(this.$el.dataset.start || "");
          if (!isNaN(start) && start > 0) {
            var seek = function () { audio.currentTime = start; self.mark(start); };
            if (audio.readyState >= 1) seek(); else audio.addEventListener("loadedmetadata", seek, { once: true });
          }
          audio.addEventListener("timeupdate", function () { self.mark(audio.currentTime); });
        },
        mark: function (time) {
          var buttons = this.$el.querySelectorAll("[data-seek]"), found = -1;
          for (var i = 0; i < buttons.length; i++) {
            if (parseFloat(buttons[i].dataset.seek) <= time + 0.05) found = i;
          }
          if (found === this.current) return;
          for (var j = 0; j < buttons.length; j++) {
            buttons[j].classList.toggle("bg-brand-100", j === found);
            if (j === found) buttons[j].setAttribute("aria-current", "true"); else buttons[j].removeAttribute("aria-current");
          }
          this.current = found;
        },
        seek: function (event) {
          var audio = this.$refs.audio, target = event.currentTarget;
          if (!audio || !target) return;
          audio.currentTime = parseFloat(target.dataset.seek) || 0;
          this.mark(audio.currentTime);
          var played = audio.play();
          if (played && played.catch) played.catch(function () { return null; });
        },
      };
    });

    // Scheduling uses the profile's time zone; offer the device's when they differ.
    Alpine.data("tzhint", function () {
      return {
        zone: "",
        browserZone: "",
        init: function () {
          this.zone = this.$el.dataset.userTz || "UTC";
          this.url = this.$el.dataset.url;
          try { this.browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { this.browserZone = ""; }
        },
        get differs() { return !!this.browserZone && this.browserZone !== this.zone; },
        adopt: function () {
          var self = this, form = new FormData();
          form.append("timezone", this.browserZone);
          fetch(this.url, { method: "POST", body: form, credentials: "same-origin", headers: { "X-CSRFToken": window.mpCsrf(), "HX-Request": "true" } })
            .then(function (r) {
              if (!r.ok) throw new Error(String(r.status));
              self.zone = self.browserZone;
            })
            .catch(function () { toast("Could not change your time zone. Try again in settings."); });
        },
      };
    });

    // Registered by the page scripts (record.js, compose.js, ...) when present.
    (window.mpComponents || []).forEach(function (register) { register(Alpine); });
  });
})();
