// Workload-automation panel: the plan's jobs by status as a doughnut. Data comes from the page's
// <script type="application/json" id="automation-chart-data"> (Django's json_script); colours come from the
// CSS variables, so the chart follows light and dark mode.
(function () {
  "use strict";
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  var colours = { succeeded: "--ok", failed: "--danger", running: "--accent", waiting: "--warn", cancelled: "--muted", other: "--text" };
  var chart = null;

  function build() {
    var source = document.getElementById("automation-chart-data");
    var canvas = document.getElementById("chart-status");
    if (!source || !canvas || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    if (chart) { chart.destroy(); }
    chart = new Chart(canvas, {
      type: "doughnut",
      data: {
        labels: data.labels,
        datasets: [{
          data: data.values.map(Number),
          backgroundColor: data.labels.map(function (label) { return cssVar(colours[label] || "--text"); }),
          borderColor: cssVar("--surface")
        }]
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { labels: { color: cssVar("--text") } } } }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    build();
    // The theme toggle swaps data-theme on <html>: redraw with the new colours.
    new MutationObserver(build).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  });
})();
