import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.notifications.models import SUBSCRIBABLE, Channel, Delivery


@extend_schema_field(OpenApiTypes.STR)
class KindField(serializers.ChoiceField):
    """A plain string in the schema: an enum would collide with the file preview's ``kind`` enum
    (settings.py, which could name it, is not this app's to change)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "email, webhook, slack or linear")
        super().__init__(choices=Channel.Kind.choices, **kwargs)


class ChannelSerializer(serializers.ModelSerializer):
    kind = KindField()
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        required=False,
        help_text="Events the channel wants; empty means all (Linear: only failed and dead_lettered).",
    )
    secret = serializers.CharField(
        read_only=True, help_text="Webhooks: the signing key, generated (owners and admins see it)."
    )
    linear_api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Write only; never shown again."
    )
    has_linear_api_key = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "code",
            "kind",
            "name",
            "url",
            "email",
            "events",
            "enabled",
            "secret",
            "linear_api_key",
            "has_linear_api_key",
            "linear_team_id",
            "created_at",
        ]
        read_only_fields = ["code", "created_at"]

    def get_has_linear_api_key(self, channel: Channel) -> bool:
        return bool(channel.linear_api_key)

    def validate(self, attrs):
        """The model's rules (what each kind needs), on the channel as it would be saved."""
        channel = copy.copy(self.instance) if self.instance is not None else Channel()
        for name, value in attrs.items():
            setattr(channel, name, value)
        try:
            channel.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return attrs


class DeliverySerializer(serializers.ModelSerializer):
    kind = KindField(read_only=True)
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "code",
            "channel",
            "kind",
            "target",
            "event",
            "workset_code",
            "status",
            "attempts",
            "attempt_log",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "external_id",
            "external_url",
            "created_at",
            "payload",
        ]
        read_only_fields = fields
