"""``/api/v1/analytics/…`` routes that feed cost analytics: ingests, rates, teams and jobs."""

urlpatterns: list = []
