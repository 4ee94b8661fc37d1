"""URLconf of tenant hosts (<slug>.<base domain>)."""

from django.urls import include, path

from portal import api

handler404 = "portal.rest.json_404"
handler500 = "portal.outage.server_error"

urlpatterns = [
    path("", include("tenants.urls")),
    path("worksets/", include("jobs.urls")),
    path("notifications/", include("jobs.notifications.urls")),
    path("profiles/", include("analysis.urls")),
    path("costs/", include("analysis.cost_urls")),
    path("costs/", include("analysis.cost_data_urls")),
    path("knowledge/", include("chat.knowledge.urls")),
    path("chat/", include("chat.urls")),
    path("automation/", include("jobs.automation.urls")),
    path("accounts/", include("allauth.urls")),
    *api.urlpatterns,
]
