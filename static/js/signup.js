// Self-service sign-up. On the form: the workspace address follows the organisation name until the
// person edits it. On the progress page: poll the status URL each second and redraw the steps.
(function () {
  function slugify(text) {
    var slug = text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-").replace(/^[^a-z]+/, "").replace(/-+$/, "");
    return slug.slice(0, 40).replace(/-+$/, "");
  }

  function wireSlug() {
    var name = document.getElementById("id_organisation");
    var slug = document.getElementById("id_slug");
    if (!name || !slug) return;
    var touched = slug.value !== "" && slug.value !== slugify(name.value);
    slug.addEventListener("input", function () { touched = slug.value !== ""; });
    name.addEventListener("input", function () {
      if (!touched) slug.value = slugify(name.value);
    });
  }

  function draw(status) {
    var bar = document.getElementById("signup-bar");
    bar.value = status.percent;
    bar.textContent = status.percent + " %";
    bar.classList.toggle("progress-failed", status.state === "failed");
    status.steps.forEach(function (step) {
      var item = document.querySelector('#signup-steps [data-step="' + step.key + '"]');
      if (item) item.className = "step step-" + step.state;
    });
    document.getElementById("signup-state").textContent = status.label;
    document.getElementById("signup-pending-note").hidden = status.state !== "pending";
    var error = document.getElementById("signup-error");
    error.textContent = status.error;
    error.hidden = !status.error;
    if (status.login_url) {
      document.getElementById("signup-login").href = status.login_url;
      document.getElementById("signup-ready").hidden = false;
    }
  }

  function poll(box) {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (status) draw(status);
        if (!status || (status.state !== "ready" && status.state !== "failed")) {
          window.setTimeout(function () { poll(box); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(box); }, 1000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireSlug();
    var box = document.getElementById("signup-progress");
    if (box && box.dataset.state !== "ready" && box.dataset.state !== "failed") poll(box);
  });
})();
