"""``/api/v1/`` routes of the analysis app."""

from django.urls import include, path

from analysis.api.views import router

urlpatterns = [path("", include(router.urls))]
