/* Compose: drafts fill the editor; image previews (at most 4). The weighted counter is
   counted on the server (HTMX), with the same twitter-text rules used to publish. */
(function () {
  "use strict";

  function register(Alpine) {
    Alpine.data("variants", function () {
      return {
        use: function (event) {
          var button = event.currentTarget, editor = document.getElementById("content");
          if (!button || !editor) return;
          editor.value = button.dataset.text || "";
          editor.dispatchEvent(new Event("input", { bubbles: true }));
          editor.focus();
          editor.scrollIntoView({ block: "center" });
        },
      };
    });

    Alpine.data("composer", function () {
      return {};
    });

    Alpine.data("images", function () {
      return {
        files: [],
        previews: [],
        error: "",
        max: 4,
        existing: 0,
        init: function () {
          this.max = parseInt(this.$el.dataset.max, 10) || 4;
          this.existing = parseInt(this.$el.dataset.existing, 10) || 0;
        },
        get hasPreviews() { return this.previews.length > 0; },
        changed: function () {
          var chosen = Array.prototype.slice.call(this.$refs.input.files || []);
          var room = this.max - this.existing;
          this.error = "";
          var all = this.files.concat(chosen);
          if (all.length > room) {
            this.error = "A post can have at most " + this.max + " images; the extra ones were left out.";
            all = all.slice(0, Math.max(0, room));
          }
          this.files = all;
          this.sync();
        },
        remove: function (event) {
          var index = parseInt(event.currentTarget.dataset.index, 10) || 0;
          this.files.splice(index, 1);
          this.error = "";
          this.sync();
        },
        sync: function () {
          var transfer = new DataTransfer();
          this.files.forEach(function (file) { transfer.items.add(file); });
          this.$refs.input.files = transfer.files;
          this.previews.forEach(function (p) { URL.revokeObjectURL(p.url); });
          this.previews = this.files.map(function (file, i) {
            return { url: URL.createObjectURL(file), name: "Preview of " + file.name, removeLabel: "Remove image " + (i + 1) };
          });
        },
      };
    });
  }

  (window.mpComponents = window.mpComponents || []).push(register);
})();
