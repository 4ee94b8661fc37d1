"""Pages of the jobs app, included from ``portal.urls`` at ``worksets/``.

A workset's pages match only a workset code (``<slug>-<8 hex>``), so other pages added here (the YAML
generator) are never read as a code, wherever they go in the list.
"""

from django.urls import path, re_path

from jobs.views import generator, worksets

CODE = r"(?P<code>[a-z0-9_-]+-[0-9a-f]{8})"

urlpatterns = [
    path("", worksets.worksets, name="worksets"),
    path("new/", worksets.new_workset, name="new_workset"),
    path("generator/", generator.generator, name="workset_generator"),
    re_path(rf"^{CODE}/$", worksets.workset, name="workset"),
    re_path(rf"^{CODE}/(?P<verb>[a-z]+)/$", worksets.workset_action, name="workset_action"),
]
