"""The YAML generator page: a form whose preview and downloads come from ``/api/v1/worksets/generate-yaml``.

The page is a shell: ``static/js/generator.js`` keeps the form, the sample rows, CSV import, bucket
discovery and the live preview, and it checks (``/api/v1/worksets/validate``) and submits
(``/api/v1/worksets``) the same spec. The pipeline and reference lists come from the catalogue, as everywhere.
Viewers may check but are shown no Submit button (the API refuses them anyway).
"""

from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from jobs.generator import catalogue
from jobs.spec import SPEC_VERSION
from jobs.views.worksets import _can_write


@ensure_csrf_cookie  # generator.js sends the cookie's token with its POSTs
def generator(request):
    options = catalogue()
    context = {
        **options,
        "default_coverage": {p["code"]: p["default_coverage"] for p in options["pipelines"]},
        "can_submit": _can_write(request),
        "spec_version": SPEC_VERSION,
    }
    return render(request, "jobs/generator.html", context)
