"""The YAML generator page: a form whose preview and downloads come from ``/api/v1/worksets/generate-yaml``.

The page is a shell: ``static/js/generator.js`` keeps the form, the sample rows, CSV import, bucket
discovery and the live preview. The pipeline and reference lists come from the catalogue, as everywhere.
"""

from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from jobs.generator import catalogue


@ensure_csrf_cookie  # generator.js sends the cookie's token with its POSTs
def generator(request):
    options = catalogue()
    context = {
        **options,
        "default_coverage": {p["code"]: p["default_coverage"] for p in options["pipelines"]},
    }
    return render(request, "jobs/generator.html", context)
