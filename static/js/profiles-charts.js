// Profile charts (hotspots, vector mix, a function's mix, a diff's share changes). The figures come from the
// page's <script type="application/json" id="profile-chart-data"> (Django's json_script), computed by
// analysis.insights on the server; this file only draws them. Colours come from the CSS variables, so the
// charts follow light and dark mode.
(function () {
  "use strict";
  var charts = [];

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function percent(value) {
    return value === null || value === undefined ? "not measured" : (Number(value) * 100).toFixed(1) + " %";
  }

  function points(value) {
    return value === null || value === undefined ? "not measured" : ((value > 0 ? "+" : "") + (Number(value) * 100).toFixed(1)) + " pts";
  }

  function options(format, stacked, horizontal) {
    var text = cssVar("--text"), grid = cssVar("--border");
    var valueAxis = { ticks: { color: text, callback: function (v) { return format(v); } }, grid: { color: grid }, stacked: stacked };
    var labelAxis = { ticks: { color: text, autoSkip: false }, grid: { color: grid }, stacked: stacked };
    if (stacked) valueAxis.max = 1;
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      indexAxis: horizontal ? "y" : "x",
      color: text,
      plugins: {
        legend: { display: stacked, labels: { color: text } },
        tooltip: { callbacks: { label: function (item) { return (item.dataset.label ? item.dataset.label + ": " : "") + format(item.raw); } } }
      },
      scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis }
    };
  }

  function single(id, chart, format, colour) {
    var canvas = document.getElementById(id);
    if (!canvas || !chart) return;
    charts.push(new Chart(canvas, {
      type: "bar",
      data: { labels: chart.labels, datasets: [{ label: chart.label, data: chart.values, backgroundColor: colour(chart.values) }] },
      options: options(format, false, true)
    }));
  }

  function stackedMix(id, chart) {
    var canvas = document.getElementById(id);
    if (!canvas || !chart) return;
    var colours = [cssVar("--accent"), cssVar("--ok"), cssVar("--warn"), cssVar("--muted")];
    charts.push(new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (series, index) {
          return { label: series.label, data: series.values, backgroundColor: colours[index % colours.length] };
        })
      },
      options: options(percent, true, true)
    }));
  }

  function render() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var source = document.getElementById("profile-chart-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var accent = function () { return cssVar("--accent"); };
    single("chart-hotspots", data.hotspots, percent, accent);
    stackedMix("chart-vector", data.vector);
    single("chart-mix", data.mix, percent, accent);
    // Coloured by the diff's own verdict: a share that moved while the cost did not ("shifted") is no regression.
    single("chart-diff", data.diff, points, function () {
      var colours = { regressed: cssVar("--danger"), improved: cssVar("--ok"), "new": cssVar("--warn"), gone: cssVar("--accent") };
      return data.diff.statuses.map(function (status) { return colours[status] || cssVar("--muted"); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    render();
    new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  });
})();
