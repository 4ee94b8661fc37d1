from rest_framework import serializers

from chat.models import TITLE_LENGTH, Conversation, Message
from chat.services import MAX_QUESTION


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "role", "content", "state", "lookups", "pending", "notice", "provider", "created"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    title = serializers.CharField(max_length=TITLE_LENGTH, allow_blank=False, trim_whitespace=True)

    class Meta:
        model = Conversation
        fields = ["code", "title", "created", "updated"]
        read_only_fields = ["code", "created", "updated"]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class AskSerializer(serializers.Serializer):
    conversation = serializers.UUIDField(required=False, allow_null=True, help_text="Empty starts a new one.")
    text = serializers.CharField(max_length=MAX_QUESTION, trim_whitespace=True)


class AnsweredSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    question = MessageSerializer()
    reply = MessageSerializer()
