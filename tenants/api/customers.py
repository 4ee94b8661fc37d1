"""The operators' customers API on the public host: ``/api/v1/customers``.

Staff only (tokens without a tenant, or staff sessions); everyone else gets 404 from
``portal.permissions.IsTenantMember``, as on the rest of the public host.

Quota ranges (from the prior art, the Daylily portal): 1–50 concurrent worksets, 100–10,000 GB of
storage, a monthly budget of at least $0 (empty: none). Operators can go beyond them in the admin.
"""

import re

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from tenants.models import Bucket, Quota, Tenant
from tenants.services import tenant_host, validate_slug
from tenants.services.customers import customer_usage, onboard_customer

BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
CONCURRENT_RANGE = (1, 50)
STORAGE_GB_RANGE = (100, 10_000)


def _range_messages(low: int, high: int, unit: str) -> dict:
    message = f"Choose between {low:,} and {high:,} {unit}."
    return {"min_value": message, "max_value": message, "invalid": f"Enter a whole number of {unit}."}


class CustomerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=40, help_text="Becomes <slug>.<base domain>.")
    owner_email = serializers.EmailField()
    bucket = serializers.CharField(
        required=False, allow_blank=True, max_length=63, help_text="Bring your own bucket (name)."
    )
    cost_center = serializers.CharField(required=False, allow_blank=True, max_length=100)
    max_concurrent_worksets = serializers.IntegerField(
        required=False,
        min_value=CONCURRENT_RANGE[0],
        max_value=CONCURRENT_RANGE[1],
        error_messages=_range_messages(*CONCURRENT_RANGE, "worksets"),
    )
    max_storage_gb = serializers.IntegerField(
        required=False,
        min_value=STORAGE_GB_RANGE[0],
        max_value=STORAGE_GB_RANGE[1],
        error_messages=_range_messages(*STORAGE_GB_RANGE, "GB"),
    )
    monthly_budget_usd = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    budget_action = serializers.ChoiceField(choices=Quota.BudgetAction.choices, required=False)

    def validate_slug(self, value: str) -> str:
        from django.core.exceptions import ValidationError

        try:
            return validate_slug(value)
        except ValidationError as error:
            raise serializers.ValidationError(error.message_dict["slug"]) from None

    def validate_bucket(self, value: str) -> str:
        if value and not BUCKET_NAME_RE.match(value):
            raise serializers.ValidationError(
                "A bucket name has 3–63 lowercase letters, digits, dots and hyphens."
            )
        return value


class BucketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bucket
        fields = ["name", "backend", "managed", "region", "cost_center"]


class QuotaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Quota
        fields = [
            "max_concurrent_worksets",
            "max_storage_gb",
            "monthly_budget_usd",
            "budget_action",
            "billing_hold",
        ]


class CustomerSerializer(serializers.ModelSerializer):
    host = serializers.SerializerMethodField()
    bucket = serializers.SerializerMethodField()
    quota = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["slug", "name", "status", "created", "host", "bucket", "quota"]

    def get_host(self, tenant) -> str:
        return tenant_host(tenant.slug)

    @extend_schema_field(BucketSerializer(allow_null=True))
    def get_bucket(self, tenant) -> dict | None:
        found = _related(tenant, "bucket")
        return BucketSerializer(found).data if found else None

    @extend_schema_field(QuotaSerializer(allow_null=True))
    def get_quota(self, tenant) -> dict | None:
        found = _related(tenant, "quota")
        return QuotaSerializer(found).data if found else None


def _related(tenant: Tenant, name: str):
    try:
        return getattr(tenant, name)
    except (Bucket.DoesNotExist, Quota.DoesNotExist):
        return None


class CustomerUsageSerializer(serializers.Serializer):
    storage_bytes = serializers.IntegerField()
    storage_gb = serializers.FloatField()
    storage_quota_gb = serializers.IntegerField()
    storage_utilisation_percent = serializers.FloatField(allow_null=True)
    object_count = serializers.IntegerField()
    last_measured = serializers.DateTimeField(allow_null=True)
    max_concurrent_worksets = serializers.IntegerField()
    monthly_budget_usd = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    budget_action = serializers.CharField()
    billing_hold = serializers.BooleanField()
    month = serializers.DateField()
    month_to_date_usd = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    spend_basis = serializers.CharField(
        allow_null=True, help_text="measured, estimated or mixed; null when nothing was used yet."
    )
    spend_computed_at = serializers.DateTimeField(allow_null=True)
    budget_utilisation_percent = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    pricing_error = serializers.CharField(help_text="Why the spend is missing (e.g. no rate card).")


class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Operators only (public host): onboard customers, read them and their usage."""

    queryset = Tenant.objects.customers().select_related("bucket", "quota")
    serializer_class = CustomerSerializer
    lookup_field = "slug"

    @extend_schema(request=CustomerCreateSerializer, responses={201: CustomerSerializer})
    def create(self, request):
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = onboard_customer(actor=request.user, **serializer.validated_data)
        fresh = self.get_queryset().get(pk=tenant.pk)
        return Response(CustomerSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CustomerUsageSerializer, summary="Storage, quota and this month's spend")
    @action(detail=True, methods=["get"])
    def usage(self, request, slug=None):
        return Response(CustomerUsageSerializer(customer_usage(self.get_object())).data)
