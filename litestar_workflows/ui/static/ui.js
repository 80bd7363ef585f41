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

  // A claim or release replaces the inbox list: keep keyboard users on the task they acted on by
  // focusing its new button (Release after a claim, Claim after a release).
  function keepFocusAfterClaims() {
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var source = event.detail.requestConfig && event.detail.requestConfig.elt;
      var action = source && source.getAttribute ? source.getAttribute("hx-post") || "" : "";
      var match = action.match(/tasks\/([0-9a-f-]+)\/(claim|release)$/);
      if (match) {
        var next = document.getElementById((match[2] === "claim" ? "release-" : "claim-") + match[1]);
        if (next) {
          next.focus();
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    followInbox();
    focusErrors();
    keepFocusAfterClaims();
  });
})();
