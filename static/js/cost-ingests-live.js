// Live ingest progress over /ws/costs/: the uploads list's rows and an ingest's page follow the state,
// progress bar and rows read without a reload; an ingest page that was waiting reloads once the ingest is
// done or failed, to show its counts and refused rows. No inline script, no library. On every
// (re)connection the page asks the API for the ingest it shows and for the list's unfinished rows, so one
// that finished while the socket was away is caught.
(function () {
  "use strict";

  var DONE = ["done", "failed"];
  var each = window.RunyardLive.each;

  function draw(scope, ingest) {
    each(scope, "[data-ingest-state]", function (node) {
      node.textContent = ingest.state_label;
      node.className = "pill ingest-state state-" + ingest.state;
    });
    each(scope, "[data-ingest-progress]", function (node) {
      node.value = ingest.progress;
      node.textContent = ingest.progress + " %";
      node.classList.toggle("progress-failed", ingest.state === "failed");
    });
    each(scope, "[data-ingest-rows]", function (node) { node.textContent = ingest.rows_done + " rows"; });
    each(scope, "[data-ingest-failed]", function (node) { node.textContent = ingest.failed; });
  }

  function update(ingest) {
    each(document, '[data-ingest-row="' + ingest.code + '"]', function (row) { draw(row, ingest); });
    each(document, '[data-ingest-live="' + ingest.code + '"]', function (head) {
      draw(head, ingest);
      if (DONE.indexOf(ingest.state) >= 0 && ingest.state !== head.dataset.ingestStateNow) {
        head.dataset.ingestStateNow = ingest.state;
        window.location.reload();
      }
    });
  }

  function refresh(code) {
    fetch("/api/v1/analytics/ingests/" + encodeURIComponent(code), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (ingest) { if (ingest) update(ingest); })
      .catch(function () { /* the socket will tell */ });
  }

  function unfinished(row) {
    var state = row.querySelector("[data-ingest-state]");
    return !state || !DONE.some(function (done) { return state.classList.contains("state-" + done); });
  }

  // What happened while the socket was away: the ingest a page shows, and the list's unfinished rows.
  function catchUp() {
    each(document, "[data-ingest-live]", function (head) { refresh(head.dataset.ingestLive); });
    each(document, "[data-ingest-row]", function (row) { if (unfinished(row)) refresh(row.dataset.ingestRow); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-ingests-live], [data-ingest-live]");
    if (!live) return;
    window.RunyardLive.connect(live.dataset.liveSocket, {
      ready: catchUp,
      "ingest.update": function (message) { update(message.ingest); }
    });
  });
})();
