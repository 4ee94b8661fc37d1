"""Cost dashboard pages, included from ``portal.urls`` at ``costs/``."""

from django.urls import path

from analysis.views import costs

urlpatterns: list = [
    path("", costs.dashboard, name="costs"),
    path("export.xlsx", costs.export_workbook, name="costs_export_xlsx"),
    path("export/<slug:table>.csv", costs.export_table, name="costs_export_csv"),
    path("teams/<path:name>/export.<slug:fmt>", costs.export_team, name="cost_team_export"),
    path("teams/<path:name>/", costs.team, name="cost_team"),
]
