"""ISS API routes, included from ``portal.api`` at ``api/v1/``."""

from django.urls import path

from analysis.api import iss

urlpatterns = [
    path("iss/jobs", iss.IssJobsView.as_view(), name="api-iss-jobs"),
    path("iss/jobs/schema", iss.IssJobSchemaView.as_view(), name="api-iss-job-schema"),
    path("iss/jobs/<str:job_id>", iss.IssJobView.as_view(), name="api-iss-job"),
    path("iss/platforms", iss.IssPlatformsView.as_view(), name="api-iss-platforms"),
    path("iss/platforms/<str:platform_id>", iss.IssPlatformView.as_view(), name="api-iss-platform"),
]
