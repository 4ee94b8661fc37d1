// Usage page charts. Data comes from the page's <script type="application/json" id="usage-chart-data">
// (Django's json_script); colours come from the CSS variables, so the charts follow light and dark mode.
(function () {
  "use strict";
  var charts = [];

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function numbers(values) {
    return values.map(Number);
  }

  function palette() {
    return [cssVar("--accent"), cssVar("--ok"), cssVar("--warn"), cssVar("--danger"), cssVar("--muted"), cssVar("--text")];
  }

  function dollars(value) {
    return "$" + Number(value).toFixed(2);
  }

  function baseOptions(showLegend) {
    var text = cssVar("--text"), grid = cssVar("--border");
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      color: text,
      plugins: {
        legend: { display: showLegend, labels: { color: text } },
        tooltip: { callbacks: { label: function (item) { return (item.dataset.label ? item.dataset.label + ": " : "") + dollars(item.raw); } } }
      },
      scales: {
        x: { ticks: { color: text }, grid: { color: grid } },
        y: { beginAtZero: true, ticks: { color: text, callback: dollars }, grid: { color: grid } }
      }
    };
  }

  function build(data) {
    var colours = palette();
    charts.push(new Chart(document.getElementById("chart-daily"), {
      type: "bar",
      data: { labels: data.daily.labels, datasets: [{ label: "Cost", data: numbers(data.daily.values), backgroundColor: colours[0] }] },
      options: baseOptions(false)
    }));
    var doughnut = baseOptions(true);
    delete doughnut.scales;
    doughnut.plugins.tooltip.callbacks.label = function (item) { return item.label + ": " + dollars(item.raw); };
    charts.push(new Chart(document.getElementById("chart-categories"), {
      type: "doughnut",
      data: { labels: data.categories.labels, datasets: [{ data: numbers(data.categories.values), backgroundColor: colours, borderColor: cssVar("--surface") }] },
      options: doughnut
    }));
    charts.push(new Chart(document.getElementById("chart-comparison"), {
      type: "bar",
      data: {
        labels: data.comparison.labels,
        datasets: data.comparison.series.map(function (series, index) {
          return { label: series.label, data: numbers(series.values), backgroundColor: index === 0 ? colours[4] : colours[0] };
        })
      },
      options: baseOptions(true)
    }));
  }

  function render() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var source = document.getElementById("usage-chart-data");
    if (!source || typeof Chart === "undefined") return;
    build(JSON.parse(source.textContent));
  }

  document.addEventListener("DOMContentLoaded", function () {
    render();
    // The theme toggle swaps data-theme on <html>: redraw with the new colours.
    new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  });
})();
