// TempoNest console: the only script. Live answers and live execution lists (EventSource),
// confirmation before destructive forms. Pages work without it.
"use strict";
// The browser's time zone, for pages that show times on the viewer's clock (schedules).
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tn_tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "tn_tz=" + encodeURIComponent(zone) + "; path=/console; max-age=31536000; samesite=strict";
    }
  } catch (e) { /* no Intl: UTC */ }
})();

document.addEventListener("DOMContentLoaded", function () {
  // Forms that change something irreversible ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // A running execution's answer, followed live; the page reloads once it finished so the
  // status, tokens and cost are the final ones.
  var answer = document.querySelector("[data-stream]");
  if (answer && window.EventSource) {
    var state = document.getElementById("stream-state");
    var source = new EventSource(answer.getAttribute("data-stream"));
    var received = false;
    source.onmessage = function (event) {
      if (event.data === "[DONE]") {
        source.close();
        if (state) state.textContent = "Finished.";
        window.location.reload();
        return;
      }
      try {
        var frame = JSON.parse(event.data);
        if (typeof frame.content === "string") {
          if (!received) { answer.textContent = ""; received = true; }
          answer.textContent += frame.content;
        }
      } catch (e) { /* not a text frame */ }
    };
    source.onerror = function () {
      if (state) state.textContent = "Connection lost; reconnecting…";
    };
  }

  document.querySelectorAll("[data-live]").forEach(followList);
});

// An execution list kept current without reloading the page: the console relays the
// tenant's execution events as rendered rows ("row": insert or replace, "gone": left the
// list's filter). Whenever the stream (re)opens, or the server says events were missed
// ("resync"), the rows are read again; events arriving meanwhile are applied after.
function followList(list) {
  if (!window.EventSource || !window.fetch) return;
  var body = list.querySelector("tbody");
  var limit = parseInt(list.getAttribute("data-limit"), 10) || 50;
  var state = list.querySelector(".live-state");
  var held = null;
  function shown() {
    var empty = body.children.length === 0;
    list.querySelector(".empty").hidden = !empty;
    list.querySelector(".scroll").hidden = empty;
  }
  function place(fresh) {
    var old = document.getElementById(fresh.id);
    if (old) { old.replaceWith(fresh); return; }
    var created = Number(fresh.getAttribute("data-created"));
    var rows = body.children;
    for (var i = 0; i < rows.length; i++) {
      if (Number(rows[i].getAttribute("data-created")) < created) {
        body.insertBefore(fresh, rows[i]);
        break;
      }
    }
    if (!fresh.parentNode && rows.length < limit) body.appendChild(fresh);
    while (body.children.length > limit) body.removeChild(body.lastElementChild);
  }
  function apply(kind, data) {
    if (held) { held.push([kind, data]); return; }
    if (kind === "row") {
      var template = document.createElement("template");
      template.innerHTML = data.html.trim();
      place(template.content.firstElementChild);
    } else {
      var gone = document.getElementById("execution-" + data.id);
      if (gone) gone.remove();
    }
    shown();
  }
  function reread() {
    if (held) return;
    held = [];
    fetch(list.getAttribute("data-rows"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) { body.innerHTML = html; })
      .catch(function () { /* keep what is shown; the next event or reconnect tries again */ })
      .then(function () {
        var pending = held; held = null;
        pending.forEach(function (e) { apply(e[0], e[1]); });
        shown();
      });
  }
  var source = new EventSource(list.getAttribute("data-live"));
  source.addEventListener("open", function () {
    if (state) state.firstChild.textContent = "This list updates itself. ";
    reread();
  });
  source.addEventListener("resync", reread);
  ["row", "gone"].forEach(function (kind) {
    source.addEventListener(kind, function (event) { apply(kind, JSON.parse(event.data)); });
  });
  source.onerror = function () {
    if (!state) return;
    state.firstChild.textContent = source.readyState === EventSource.CLOSED
      ? "Live updates stopped. "
      : "Live updates interrupted; reconnecting… ";
  };
}
