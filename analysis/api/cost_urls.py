"""``/api/v1/analytics/cost…``: cost by group, trend, budget burn, forecast, recommendations, exports."""

urlpatterns: list = []
