from django.urls import path

from jobs.automation import views

urlpatterns = [
    path("", views.dashboard, name="automation"),
    path("jobs/<str:job_id>/", views.job, name="automation_job"),
]
