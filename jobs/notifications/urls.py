"""Pages of notifications, included from ``portal.urls`` at ``notifications/``."""

from django.urls import path

from jobs.notifications import views

urlpatterns = [
    path("", views.notifications, name="notifications"),
    path("channels/new/", views.new_channel, name="new_notification_channel"),
    path("channels/<uuid:code>/", views.channel, name="notification_channel"),
    path("channels/<uuid:code>/test/", views.test_channel, name="test_notification_channel"),
    path("channels/<uuid:code>/toggle/", views.toggle_channel, name="toggle_notification_channel"),
    path("channels/<uuid:code>/delete/", views.delete_channel, name="delete_notification_channel"),
    path("deliveries/", views.deliveries, name="notification_deliveries"),
]
