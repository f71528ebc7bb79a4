/* "Fix a name everywhere" on a note page: a word selected in the transcript fills in the
   "Misheard as" field (1 to 4 words), so fixing a name is select, type, check, confirm. */
(function () {
  "use strict";
  function selected() {
    var selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.anchorNode) return "";
    var transcript = document.getElementById("note-transcript");
    if (!transcript || !transcript.contains(selection.anchorNode)) return "";
    var text = selection.toString().replace(/\s+/g, " ").replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    if (!text || text.length > 60 || text.split(" ").length > 4) return "";
    return text;
  }
  document.addEventListener("selectionchange", function () {
    var text = selected();
    var input = document.getElementById("fixname-find");
    if (!text || !input || document.activeElement === input) return;
    input.value = text;
    var details = document.getElementById("fixname-details");
    if (details) details.open = true;
  });
})();
