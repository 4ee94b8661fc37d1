from django.urls import include, path
from rest_framework.routers import DefaultRouter

from jobs.notifications.api.views import ChannelViewSet, DeliveryViewSet

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("notification-channels", ChannelViewSet, basename="notification-channel")
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")

urlpatterns = [path("", include(router.urls))]
