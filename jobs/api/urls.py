"""``/api/v1/`` routes of the jobs app.

Explicit paths under ``worksets/`` (generate-yaml, parse, discover, validate, estimate) go ABOVE the
router include: the router would otherwise read them as a workset code.
"""

from django.urls import include, path

from jobs.api.validation import EstimateView, ValidateView
from jobs.api.worksets import router

urlpatterns = [
    # explicit worksets/<verb> paths here, before the router
    path("worksets/validate", ValidateView.as_view(), name="api-workset-validate"),
    path("worksets/estimate", EstimateView.as_view(), name="api-workset-estimate"),
    path("", include(router.urls)),
]
