// The YAML generator: the form, sample rows, CSV import and bucket discovery; the preview and downloads
// come from POST /api/v1/worksets/generate-yaml (debounced as you type). "Check and estimate" sends the same
// spec to /api/v1/worksets/validate, "Submit workset" to /api/v1/worksets. No inline script, no library.
(function () {
  "use strict";

  var DEBOUNCE_MS = 300;
  var root, form, rows, latest = null, sent = 0, timer = null;
  var specRows = [];  // the table row of each sample in the spec fields() built last, by index

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    return node;
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function errorText(payload, status) {
    var error = payload && payload.error;
    if (!error) return "The request failed (HTTP " + status + ").";
    var messages = [];
    Object.keys(error.fields || {}).forEach(function (name) { messages = messages.concat(error.fields[name]); });
    return messages.length ? messages.join(" ") : error.message;
  }

  function showError(message) {
    $("g-error").textContent = message || "";
    $("g-error").hidden = !message;
  }

  function request(method, url, body) {
    var options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrfToken();
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (payload) {
        if (!response.ok) {
          var failure = new Error(errorText(payload, response.status));
          failure.status = response.status;
          failure.payload = payload;
          throw failure;
        }
        return payload;
      });
    });
  }

  // --- sample rows ---

  function cell(row, name, value, label, extra) {
    var input = el("input", { name: name, "aria-label": label, autocomplete: "off" });
    Object.keys(extra || {}).forEach(function (key) { input.setAttribute(key, extra[key]); });
    input.value = value == null ? "" : value;
    var td = el("td");
    td.appendChild(input);
    row.appendChild(td);
  }

  function addRow(sample) {
    sample = sample || {};
    var number = rows.children.length + 1;
    var row = el("tr", { "class": "sample-row" });
    cell(row, "sample_id", sample.sample_id, "Sample " + number + " ID", { placeholder: "HG002" });
    cell(row, "fastq_r1", sample.fastq_r1, "Sample " + number + " R1", { placeholder: "inputs/HG002_R1.fastq.gz" });
    cell(row, "fastq_r2", sample.fastq_r2, "Sample " + number + " R2", { placeholder: "optional" });
    cell(row, "coverage", sample.coverage, "Sample " + number + " coverage",
      { type: "number", min: "0", step: "any", "class": "coverage" });
    var remove = el("button", { type: "button", "class": "link remove-row", text: "Remove",
      "aria-label": "Remove sample " + number });
    var td = el("td");
    td.appendChild(remove);
    row.appendChild(td);
    rows.appendChild(row);
  }

  // Labels say which row they are in, so they follow removals.
  function renumber() {
    Array.prototype.forEach.call(rows.children, function (row, index) {
      var number = index + 1;
      row.querySelector("[name='sample_id']").setAttribute("aria-label", "Sample " + number + " ID");
      row.querySelector("[name='fastq_r1']").setAttribute("aria-label", "Sample " + number + " R1");
      row.querySelector("[name='fastq_r2']").setAttribute("aria-label", "Sample " + number + " R2");
      row.querySelector("[name='coverage']").setAttribute("aria-label", "Sample " + number + " coverage");
      row.querySelector(".remove-row").setAttribute("aria-label", "Remove sample " + number);
    });
  }

  function setRows(samples) {
    rows.textContent = "";
    samples.forEach(addRow);
    if (!samples.length) addRow();
    schedule(0);
  }

  function rowValues() {
    var samples = [];
    specRows = [];
    Array.prototype.forEach.call(rows.querySelectorAll("tr"), function (row) {
      var value = function (name) { return row.querySelector("[name='" + name + "']").value.trim(); };
      if (!value("sample_id") && !value("fastq_r1") && !value("fastq_r2")) return;  // an empty row
      var coverage = value("coverage");
      samples.push({
        sample_id: value("sample_id"),
        fastq_r1: value("fastq_r1"),
        fastq_r2: value("fastq_r2") || null,
        coverage: coverage === "" ? null : Number(coverage)
      });
      specRows.push(row);
    });
    return samples;
  }

  // --- the spec the form describes ---

  function fields() {
    var value = function (id) { return $(id).value.trim(); };
    var spec = {
      name: value("g-name"),
      pipeline: value("g-pipeline"),
      reference_genome: value("g-reference"),
      priority: value("g-priority"),
      samples: rowValues(),
      notes: $("g-notes").value
    };
    var retries = value("g-retries"), coverage = value("g-coverage");
    if (retries !== "") spec.max_retries = Number(retries);
    spec.coverage = coverage === "" ? null : Number(coverage);
    spec.preferred_cluster = value("g-cluster") || null;
    spec.export_uri = value("g-export") || null;
    var emails = value("g-emails").split(/[\s,;]+/).filter(Boolean);
    if (emails.length) spec.notifications = { emails: emails, events: ["completed", "failed", "dead_letter"] };
    return spec;
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay === undefined ? DEBOUNCE_MS : delay);
  }

  function refresh() {
    var number = ++sent;
    request("POST", root.dataset.generate, fields()).then(function (result) {
      if (number !== sent) return;  // a newer request is on its way
      latest = result;
      showError("");
      render();
    }).catch(function (error) { if (number === sent) showError(error.message); });
  }

  function render() {
    if (!latest) return;
    var format = $("g-format").value, text = latest[format];
    $("g-preview").textContent = text == null
      ? "daylily_work.yaml needs a pipeline from the catalogue."
      : text;
    var list = $("g-problems");
    list.textContent = "";
    latest.problems.forEach(function (problem) {
      var item = el("li");
      if (problem.field) { item.appendChild(el("code", { text: problem.field })); item.appendChild(document.createTextNode(": ")); }
      item.appendChild(document.createTextNode(problem.message));
      list.appendChild(item);
    });
    $("dl-daylily").disabled = latest.daylily_work_yaml == null;
  }

  function coverageDefault() {
    var option = $("g-pipeline").selectedOptions[0];
    $("g-coverage-default").textContent = option ? option.dataset.coverage || "" : "";
  }

  // --- downloads ---

  function slug(text) {
    return (text || "workset").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "workset";
  }

  function download(format) {
    if (!latest || latest[format] == null) return;
    var names = {
      yaml: slug(latest.spec.name) + ".yaml",
      daylily_work_yaml: "daylily_work.yaml",
      stage_samples_tsv: "stage_samples.tsv"
    };
    var type = format === "stage_samples_tsv" ? "text/tab-separated-values" : "application/yaml";
    var url = URL.createObjectURL(new Blob([latest[format]], { type: type }));
    var link = el("a", { href: url, download: names[format] });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  // --- check, estimate and submit ---

  var SAMPLE_FIELD = /^samples\[(\d+)\](?:\.([a-z_0-9]+))?/;

  function busy(text) {
    ["g-check", "g-submit"].forEach(function (id) { if ($(id)) $(id).disabled = true; });
    $("g-busy").hidden = false;
    $("g-check-problems").setAttribute("aria-busy", "true");
    status(text);
    showError("");
  }

  function idle() {
    ["g-check", "g-submit"].forEach(function (id) { if ($(id)) $(id).disabled = false; });
    $("g-busy").hidden = true;
    $("g-check-problems").removeAttribute("aria-busy");
  }

  function status(text) { $("g-check-status").textContent = text; }

  function clearMark(input) {
    input.classList.remove("invalid", "warned");
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
    var holder = input.parentNode;
    Array.prototype.forEach.call(holder.querySelectorAll(".field-problem"), function (note) { note.remove(); });
  }

  function clearMarks() {
    Array.prototype.forEach.call(form.querySelectorAll(".invalid, .warned"), clearMark);
  }

  // The input a problem's field names: a sample's (samples[2].fastq_r1, on that sample's row) or the form's.
  function inputFor(field, rowsOfSpec) {
    var match = SAMPLE_FIELD.exec(field || "");
    if (match) {
      var row = rowsOfSpec[Number(match[1])];
      if (!row || !row.isConnected) return null;
      return row.querySelector("[name='" + CSS.escape(match[2] || "sample_id") + "']") ||
        row.querySelector("[name='sample_id']");
    }
    var name = (field || "").split(/[.[]/)[0];
    return name ? form.querySelector("[name='" + CSS.escape(name) + "']") : null;
  }

  function mark(problem, rowsOfSpec, number) {
    var input = inputFor(problem.field, rowsOfSpec);
    if (!input) return;
    var error = problem.severity !== "warning";
    if (!input.classList.contains("invalid")) input.classList.add(error ? "invalid" : "warned");
    if (error) input.setAttribute("aria-invalid", "true");
    var note = el("span", { "class": "field-problem" + (error ? "" : " warning"), id: "g-field-problem-" + number,
      text: problem.code + ": " + problem.message });
    input.parentNode.appendChild(note);
    var described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", (described ? described + " " : "") + note.id);
  }

  function problemItem(problem) {
    var severity = problem.severity === "warning" ? "warning" : "error";
    var item = el("li", { "class": "problem-" + severity, "data-field": problem.field || "" });
    item.appendChild(el("span", { "class": "severity", text: severity }));
    if (problem.code) item.appendChild(el("strong", { text: problem.code }));
    if (problem.field) { item.appendChild(document.createTextNode(" ")); item.appendChild(el("code", { text: problem.field })); }
    item.appendChild(document.createTextNode((problem.code || problem.field ? ": " : "") + problem.message));
    if (problem.fix) item.appendChild(el("span", { "class": "fix", text: " (fix: " + problem.fix + ")" }));
    return item;
  }

  function showProblems(problems, rowsOfSpec) {
    var list = $("g-check-problems");
    list.textContent = "";
    list.classList.remove("check-stale");
    clearMarks();
    problems.forEach(function (problem, index) {
      list.appendChild(problemItem(problem));
      mark(problem, rowsOfSpec, index);
    });
  }

  // A refused submission names each field with lines like "WS-CFG-004: not found in bucket (fix: …)".
  function problemsFromFields(fieldErrors) {
    var problems = [];
    Object.keys(fieldErrors || {}).forEach(function (field) {
      [].concat(fieldErrors[field]).forEach(function (text) {
        var match = /^(WS-[A-Z]+-\d+): ([\s\S]*?)(?: \(fix: ([\s\S]*)\))?$/.exec(String(text));
        problems.push({
          code: match ? match[1] : "", severity: "error", field: field === "spec" ? "" : field,
          message: match ? match[2] : String(text), fix: match && match[3] ? match[3] : ""
        });
      });
    });
    return problems;
  }

  // The API sends decimals as strings with their full scale ("90.00000000"); two places are plenty here.
  function decimal(text) {
    var number = Number(text);
    return isNaN(number) ? String(text) : number.toLocaleString("en", { maximumFractionDigits: 2 });
  }

  function showEstimate(estimate) {
    $("g-estimate").hidden = !estimate;
    $("g-estimate").classList.remove("check-stale");
    if (!estimate) return;
    $("g-est-cost").textContent = estimate.cost_usd == null ? "—" : "$" + estimate.cost_usd;
    $("g-est-duration").textContent = decimal(estimate.duration_hours) + " h";
    $("g-est-vcpu").textContent = decimal(estimate.vcpu_hours);
    $("g-est-storage").textContent = decimal(estimate.storage_gb) + " GB";
    $("g-est-basis").textContent = (estimate.label || "estimated") + ", " + estimate.basis;
  }

  // The form's fields are a spec without its version (the preview adds it); validate and submit want it whole.
  function versionedSpec() {
    var spec = fields();
    spec.spec_version = Number(root.dataset.specVersion);
    return spec;
  }

  function count(number, word) { return number + " " + word + (number === 1 ? "" : "s"); }

  function check() {
    var spec = versionedSpec(), rowsOfSpec = specRows.slice();
    busy("Checking and estimating…");
    request("POST", root.dataset.validate, { spec: spec }).then(function (report) {
      showProblems(report.problems, rowsOfSpec);
      showEstimate(report.estimate);
      status(report.valid
        ? "Valid" + (report.warnings ? ", with " + count(report.warnings, "warning") : "") + ": ready to submit."
        : "Not valid: " + count(report.errors, "error") + " to fix" +
          (report.warnings ? ", " + count(report.warnings, "warning") : "") + ".");
    }).catch(function (error) { status(""); showError(error.message); }).then(idle);
  }

  function submit() {
    var spec = versionedSpec(), rowsOfSpec = specRows.slice();
    busy("Submitting…");
    request("POST", root.dataset.submit, { spec: spec }).then(function (workset) {
      status("Submitted as " + workset.code + " (" + workset.state + "); opening it…");
      window.location.assign(root.dataset.worksetUrl.replace("code-00000000", encodeURIComponent(workset.code)));
    }).catch(function (error) {
      var fieldErrors = error.status === 400 && error.payload && error.payload.error && error.payload.error.fields;
      if (fieldErrors) {
        showProblems(problemsFromFields(fieldErrors), rowsOfSpec);
        status("Not submitted: fix the problems below.");
      } else {
        status("");
        showError(error.message);
      }
      idle();
    });
  }

  // After an edit the last check describes an older spec: say so, and drop the edited field's mark.
  function staleCheck(target) {
    if (target && target.classList && (target.classList.contains("invalid") || target.classList.contains("warned"))) {
      clearMark(target);
    }
    if ($("g-check-problems").children.length || !$("g-estimate").hidden) {
      $("g-check-problems").classList.add("check-stale");
      $("g-estimate").classList.add("check-stale");
      status("The form changed since the last check; check again.");
    }
  }

  // --- CSV import and discovery ---

  function parseCsv(text) {
    var samples = [];
    text.split(/\r\n|\r|\n/).forEach(function (line, index) {
      if (!line.trim()) return;
      var cells = line.split(/[,\t;]/).map(function (part) { return part.trim().replace(/^"|"$/g, ""); });
      if (index === 0 && /sample/i.test(cells[0])) return;  // a header row
      samples.push({ sample_id: cells[0], fastq_r1: cells[1] || "", fastq_r2: cells[2] || null, coverage: null });
    });
    return samples;
  }

  function importCsv(file) {
    var reader = new FileReader();
    reader.onload = function () {
      var samples = parseCsv(String(reader.result));
      setRows(samples);
      note(samples.length + " sample" + (samples.length === 1 ? "" : "s") + " imported from " + file.name + ".");
    };
    reader.readAsText(file);
  }

  function note(text) { $("g-samples-note").textContent = text; }

  function discover() {
    var prefix = $("g-prefix").value.trim();
    note("Looking for FASTQ pairs under " + (prefix || "the top of your bucket") + "…");
    request("GET", root.dataset.discover + "?prefix=" + encodeURIComponent(prefix)).then(function (found) {
      var message = found.samples.length + " pair" + (found.samples.length === 1 ? "" : "s") + " found";
      if (found.unpaired.length) message += "; without a mate: " + found.unpaired.join(", ");
      if (found.truncated) message += " (only the first files were searched; narrow the folder)";
      note(message + ".");
      if (found.samples.length) setRows(found.samples);
    }).catch(function (error) { note(""); showError(error.message); });
  }

  function start() {
    root = $("generator");
    if (!root) return;
    form = $("generator-form");
    rows = $("g-samples");
    addRow();
    coverageDefault();
    form.addEventListener("input", function (event) { staleCheck(event.target); schedule(); });
    form.addEventListener("change", function (event) {
      if (event.target.id === "g-pipeline") coverageDefault();
      if (event.target.id === "g-csv" && event.target.files.length) { importCsv(event.target.files[0]); event.target.value = ""; return; }
      schedule();
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); schedule(0); });
    rows.addEventListener("click", function (event) {
      if (!event.target.classList.contains("remove-row")) return;
      event.target.closest("tr").remove();
      if (!rows.children.length) addRow();
      renumber();
      schedule(0);
    });
    $("g-add").addEventListener("click", function () { addRow(); rows.lastChild.querySelector("input").focus(); });
    $("g-discover").addEventListener("click", discover);
    $("g-prefix").addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); discover(); }
    });
    $("g-format").addEventListener("change", render);
    $("g-check").addEventListener("click", check);
    if ($("g-submit")) $("g-submit").addEventListener("click", submit);
    Array.prototype.forEach.call(root.querySelectorAll(".downloads button"), function (button) {
      button.addEventListener("click", function () { download(button.dataset.format); });
    });
    schedule(0);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
