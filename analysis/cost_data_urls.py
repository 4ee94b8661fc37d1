"""Pages that feed cost analytics (uploads of job metadata and rates, teams' budgets), at ``costs/``."""

urlpatterns: list = []
