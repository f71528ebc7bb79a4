// Import page: a drop zone for many files on top of a plain multipart form (which works without
// this script). Dropped files are put into the form's file input, then the form is submitted.
(function () {
  "use strict";

  function describe(files) {
    if (!files || !files.length) return "";
    var names = [];
    for (var i = 0; i < files.length && i < 5; i++) names.push(files[i].name);
    var more = files.length > 5 ? " and " + (files.length - 5) + " more" : "";
    return files.length + (files.length === 1 ? " file: " : " files: ") + names.join(", ") + more;
  }

  function init() {
    var form = document.getElementById("import-form");
    var zone = document.getElementById("import-drop");
    var input = document.getElementById("import-files");
    var chosen = document.getElementById("import-chosen");
    var submit = document.getElementById("import-submit");
    if (!form || !zone || !input) return;
    var active = ["border-brand-500", "bg-brand-50"];

    input.addEventListener("change", function () { chosen.textContent = describe(input.files); });
    form.addEventListener("submit", function () {
      submit.disabled = true;
      submit.textContent = "Uploading…";
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add.apply(zone.classList, active);
      zone.classList.remove("border-stone-300");
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove.apply(zone.classList, active);
      zone.classList.add("border-stone-300");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove.apply(zone.classList, active);
      zone.classList.add("border-stone-300");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      input.files = files;
      chosen.textContent = describe(files);
      if (form.requestSubmit) form.requestSubmit(submit); else form.submit();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
