/* Thread editor (web/_thread_editor.html): split a part at the cursor, merge it with the next,
   add and remove parts; numbering, previews and counters follow. The counts come from the
   server (the network's own length rule, numbering included), asked for as the person types.
   Listeners sit on the document, so an HTMX re-render of the editor needs no new setup. */
(function () {
  "use strict";

  var timer = null;
  var pending = null;

  function editor() { return document.querySelector("[data-thread-editor]"); }
  function parts(root) { return Array.prototype.slice.call(root.querySelectorAll("[data-part]")); }
  function announce(root, message) {
    var status = root.querySelector("[data-thread-status]");
    if (status) status.textContent = message;
  }

  function numbered(index, total, text) {
    return total > 1 ? index + "/" + total + " " + text : text;
  }

  // Labels, ids, previews (with numbering) and which buttons make sense, after any change.
  function renumber(root) {
    var items = parts(root), total = items.length, max = parseInt(root.dataset.maxParts, 10) || 25;
    items.forEach(function (item, i) {
      var n = i + 1, text = item.querySelector("[data-part-text]"), label = item.querySelector("[data-part-label]");
      var counter = item.querySelector("[data-counter]"), error = item.querySelector("[data-part-error]");
      text.id = "part-" + n;
      label.setAttribute("for", text.id);
      label.textContent = "Part " + n + " of " + total;
      counter.id = "part-" + n + "-count";
      error.id = "part-" + n + "-error";
      text.setAttribute("aria-describedby", counter.id + (error.hidden ? "" : " " + error.id));
      item.querySelector("[data-preview]").textContent = numbered(n, total, text.value.trim());
      item.querySelector("[data-preview]").setAttribute("aria-label", "Preview of part " + n);
      item.querySelector("[data-action=merge]").disabled = n === total;
      item.querySelector("[data-action=remove]").disabled = total === 1;
      item.querySelector("[data-action=split]").disabled = total >= max;
    });
    var add = root.querySelector("[data-action=add]");
    if (add) add.disabled = total >= max;
  }

  function count(root) {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var form = new FormData();
      parts(root).forEach(function (item) { form.append("parts", item.querySelector("[data-part-text]").value); });
      if (pending) pending.abort();
      pending = new AbortController();
      fetch(root.dataset.countUrl, {
        method: "POST", body: form, credentials: "same-origin", signal: pending.signal,
        headers: { "X-CSRFToken": window.mpCsrf ? window.mpCsrf() : "" },
      }).then(function (response) { return response.ok ? response.json() : null; }).then(function (body) {
        if (!body) return;
        parts(root).forEach(function (item, i) {
          var counter = item.querySelector("[data-counter]"), text = item.querySelector("[data-part-text]");
          if (i >= body.counts.length) return;
          counter.textContent = body.counts[i] + " / " + body.limit;
          counter.classList.toggle("text-red-800", body.over[i]);
          counter.classList.toggle("text-stone-700", !body.over[i]);
          if (body.over[i]) text.setAttribute("aria-invalid", "true");
          else if (text.value.trim()) text.removeAttribute("aria-invalid");
          item.querySelector("[data-preview]").textContent = body.published[i];
          // A save's error for this part goes once the part is fixed (the next save checks again).
          var error = item.querySelector("[data-part-error]");
          if (!error.hidden && !body.over[i] && text.value.trim()) {
            error.hidden = true;
            text.setAttribute("aria-describedby", counter.id);
          }
        });
        var stale = root.querySelector("#thread-error");
        if (stale && !root.querySelector("[data-part-error]:not([hidden])")) stale.remove();
      }).catch(function () { /* aborted by a newer count, or offline: the save checks again */ });
    }, 150);
  }

  function newPart(root, text) {
    var first = root.querySelector("[data-part]"), item = first.cloneNode(true);
    var area = item.querySelector("[data-part-text]"), error = item.querySelector("[data-part-error]");
    area.value = text;
    area.removeAttribute("aria-invalid");
    error.hidden = true;
    error.textContent = "";
    item.querySelector("[data-counter]").textContent = "…";
    return item;
  }

  function focusAt(item, position) {
    var area = item.querySelector("[data-part-text]");
    area.focus();
    area.setSelectionRange(position, position);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-thread-editor] [data-action]");
    if (!button) return;
    var root = editor(), item = button.closest("[data-part]"), action = button.dataset.action;
    if (!root) return;
    var list = root.querySelector("[data-parts]");
    if (action === "add") {
      var added = newPart(root, "");
      list.appendChild(added);
      renumber(root);
      focusAt(added, 0);
      announce(root, "Part " + parts(root).length + " added.");
    } else if (action === "split") {
      var area = item.querySelector("[data-part-text]"), at = area.selectionStart || 0;
      var before = area.value.slice(0, at).trim(), after = area.value.slice(at).trim();
      if (!before || !after) {
        announce(root, "Put the cursor inside the text where the new part should start.");
        area.focus();
        return;
      }
      area.value = before;
      var next = newPart(root, after);
      item.after(next);
      renumber(root);
      focusAt(next, 0);
      announce(root, "Split: part " + (parts(root).indexOf(next) + 1) + " starts here.");
    } else if (action === "merge") {
      var following = item.nextElementSibling;
      if (!following) return;
      var mine = item.querySelector("[data-part-text]"), theirs = following.querySelector("[data-part-text]");
      var join = mine.value.trim().length;
      mine.value = (mine.value.trim() + " " + theirs.value.trim()).trim();
      following.remove();
      renumber(root);
      focusAt(item, join);
      announce(root, "Merged with the next part.");
    } else if (action === "remove") {
      if (parts(root).length === 1) return;
      var previous = item.previousElementSibling || item.nextElementSibling;
      item.remove();
      renumber(root);
      focusAt(previous, 0);
      announce(root, "Part removed.");
    }
    count(root);
  });

  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches("[data-thread-editor] [data-part-text]")) return;
    var root = editor();
    renumber(root);
    count(root);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var root = editor();
    if (root) renumber(root);
  });
  document.addEventListener("htmx:afterSettle", function () {
    var root = editor();
    if (!root) return;
    renumber(root);
    var error = root.querySelector("[aria-invalid=true]");
    if (error) error.focus();
  });
})();
