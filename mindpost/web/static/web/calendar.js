/* Calendar: drag a scheduled post onto another day to reschedule it (same time of day).
   The drop POSTs to the post's move URL through htmx, which swaps the re-rendered calendar in;
   the keyboard way is each post's "Move to…" form (plain HTML, no script needed). Listeners sit
   on the document, so they survive every swap of #calendar. */
(function () {
  "use strict";

  var dragged = null;

  function dayOf(target) {
    return target && target.closest ? target.closest("#calendar [data-day]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var post = event.target.closest && event.target.closest("#calendar [data-move-url]");
    if (!post) return;
    dragged = post;
    post.classList.add("cal-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", post.dataset.post || "");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("cal-dragging");
    dragged = null;
    document.querySelectorAll(".cal-drop").forEach(function (el) { el.classList.remove("cal-drop"); });
  });

  document.addEventListener("dragover", function (event) {
    var day = dayOf(event.target);
    if (!dragged || !day) return;
    event.preventDefault(); // allows the drop
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".cal-drop").forEach(function (el) { if (el !== day) el.classList.remove("cal-drop"); });
    day.classList.add("cal-drop");
  });

  document.addEventListener("drop", function (event) {
    var day = dayOf(event.target);
    if (!dragged || !day) return;
    event.preventDefault();
    var post = dragged;
    day.classList.remove("cal-drop");
    if (post.closest("[data-day]") === day) return; // dropped where it was
    var form = document.getElementById("calendar-drop");
    var values = { date: day.dataset.day };
    if (form) {
      new FormData(form).forEach(function (value, key) { values[key] = value; });
    }
    window.htmx.ajax("POST", post.dataset.moveUrl, { target: "#calendar", swap: "innerHTML", values: values });
  });

  // After a move, keep the keyboard where it was: on the moved post.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "calendar") return;
    var moved = document.querySelector("#calendar [data-moved] .cal-link");
    if (moved) moved.focus();
  });
})();
