/* Time zone: the browser's own (Intl) is sent at sign-up and offered on the settings page when
   it differs from the profile's. The server checks every zone against its zoneinfo list. */
(function () {
  "use strict";

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }

  // ICU's name for a zone: Chromium says "Asia/Calcutta" where zoneinfo also knows "Asia/Kolkata".
  function sameZone(a, b) {
    if (a === b) return true;
    try {
      return new Intl.DateTimeFormat("en", { timeZone: a }).resolvedOptions().timeZone ===
        new Intl.DateTimeFormat("en", { timeZone: b }).resolvedOptions().timeZone;
    } catch (e) { return false; }
  }

  // Sign-up: a hidden field the account adapter reads.
  document.addEventListener("DOMContentLoaded", function () {
    var zone = browserZone();
    document.querySelectorAll("input[data-browser-timezone]").forEach(function (input) { input.value = zone; });
  });

  function register(Alpine) {
    // Settings: a searchable field (<input list> + <datalist>) and "Use <device zone>".
    Alpine.data("tzpicker", function () {
      return {
        zone: "",
        browserZone: "",
        init: function () {
          this.zone = this.$el.dataset.userTz || "UTC";
          this.browserZone = browserZone();
        },
        get differs() { return !!this.browserZone && !sameZone(this.browserZone, this.zone); },
        get adoptLabel() { return "Use " + this.browserZone; },
        adopt: function () {
          var input = this.$refs.zone;
          if (!input) return;
          input.value = this.browserZone;
          this.zone = this.browserZone;
          // Saved at once (htmx answers in the form's result box); focus stays on the field.
          if (input.form && input.form.requestSubmit) input.form.requestSubmit();
          input.focus();
        },
      };
    });
  }

  (window.mpComponents = window.mpComponents || []).push(register);
})();
