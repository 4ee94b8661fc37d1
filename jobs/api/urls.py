"""``/api/v1/`` routes of the jobs app.

Explicit paths under ``worksets/`` (generate-yaml, parse, discover, validate, estimate) go ABOVE the
router include: the router would otherwise read them as a workset code.
"""

from django.urls import include, path

from jobs.api.generator import DiscoverView, GenerateYamlView, ParseView
from jobs.api.queue import QueueStatsView
from jobs.api.validation import EstimateView, ValidateView
from jobs.api.worksets import router

urlpatterns = [
    # explicit worksets/<verb> paths here, before the router
    path("worksets/validate", ValidateView.as_view(), name="api-workset-validate"),
    path("worksets/estimate", EstimateView.as_view(), name="api-workset-estimate"),
    path("worksets/generate-yaml", GenerateYamlView.as_view(), name="api-workset-generate-yaml"),
    path("worksets/parse", ParseView.as_view(), name="api-workset-parse"),
    path("worksets/discover", DiscoverView.as_view(), name="api-workset-discover"),
    path("queue/stats", QueueStatsView.as_view(), name="api-queue-stats"),
    path("", include(router.urls)),
]
