"""``/api/v1/analytics/cost…``: cost by group, trend, budget burn, forecast, recommendations, exports."""

from django.urls import path

from analysis.api import costs

urlpatterns = [
    path("analytics/cost", costs.CostView.as_view(), name="api-cost"),
    path("analytics/cost/by-model", costs.CostByModelView.as_view(), name="api-cost-by-model"),
    path("analytics/cost/by-team", costs.CostByTeamView.as_view(), name="api-cost-by-team"),
    path("analytics/cost/trend", costs.TrendView.as_view(), name="api-cost-trend"),
    path("analytics/budgets", costs.BudgetView.as_view(), name="api-cost-budgets"),
    path("analytics/forecast", costs.ForecastView.as_view(), name="api-cost-forecast"),
    path("analytics/recommendations", costs.RecommendationView.as_view(), name="api-cost-recommendations"),
]
