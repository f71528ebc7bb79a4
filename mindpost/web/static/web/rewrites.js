/* Rewrites on a note page: "Copy" puts a version's text on the clipboard and says so. Delegated,
   so versions swapped in later by HTMX work too. */
(function () {
  "use strict";
  if (window.mpRewrites) return; // the panel is swapped in again after each rewrite
  window.mpRewrites = true;

  function say(button, text) {
    var status = button.parentNode && button.parentNode.querySelector("[data-copy-status]");
    if (status) status.textContent = text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.innerText || source.textContent || "";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(button, "Copied."); },
        function () { say(button, "Could not copy: select the text and copy it."); }
      );
      return;
    }
    // Plain http (not localhost): select the text so Ctrl+C / long-press copies it.
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say(button, document.execCommand && document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C to copy.");
  });
})();
