"""Pages of the analysis app, included from ``portal.urls`` at ``profiles/``."""

from django.urls import path

from analysis.views import iss, profiles

urlpatterns: list = [
    path("iss/", iss.iss_jobs, name="iss_jobs"),
    path("iss/platforms/", iss.iss_platforms, name="iss_platforms"),
    path("iss/jobs/<str:job_id>/", iss.iss_job, name="iss_job"),
    path("iss/jobs/<str:job_id>/import/", iss.iss_import, name="iss_import"),
    path("", profiles.profiles, name="profiles"),
    path("<str:code>/", profiles.profile, name="profile"),
    path("<str:code>/reparse/", profiles.profile_reparse, name="profile_reparse"),
    path("<str:code>/delete/", profiles.profile_delete, name="profile_delete"),
    path("<str:code>/function/", profiles.profile_function, name="profile_function"),
    path("<str:code>/diff/", profiles.profile_diff, name="profile_diff"),
]
