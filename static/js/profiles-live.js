// Live parse progress of profiles over /ws/profiles/: the list's rows and a profile's page follow the state
// and progress bar without a reload; a profile page that was waiting reloads once the parse is done (ready
// or failed), to show its figures or its error. No inline script, no library. On every (re)connection the
// page asks the API for the profile it shows, so a parse that finished before the socket opened is caught.
(function () {
  "use strict";

  var DONE = ["ready", "failed"];
  var each = window.RunyardLive.each;

  function draw(scope, profile) {
    each(scope, "[data-profile-state]", function (node) {
      node.textContent = profile.state_label;
      node.className = "pill profile-state state-" + profile.state;
    });
    each(scope, "[data-profile-progress]", function (node) {
      node.value = profile.progress;
      node.textContent = profile.progress + " %";
      node.classList.toggle("progress-failed", profile.state === "failed");
    });
    each(scope, "[data-profile-format]", function (node) {
      if (profile.format) node.textContent = profile.format;
    });
  }

  function update(profile) {
    each(document, '[data-profile-row="' + profile.code + '"]', function (row) { draw(row, profile); });
    each(document, '[data-profile-live="' + profile.code + '"]', function (head) {
      draw(head, profile);
      var shown = head.dataset.profileStateNow;
      if (DONE.indexOf(profile.state) >= 0 && profile.state !== shown) {
        head.dataset.profileStateNow = profile.state;
        window.location.reload();
      }
    });
  }

  function catchUp() {
    each(document, "[data-profile-live]", function (head) {
      fetch("/api/v1/profiles/" + encodeURIComponent(head.dataset.profileLive), { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (profile) { if (profile) update(profile); })
        .catch(function () { /* the socket will tell */ });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-profiles-live], [data-profile-live]");
    if (!live) return;
    window.RunyardLive.connect(live.dataset.liveSocket, {
      ready: catchUp,
      "profile.update": function (message) { update(message.profile); }
    });
  });
})();
