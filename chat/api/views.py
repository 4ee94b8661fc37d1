"""``/api/v1/chat/conversations`` (the caller's own: list, read with messages, rename, delete) and
``POST /api/v1/chat/ask`` (ask and get the finished answer in one call, for integrations).

An answer asked over the API is the same as one asked in the browser: it is stored in the conversation, its
pieces are published to the user's open chat pages, and the same tools, checks and rate limit apply.
"""

from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from chat import engine, services
from chat.api.serializers import (
    AnsweredSerializer,
    AskSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
)
from chat.models import Conversation
from chat.tools import ToolContext
from portal.pagination import CursorPagination
from portal.rest import ScopedViewSet, json_object_body
from tenants.models import Role


class RecentFirst(CursorPagination):
    ordering = ("-updated", "-id")


class RateLimited(exceptions.Throttled):
    default_code = "rate_limited"


class ConversationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ScopedViewSet,
):
    queryset = Conversation.objects.all()
    serializer_class = ConversationSerializer
    pagination_class = RecentFirst
    write_role = Role.VIEWER  # a conversation is its owner's own, whatever their role
    http_method_names = ["get", "patch", "delete", "post"]

    def get_serializer_class(self):
        return ConversationDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    def perform_update(self, serializer):
        services.rename_conversation(
            serializer.instance, serializer.validated_data["title"], actor=self.request.user
        )

    def perform_destroy(self, instance):
        services.delete_conversation(instance, actor=self.request.user)

    @extend_schema(
        summary="Ask the assistant; answers with the finished reply",
        request=AskSerializer,
        responses={201: AnsweredSerializer},
    )
    @action(detail=False, methods=["post"])
    def ask(self, request):
        asked = AskSerializer(data=json_object_body(request))
        asked.is_valid(raise_exception=True)
        code = asked.validated_data.get("conversation")
        conversation = self.get_queryset().filter(code=code).first() if code else None
        if code and conversation is None:
            raise exceptions.NotFound()
        ctx = ToolContext(membership=request.membership, user=request.user, tenant=request.tenant)
        try:
            conversation, question, _, turn = engine.begin(conversation, asked.validated_data["text"], ctx)
        except services.RateLimited as error:
            raise RateLimited(detail=str(error)) from error
        publish = engine.publisher(engine.user_group(ctx))
        reply = async_to_sync(engine.answer)(turn, publish, pause=0)
        conversation.refresh_from_db()
        body = {"conversation": conversation, "question": question, "reply": reply}
        return Response(AnsweredSerializer(body).data, status=status.HTTP_201_CREATED)
