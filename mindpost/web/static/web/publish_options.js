/* "Copy text" in the post editor's "post it yourself" box: the Clipboard API, else the old
   select-and-copy, else the text is left selected with a hint to press the shortcut. */
(function () {
  "use strict";

  function say(button, message) {
    var box = button.closest("[data-post-yourself]");
    var status = box && box.parentElement ? box.parentElement.querySelector("[data-copy-status]") : null;
    if (status) status.textContent = message;
  }

  function selectAndCopy(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-from]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy-from"));
    if (!field) return;
    var text = field.value || "";
    if (!text.trim()) {
      say(button, "Nothing to copy yet: write the post first.");
      return;
    }
    var fallback = function () {
      if (selectAndCopy(field)) say(button, "Copied to the clipboard.");
      else say(button, "The text is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { say(button, "Copied to the clipboard."); }, fallback);
    } else {
      fallback();
    }
  });
})();
