// Live worksets: one websocket (/ws/worksets/) redraws the worksets list, a workset's page and the dashboard
// as worksets change, without a reload. Everything it touches is marked with data-live-* attributes; no inline
// script, no library. The socket reconnects with exponential backoff and catches up when it is back.
(function () {
  "use strict";

  var REFRESH_DELAY_MS = 250;
  var FAILED = ["failed", "dead_letter", "cancelled"];
  var each = window.RunyardLive.each, connect = window.RunyardLive.connect;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function money(value, digits) {
    if (value === null || value === undefined || value === "") return "—";
    return "$" + Number(value).toFixed(digits || 2);
  }

  function stepsDone(steps) {
    return steps.filter(function (step) { return step.status === "succeeded"; }).length;
  }

  function stepRow(step, index) {
    var row = el("tr", { "data-step": step.name });
    row.appendChild(el("td", { "class": "num" }, String(index + 1)));
    row.appendChild(el("td", {}, step.name));
    var status = el("td");
    status.appendChild(el("span", { "class": "pill step-status step-" + step.status }, step.status));
    row.appendChild(status);
    row.appendChild(el("td", { "class": "num" }, step.exit_code === null ? "—" : String(step.exit_code)));
    return row;
  }

  // Redraw what ``scope`` shows of a workset (the list's row, or the whole detail page).
  function render(scope, workset) {
    var steps = workset.steps || [];
    each(scope, "[data-live-state]", function (node) {
      node.textContent = workset.state;
      node.className = "pill state state-" + workset.state;
    });
    each(scope, "[data-live-progress]", function (node) {
      node.value = workset.progress;
      node.textContent = workset.progress + " %";
      node.classList.toggle("progress-failed", FAILED.indexOf(workset.state) >= 0);
    });
    each(scope, "[data-live-current-step]", function (node) {
      node.textContent = workset.current_step || node.dataset.empty || "";
    });
    each(scope, "[data-live-steps-done]", function (node) {
      node.textContent = stepsDone(steps) + " of " + steps.length + " steps done";
    });
    each(scope, "[data-live-cluster]", function (node) { node.textContent = workset.cluster || "—"; });
    each(scope, "[data-live-failure]", function (node) {
      node.hidden = !workset.failure_code;
      each(node, "code", function (code) { code.textContent = workset.failure_code || ""; });
    });
    each(scope, "[data-live-stale]", function (node) {
      node.hidden = workset.state === node.dataset.renderedState;
    });
    each(scope, "[data-live-cost-estimated]", function (node) { node.textContent = money(workset.estimated_cost_usd); });
    each(scope, "[data-live-cost-measured]", function (node) { node.textContent = money(workset.measured_cost_usd, 4); });
    if (steps.length) {
      each(scope, "[data-live-steps]", function (body) {
        body.replaceChildren.apply(body, steps.map(stepRow));
      });
    }
    if (typeof workset.log_tail === "string") {
      each(scope, "[data-live-log]", function (node) {
        node.textContent = workset.log_tail;
        node.scrollTop = node.scrollHeight;
      });
    }
  }

  function detailPage(root) {
    var code = root.dataset.liveWorkset;
    connect(root.dataset.liveSocket, {
      ready: function (message, send) { send({ type: "follow", code: code }); },
      following: function (message) { render(document, message.workset); },
      "workset.update": function (message) {
        if (message.workset.code === code) render(document, message.workset);
      }
    });
  }

  function listPage(root) {
    connect(root.dataset.liveSocket, {
      "workset.update": function (message) {
        var row = root.querySelector('[data-workset-row="' + CSS.escape(message.workset.code) + '"]');
        if (row) render(row, message.workset);
        else each(document, "[data-live-new]", function (node) { node.hidden = false; });
      }
    });
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); });
  }

  // The dashboard asks the API again (debounced) rather than counting messages, so it never drifts.
  function dashboard(root) {
    var timer = null;
    function refresh() {
      timer = null;
      getJson(root.dataset.statsUrl).then(function (stats) {
        each(root, "[data-live-count]", function (node) {
          node.textContent = node.dataset.states.split(" ").reduce(function (sum, state) {
            return sum + (stats.by_state[state] || 0);
          }, 0);
        });
      }).catch(function () {});
      getJson(root.dataset.usageUrl).then(function (usage) {
        each(root, "[data-live-cost]", function (node) {
          node.textContent = usage.pricing_error ? "—" : "$" + usage.total;
        });
      }).catch(function () {});
    }
    function later() {
      if (timer === null) timer = window.setTimeout(refresh, REFRESH_DELAY_MS);
    }
    connect(root.dataset.liveSocket, { ready: later, "workset.update": later });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-live-workset]");
    if (root) return detailPage(root);
    root = document.querySelector("[data-live-list]");
    if (root) return listPage(root);
    root = document.querySelector("[data-live-dashboard]");
    if (root) dashboard(root);
  });
})();
