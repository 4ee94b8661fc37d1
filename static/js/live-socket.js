// The websocket of the live pages (live.js, profiles-live.js, cost-ingests-live.js), in one place: one
// socket to the page's own host that reconnects with exponential backoff and jitter, and the
// [data-live-status] line that says whether updates are on. Exposes window.RunyardLive; no inline script,
// no library. Load it before the scripts that use it (they are all deferred, so order is kept).
(function () {
  "use strict";

  var FIRST_DELAY_MS = 1000, MAX_DELAY_MS = 30000;
  var STATUS_TEXT = {
    connecting: "Live updates: connecting…",
    live: "Live updates: on",
    reconnecting: "Live updates: reconnecting…"
  };

  function each(scope, selector, apply) {
    Array.prototype.forEach.call(scope.querySelectorAll(selector), apply);
  }

  function setStatus(status) {
    each(document, "[data-live-status]", function (node) {
      node.dataset.liveStatus = status;
      node.textContent = STATUS_TEXT[status];
    });
  }

  // One socket per page; ``handlers`` maps a message type to function (message, send). "ready" (sent on
  // every (re)connection) resets the backoff and the status before its handler runs, so a page catches up there.
  // Returns {send: function (message) → true if sent, false while the socket is not open}.
  function connect(path, handlers) {
    var delay = FIRST_DELAY_MS, current = null;
    function open() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + path);
      var send = function (message) { socket.send(JSON.stringify(message)); };
      current = socket;
      socket.onmessage = function (event) {
        var message = JSON.parse(event.data);
        if (message.type === "ready") { delay = FIRST_DELAY_MS; setStatus("live"); }
        if (handlers[message.type]) handlers[message.type](message, send);
      };
      // A refused socket (signed out, not a member) looks like a dropped one: keep trying, ever more slowly.
      socket.onclose = function () {
        setStatus("reconnecting");
        window.setTimeout(open, delay + Math.random() * delay * 0.2);
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      };
    }
    setStatus("connecting");
    open();
    return {
      send: function (message) {
        if (!current || current.readyState !== WebSocket.OPEN) return false;
        current.send(JSON.stringify(message));
        return true;
      }
    };
  }

  window.RunyardLive = { each: each, setStatus: setStatus, connect: connect };
})();
