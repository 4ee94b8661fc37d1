"""Cost dashboard pages, included from ``portal.urls`` at ``costs/``."""

urlpatterns: list = []
