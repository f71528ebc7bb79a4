/* Chat: POST the question, read the answer as server-sent events (fetch + stream reader),
   show the `sources` (the passages the answer will use) as cards as soon as they arrive, then
   the place in the model's queue (`queue`) in the pending bubble, then tokens as they come,
   then swap in the stored answer with its citations. */
(function () {
  "use strict";

  function bubble(kind, text) {
    var li = document.createElement("li");
    if (kind === "user") {
      li.className = "ml-auto max-w-[85%] rounded-2xl rounded-br-sm bg-brand-600 px-4 py-2.5 text-white whitespace-pre-line";
    } else {
      li.className = "max-w-[85%] rounded-2xl rounded-bl-sm border border-stone-200 bg-white px-4 py-3 text-stone-900 shadow-sm whitespace-pre-line";
      li.setAttribute("aria-busy", "true");
    }
    li.textContent = text;
    return li;
  }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds)), m = Math.floor(s / 60);
    s = s % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // The `sources` event as small cards (title, date, excerpt; the link opens the note at that moment),
  // built with textContent only: note text is the user's own, never markup.
  function sourceCards(sources) {
    var li = el("li", "max-w-[85%]");
    li.setAttribute("data-kind", "sources");
    li.appendChild(el("p", "text-xs font-semibold uppercase tracking-wide text-stone-600", "From your notes"));
    var list = el("ol", "mt-1 grid gap-2 sm:grid-cols-2");
    sources.forEach(function (source, i) {
      var card = el("li", "rounded-xl border border-stone-200 bg-white px-3 py-2 text-sm shadow-sm");
      var href = "/notes/" + encodeURIComponent(source.note_id) + "/";
      if (source.start !== null && source.start !== undefined) href += "?t=" + Math.round(source.start);
      var link = el("a", "citation", "[" + (i + 1) + (source.start !== null && source.start !== undefined ? " · " + clock(source.start) : "") + "] " + (source.note_title || "Note"));
      link.href = href;
      card.appendChild(link);
      if (source.note_created_at) {
        var date = new Date(source.note_created_at);
        if (!isNaN(date.getTime())) card.appendChild(el("p", "text-xs text-stone-500", date.toLocaleDateString()));
      }
      card.appendChild(el("p", "mt-0.5 line-clamp-3 text-stone-700", source.excerpt || ""));
      list.appendChild(card);
    });
    li.appendChild(list);
    return li;
  }

  // The pending bubble while the model is shared with other requests (the `queue` event).
  function queueText(ahead) {
    if (!ahead) return "Writing…";
    return ahead + " ahead of you — waiting for the model…";
  }

  // Parses "event: x\ndata: {...}\n\n" blocks out of a growing buffer.
  function takeEvents(state) {
    var events = [], index;
    while ((index = state.buffer.indexOf("\n\n")) >= 0) {
      var block = state.buffer.slice(0, index);
      state.buffer = state.buffer.slice(index + 2);
      var name = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
      });
      try { events.push({ name: name, data: data ? JSON.parse(data) : {} }); } catch (e) { /* skip a broken event */ }
    }
    return events;
  }

  function register(Alpine) {
    Alpine.data("chat", function () {
      return {
        busy: false,
        sendUrl: "",
        init: function () { this.sendUrl = this.$el.dataset.sendUrl; },
        enter: function (event) {
          if (event.shiftKey || event.isComposing) return;
          event.preventDefault();
          this.send();
        },
        send: function () {
          var self = this, input = this.$refs.input, text = (input.value || "").trim();
          if (!text || this.busy) return;
          var list = document.getElementById("messages");
          var empty = document.getElementById("chat-empty");
          if (empty) empty.remove();
          list.appendChild(bubble("user", text));
          var answer = bubble("assistant", "…");
          list.appendChild(answer);
          answer.scrollIntoView({ block: "end" });
          input.value = "";
          this.busy = true;

          var form = new FormData();
          form.append("message", text);
          form.append("conversation_id", this.$refs.conversation.value || "");
          var url = this.sendUrl, received = "", finished = false;
          var fail = function (message) {
            answer.className = "max-w-[85%] alert-error";
            answer.setAttribute("role", "alert");
            answer.removeAttribute("aria-busy");
            answer.textContent = message;
          };
          fetch(url, {
            method: "POST", body: form, credentials: "same-origin",
            headers: { "X-CSRFToken": window.mpCsrf(), Accept: "text/event-stream" },
          }).then(function (response) {
            var type = response.headers.get("Content-Type") || "";
            if (!response.ok || type.indexOf("text/event-stream") < 0) {
              var busy = window.mpBusyMessage;
              return response.json().then(function (body) {
                fail(busy(response.status, body.code) || body.detail || "Something went wrong. Please try again.");
              }, function () { fail(busy(response.status, "") || "Something went wrong on our side. Please try again."); });
            }
            var reader = response.body.getReader(), decoder = new TextDecoder(), state = { buffer: "" };
            var pump = function () {
              return reader.read().then(function (chunk) {
                if (chunk.done) {
                  if (!finished) fail("The answer was cut off. Please ask again.");
                  return null;
                }
                state.buffer += decoder.decode(chunk.value, { stream: true });
                takeEvents(state).forEach(function (event) {
                  if (event.name === "start" && event.data.conversation_id) {
                    self.$refs.conversation.value = event.data.conversation_id;
                  } else if (event.name === "sources") {
                    var sources = event.data.sources || [];
                    if (sources.length) answer.parentNode.insertBefore(sourceCards(sources), answer);
                  } else if (event.name === "queue") {
                    // Until the first token: how many requests go first, then that it is being written.
                    if (!received) {
                      answer.textContent = queueText(event.data.ahead);
                      answer.setAttribute("data-queue", String(event.data.ahead || 0));
                    }
                  } else if (event.name === "token") {
                    received += event.data.text || "";
                    answer.textContent = received;
                    answer.removeAttribute("data-queue");
                  } else if (event.name === "done") {
                    finished = true;
                    self.finish(answer, event.data);
                  } else if (event.name === "error") {
                    finished = true;
                    fail(event.data.detail || "The answer could not be finished.");
                  }
                });
                return pump();
              });
            };
            return pump();
          }).catch(function () {
            fail("Could not reach MindPost. Check your connection and try again.");
          }).finally(function () {
            self.busy = false;
            input.focus();
          });
        },
        finish: function (answer, data) {
          this.$refs.conversation.value = data.conversation_id;
          if (window.history && data.conversation_url && location.pathname !== data.conversation_url) {
            history.replaceState(null, "", data.conversation_url);
          }
          fetch(data.message_url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
            .then(function (r) { return r.ok ? r.text() : Promise.reject(r); })
            .then(function (html) {
              var holder = document.createElement("ol");
              holder.innerHTML = html;
              var rendered = holder.querySelector("li");
              if (rendered) answer.replaceWith(rendered);
            }, function () { answer.removeAttribute("aria-busy"); });
          if (window.htmx) {
            window.htmx.ajax("GET", data.conversation_url, { target: "#conversation-list", swap: "innerHTML" });
          }
        },
      };
    });
  }

  (window.mpComponents = window.mpComponents || []).push(register);
})();
