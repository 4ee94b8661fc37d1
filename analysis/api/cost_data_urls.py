"""``/api/v1/analytics/…`` routes that feed cost analytics: ingests, rates, teams and jobs."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from analysis.api import cost_data_views as views

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("analytics/ingests", views.IngestViewSet, basename="cost-ingest")
router.register("analytics/rates", views.RateViewSet, basename="cost-rate")
router.register("analytics/teams", views.TeamViewSet, basename="cost-team")
router.register("analytics/jobs", views.GpuJobViewSet, basename="cost-job")

urlpatterns = [path("", include(router.urls))]
