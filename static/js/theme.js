// Light/dark mode: the saved choice, else the system preference. Loaded in <head> so the page
// never flashes the wrong theme; the toggle is wired once the DOM exists.
(function () {
  var saved = localStorage.getItem("runyard-theme");
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = saved || (dark ? "dark" : "light");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      localStorage.setItem("runyard-theme", next);
    });
  });
})();
