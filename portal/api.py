"""The API routers: tenant hosts serve ``/api/v1/``; the public host serves the operators' API."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from tenants.api.customers import CustomerViewSet
from tenants.api.views import ApiTokenViewSet, MembershipViewSet, MeView

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("members", MembershipViewSet, basename="member")

public_router = DefaultRouter(trailing_slash=False)
public_router.include_root_view = False
public_router.include_format_suffixes = False
public_router.register("customers", CustomerViewSet, basename="customer")

docs_urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads its start-up script from a URL and our template its styles from a file: the CSP
    # forbids inline scripts and styles.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="portal/swagger_ui.html"),
        name="api-docs",
    ),
]

urlpatterns = [
    path("api/v1/me", MeView.as_view(), name="api-me"),
    path("api/v1/", include("tenants.api.billing")),
    path("api/v1/", include("tenants.api.activity")),
    path("api/v1/", include("tenants.api.files")),
    path("api/v1/", include("jobs.api.urls")),
    path("api/v1/", include("analysis.api.iss_urls")),
    path("api/v1/", include("jobs.notifications.api.urls")),
    path("api/v1/", include("analysis.api.urls")),
    path("api/v1/", include("analysis.api.cost_urls")),
    path("api/v1/", include("analysis.api.cost_data_urls")),
    path("api/v1/", include("chat.api.urls")),
    path("api/v1/", include(router.urls)),
    *docs_urlpatterns,
]

public_urlpatterns = [
    path("api/v1/", include(public_router.urls)),
    *docs_urlpatterns,
]
