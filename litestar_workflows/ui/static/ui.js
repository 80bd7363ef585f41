// The UI's own script: live inbox updates over server-sent events. No inline code anywhere (the
// pages are served with a strict Content-Security-Policy), so every behaviour is wired up here.
(function () {
  "use strict";

  // The inbox list reloads (htmx, "inbox-changed") whenever the server says a task of ours opened
  // or closed, and once more whenever the stream (re)connects, in case an event was missed meanwhile.
  function followInbox() {
    var list = document.getElementById("inbox-list");
    if (!list || !list.dataset.stream || !window.EventSource) {
      return;
    }
    var source = new EventSource(list.dataset.stream);
    var connectedBefore = false;
    source.addEventListener("open", function () {
      list.dataset.live = "on";
      if (connectedBefore) {
        document.body.dispatchEvent(new CustomEvent("inbox-changed"));
      }
      connectedBefore = true;
    });
    source.addEventListener("error", function () {
      list.dataset.live = "reconnecting";
    });
    source.addEventListener("inbox", function () {
      document.body.dispatchEvent(new CustomEvent("inbox-changed"));
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  // After a form comes back with errors, move the focus to the error summary so screen readers
  // announce it and keyboard users start from there.
  function focusErrors() {
    var summary = document.getElementById("form-errors");
    if (summary) {
      summary.focus();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    followInbox();
    focusErrors();
  });
})();
