"""Pages that feed cost analytics (uploads of job metadata and rates, teams' budgets), at ``costs/``."""

from django.urls import path

from analysis.views import cost_data

urlpatterns: list = [
    path("data/", cost_data.cost_data, name="cost_data"),
    path("data/ingests/<str:code>/", cost_data.cost_ingest, name="cost_ingest"),
    path("data/rates/", cost_data.cost_rates, name="cost_rates"),
    path("data/teams/", cost_data.cost_teams, name="cost_teams"),
]
