from django.utils import timezone
from rest_framework import serializers

from tenants.models import ApiToken, Membership, Role, Tenant


class UserSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField()


class TenantSerializer(serializers.ModelSerializer):
    host = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["slug", "name", "status", "created", "host"]

    def get_host(self, tenant) -> str:
        from tenants.services import tenant_host

        return tenant_host(tenant.slug)


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    tenant = TenantSerializer()
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["code", "email", "role", "created"]


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["code", "name", "key_id", "created", "expires_at", "last_used_at", "revoked_at", "state"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value


class NewApiTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(help_text="The token itself. Shown once; only its hash is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields
