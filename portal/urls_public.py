"""URLconf of the public host (the base domain): landing page, operators' admin and API."""

from django.contrib import admin
from django.urls import path

from portal import api, views
from tenants.admin_overview import overview_view
from tenants.views import signup

handler404 = "portal.rest.json_404"
handler500 = "portal.outage.server_error"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/overview/", admin.site.admin_view(overview_view), name="admin_overview"),
    path("admin/", admin.site.urls),
    path("signup/", signup.signup, name="signup"),
    path("signup/verify/<str:token>/", signup.signup_verify, name="signup_verify"),
    path("signup/<uuid:code>/", signup.signup_progress, name="signup_progress"),
    path("signup/<uuid:code>/status", signup.signup_status, name="signup_status"),
    *api.public_urlpatterns,
]
