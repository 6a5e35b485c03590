// TempoNest console: the only script. Live answers (EventSource), a self-refreshing list
// while executions run, confirmation before destructive forms. Pages work without it.
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

  // A list with running executions refreshes itself, paused while the tab is hidden.
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var seconds = parseInt(refresh.getAttribute("data-refresh"), 10) || 5;
    window.setInterval(function () {
      if (!document.hidden) window.location.reload();
    }, seconds * 1000);
  }
});
