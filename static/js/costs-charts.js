// Cost dashboard charts (cost per day by team, cost by model, the forecast band). The figures come from the
// page's <script type="application/json" id="cost-chart-data"> (Django's json_script), computed on the server
// by analysis.cost_analytics; this file only draws them. Colours come from CSS variables (runyard.css and
// costs.css), so the charts follow light and dark mode: they are redrawn when the theme changes.
(function () {
  "use strict";
  var charts = [];

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function dollars(value) {
    if (value === null || value === undefined) return "";
    return "$" + Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function series(index) {
    return cssVar("--series-" + ((index % 7) + 1));
  }

  function axes(stacked, horizontal) {
    var text = cssVar("--text"), grid = cssVar("--border");
    var value = { ticks: { color: text, callback: function (v) { return dollars(v); } }, grid: { color: grid }, stacked: stacked, beginAtZero: true };
    var label = { ticks: { color: text }, grid: { color: grid }, stacked: stacked };
    return horizontal ? { x: value, y: label } : { x: label, y: value };
  }

  function options(stacked, horizontal, legend) {
    var text = cssVar("--text");
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      indexAxis: horizontal ? "y" : "x",
      color: text,
      plugins: {
        legend: { display: legend, labels: { color: text } },
        tooltip: { callbacks: { label: function (item) { return (item.dataset.label ? item.dataset.label + ": " : "") + dollars(item.raw); } } }
      },
      scales: axes(stacked, horizontal)
    };
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) charts.push(new Chart(canvas, config));
  }

  function byDay(chart) {
    if (!chart) return;
    draw("chart-cost-by-day", {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (s, index) { return { label: s.label, data: s.values, backgroundColor: series(index) }; })
      },
      options: options(true, false, true)
    });
  }

  function byModel(chart) {
    if (!chart) return;
    draw("chart-cost-by-model", {
      type: "bar",
      data: { labels: chart.labels, datasets: [{ label: "Cost", data: chart.values, backgroundColor: cssVar("--accent") }] },
      options: options(false, true, false)
    });
  }

  function forecast(chart) {
    if (!chart || !chart.labels) return;
    var warn = cssVar("--warn"), band = cssVar("--band");
    draw("chart-forecast", {
      type: "line",
      data: {
        labels: chart.labels,
        datasets: [
          { label: "History", data: chart.history, borderColor: cssVar("--accent"), backgroundColor: cssVar("--accent"), pointRadius: 0, spanGaps: false },
          { label: "Lower bound", data: chart.lower, borderColor: band, backgroundColor: band, pointRadius: 0, fill: false },
          { label: "Upper bound", data: chart.upper, borderColor: band, backgroundColor: band, pointRadius: 0, fill: "-1" },
          { label: "Forecast", data: chart.forecast, borderColor: warn, backgroundColor: warn, borderDash: [6, 4], pointRadius: 0 }
        ]
      },
      options: options(false, false, true)
    });
  }

  function render() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var source = document.getElementById("cost-chart-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    byDay(data.by_day);
    byModel(data.by_model);
    forecast(data.forecast);
  }

  document.addEventListener("DOMContentLoaded", function () {
    render();
    new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  });
})();
