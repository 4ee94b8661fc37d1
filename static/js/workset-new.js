// "New workset": add and remove sample rows. Without JavaScript the page still shows blank rows to fill.
(function () {
  "use strict";
  function ready() {
    var body = document.getElementById("sample-rows");
    var add = document.getElementById("add-row");
    if (!body || !add) return;
    add.hidden = false;
    body.querySelectorAll(".remove-row").forEach(function (b) { b.hidden = false; });
    add.addEventListener("click", function () {
      var last = body.querySelector(".sample-row:last-child");
      var row = last.cloneNode(true);
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      row.querySelectorAll(".error").forEach(function (e) { e.remove(); });
      body.appendChild(row);
      row.querySelector("input").focus();
    });
    body.addEventListener("click", function (event) {
      var button = event.target.closest(".remove-row");
      if (!button) return;
      var row = button.closest(".sample-row");
      if (body.querySelectorAll(".sample-row").length > 1) row.remove();
      else row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
