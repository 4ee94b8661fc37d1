// The file browser: lists, uploads (whole or in parts), previews and deletes through /api/v1/files….
// Configuration comes from data attributes on #file-browser; no inline script, no library.
(function () {
  "use strict";

  var root, api, canWrite, partSize;
  var state = { prefix: "", next: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function formatBytes(count) {
    var units = ["B", "KB", "MB", "GB", "TB"], size = count, unit = 0;
    while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
    return unit === 0 ? size + " B" : size.toFixed(1) + " " + units[unit];
  }

  // The API's error shape: {"error": {"code", "message", "fields"?}}; field messages say the most.
  function errorText(payload, status) {
    var error = payload && payload.error;
    if (!error) return "The request failed (HTTP " + status + ").";
    if (error.fields) {
      var messages = [];
      Object.keys(error.fields).forEach(function (name) { messages = messages.concat(error.fields[name]); });
      if (messages.length) return messages.join(" ");
    }
    return error.message || "The request failed (HTTP " + status + ").";
  }

  function showError(message) {
    var line = $("files-error");
    line.textContent = message;
    line.hidden = !message;
  }

  // One XMLHttpRequest for every call: fetch cannot report upload progress.
  function send(method, url, body, options) {
    options = options || {};
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Accept", "application/json");
      if (method !== "GET") xhr.setRequestHeader("X-CSRFToken", csrfToken());
      if (options.contentType) xhr.setRequestHeader("Content-Type", options.contentType);
      if (options.onProgress && xhr.upload) {
        xhr.upload.onprogress = function (event) { if (event.lengthComputable) options.onProgress(event.loaded); };
      }
      xhr.onload = function () {
        var payload = null;
        try { payload = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (ignored) { payload = null; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(payload);
        else reject(new Error(errorText(payload, xhr.status)));
      };
      xhr.onerror = function () { reject(new Error("The portal could not be reached; check your connection.")); };
      xhr.send(body === undefined ? null : body);
    });
  }

  function sendJson(method, url, data) {
    return send(method, url, JSON.stringify(data), { contentType: "application/json" });
  }

  function query(params) {
    return Object.keys(params).filter(function (name) { return params[name] !== null && params[name] !== undefined; })
      .map(function (name) { return encodeURIComponent(name) + "=" + encodeURIComponent(params[name]); }).join("&");
  }

  // --- listing and navigation ---

  function load(append) {
    var params = { prefix: state.prefix, cursor: append ? state.next : null };
    return send("GET", api + "?" + query(params)).then(function (listing) {
      showError("");
      state.next = listing.next;
      renderRows(listing, append);
      $("load-more").hidden = !listing.next;
    }).catch(function (error) { showError(error.message); });
  }

  function renderRows(listing, append) {
    var body = $("files-body");
    if (!append) body.textContent = "";
    listing.folders.forEach(function (folder) { body.appendChild(folderRow(folder)); });
    listing.files.forEach(function (file) { body.appendChild(fileRow(file)); });
    if (!body.children.length) {
      var text = canWrite ? "No files yet — drop files here" : "No files yet";
      body.appendChild(el("tr", {}, [el("td", { colspan: "4", class: "empty", "data-testid": "files-empty", text: text })]));
    }
  }

  function folderRow(folder) {
    var open = el("a", { href: pageUrl(folder.prefix), class: "folder-link", text: folder.name + "/" });
    open.addEventListener("click", function (event) { event.preventDefault(); navigate(folder.prefix, true); });
    var actions = el("td", { class: "actions" });
    if (canWrite) actions.appendChild(deleteButton(folder.prefix, folder.name + "/"));
    return el("tr", { "data-key": folder.prefix, class: "folder-row" },
      [el("td", {}, [el("span", { class: "icon icon-folder", "aria-hidden": "true" }), open]),
        el("td", { text: "—" }), el("td", { text: "" }), actions]);
  }

  function fileRow(file) {
    var download = el("a", { href: api + "/download?" + query({ key: file.key }), download: file.name, text: "Download" });
    var preview = el("button", { type: "button", class: "link", text: "Preview" });
    preview.addEventListener("click", function () { showPreview(file); });
    var actions = el("td", { class: "actions" }, [preview, download]);
    if (canWrite) actions.appendChild(deleteButton(file.key, file.name));
    return el("tr", { "data-key": file.key }, [
      el("td", {}, [el("span", { class: "icon", "aria-hidden": "true" }), el("span", { text: file.name })]),
      el("td", { text: formatBytes(file.size) }),
      el("td", { text: new Date(file.modified).toLocaleString() }),
      actions,
    ]);
  }

  function deleteButton(key, name) {
    var button = el("button", { type: "button", class: "link danger-link", text: "Delete" });
    button.addEventListener("click", function () {
      if (!window.confirm("Delete “" + name + "”? An operator can restore it.")) return;
      send("DELETE", api + "/object?" + query({ key: key })).then(function () { load(false); })
        .catch(function (error) { showError(error.message); });
    });
    return button;
  }

  function pageUrl(prefix) {
    return window.location.pathname + (prefix ? "?" + query({ prefix: prefix }) : "");
  }

  function navigate(prefix, push) {
    state.prefix = prefix;
    state.next = null;
    if (push) window.history.pushState({ prefix: prefix }, "", pageUrl(prefix));
    renderBreadcrumbs();
    hidePreview();
    return load(false);
  }

  function renderBreadcrumbs() {
    var nav = $("breadcrumbs"), parts = state.prefix.split("/").filter(Boolean), path = "";
    nav.textContent = "";
    var crumbs = [{ name: "All files", prefix: "" }].concat(parts.map(function (part) {
      path += part + "/";
      return { name: part, prefix: path };
    }));
    crumbs.forEach(function (crumb, index) {
      if (index) nav.appendChild(el("span", { class: "crumb-sep", "aria-hidden": "true", text: "/" }));
      if (index === crumbs.length - 1) {
        nav.appendChild(el("span", { "aria-current": "location", text: crumb.name }));
        return;
      }
      var link = el("a", { href: pageUrl(crumb.prefix), text: crumb.name });
      link.addEventListener("click", function (event) { event.preventDefault(); navigate(crumb.prefix, true); });
      nav.appendChild(link);
    });
  }

  // --- preview ---

  function hidePreview() { $("preview").hidden = true; }

  function showPreview(file) {
    send("GET", api + "/preview?" + query({ key: file.key })).then(function (preview) {
      showError("");
      var body = $("preview-body");
      body.textContent = "";
      $("preview-title").textContent = "Preview of " + file.name;
      body.appendChild(preview.kind === "table" ? previewTable(preview) : el("pre", { text: preview.text }));
      $("preview").hidden = false;
    }).catch(function (error) { showError(error.message); });
  }

  function previewTable(preview) {
    var rows = preview.rows || [], table = el("table", { class: "preview-table" });
    if (rows.length) {
      table.appendChild(el("thead", {}, [el("tr", {}, rows[0].map(function (cell) { return el("th", { text: cell }); }))]));
    }
    table.appendChild(el("tbody", {}, rows.slice(1).map(function (row) {
      return el("tr", {}, row.map(function (cell) { return el("td", { text: cell }); }));
    })));
    var wrapper = el("div", { class: "preview-scroll" }, [table]);
    if (preview.truncated) wrapper.appendChild(el("p", { class: "muted", text: "Only the first rows are shown." }));
    return wrapper;
  }

  // --- uploads ---

  function uploadRow(file) {
    var bar = el("progress", { class: "progress", max: "100", value: "0", "aria-label": "Upload of " + file.name });
    var label = el("span", { class: "upload-percent", text: "0 %" });
    var row = el("li", { class: "upload", "data-name": file.name },
      [el("span", { class: "upload-name", text: file.name }), bar, label]);
    $("uploads").appendChild(row);
    return {
      progress: function (done) {
        var percent = file.size ? Math.min(100, Math.floor((done / file.size) * 100)) : 100;
        bar.value = percent;
        label.textContent = percent + " %";
      },
      fail: function (message) { row.classList.add("upload-failed"); label.textContent = message; },
      done: function () { bar.value = 100; label.textContent = "100 % — done"; row.classList.add("upload-done"); },
    };
  }

  function uploadWhole(file, prefix, row) {
    var form = new FormData();
    form.append("file", file);
    form.append("prefix", prefix);
    return send("POST", api + "/upload", form, { onProgress: row.progress });
  }

  function uploadInParts(file, prefix, row) {
    return sendJson("POST", api + "/uploads", { key: prefix + file.name, size: file.size }).then(function (started) {
      var url = api + "/uploads/" + encodeURIComponent(started.upload), size = started.part_size, parts = [];
      var count = Math.ceil(file.size / size);
      var chain = Promise.resolve();
      for (var index = 0; index < count; index += 1) {
        chain = chain.then(sendPart.bind(null, file, url, index, size, parts, row));
      }
      return chain.then(function () {
        return sendJson("POST", url + "/complete", { parts: parts });
      }).catch(function (error) {
        send("DELETE", url).catch(function () { /* the upload expires on its own */ });
        throw error;
      });
    });
  }

  function sendPart(file, url, index, size, parts, row) {
    var start = index * size, blob = file.slice(start, Math.min(start + size, file.size));
    return send("PUT", url + "/parts/" + (index + 1), blob, {
      contentType: "application/octet-stream",
      onProgress: function (loaded) { row.progress(start + loaded); },
    }).then(function (part) { parts.push({ number: part.number, etag: part.etag }); row.progress(start + blob.size); });
  }

  function uploadAll(files) {
    var prefix = state.prefix;
    showError("");
    var chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () {
        var row = uploadRow(file);
        var upload = file.size > partSize ? uploadInParts(file, prefix, row) : uploadWhole(file, prefix, row);
        return upload.then(row.done).catch(function (error) {
          row.fail("failed");
          showError(file.name + ": " + error.message);
        });
      });
    });
    return chain.then(function () { if (state.prefix === prefix) return load(false); });
  }

  function wireUploads() {
    var zone = $("dropzone"), input = $("file-input");
    input.addEventListener("change", function () { uploadAll(input.files).then(function () { input.value = ""; }); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) uploadAll(event.dataTransfer.files);
    });
    $("folder-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var name = $("folder-name");
      sendJson("POST", api + "/folders", { prefix: state.prefix, name: name.value }).then(function () {
        name.value = "";
        showError("");
        return load(false);
      }).catch(function (error) { showError(error.message); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = $("file-browser");
    if (!root) return;
    api = root.dataset.api;
    canWrite = root.dataset.canWrite === "true";
    partSize = parseInt(root.dataset.partSize, 10);
    $("load-more").addEventListener("click", function () { load(true); });
    $("preview-close").addEventListener("click", hidePreview);
    if (canWrite) wireUploads();
    window.addEventListener("popstate", function (event) {
      navigate((event.state && event.state.prefix) || "", false);
    });
    window.history.replaceState({ prefix: root.dataset.prefix || "" }, "");
    navigate(root.dataset.prefix || "", false);
  });
})();
