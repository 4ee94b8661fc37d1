"""URLconf of the public host (the base domain): landing page, operators' admin and API."""

from django.contrib import admin
from django.urls import path

from portal import api, views

handler404 = "portal.rest.json_404"
handler500 = "portal.rest.json_500"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/", admin.site.urls),
    *api.public_urlpatterns,
]
