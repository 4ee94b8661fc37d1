from django.urls import include, path
from rest_framework.routers import DefaultRouter

from chat.api.views import ConversationViewSet

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("chat/conversations", ConversationViewSet, basename="chat-conversation")

urlpatterns = [path("", include(router.urls))]
