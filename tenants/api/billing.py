"""Usage summary (every member) and invoices (owners and admins; to others they do not exist: 404)."""

from datetime import date, datetime

from django.urls import include, path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from portal.pagination import CursorPagination
from portal.rest import ScopedViewSet
from tenants.models import Invoice, InvoiceLine, Role
from tenants.services.billing import current_draft
from tenants.services.usage_summary import month_summary


class CategorySerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=6)
    unit = serializers.CharField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    basis = serializers.ChoiceField(choices=["measured", "estimated", "mixed"])


class UsageSummarySerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    invoiced = serializers.BooleanField(help_text="True once the month's invoice is issued.")
    pricing_error = serializers.CharField(help_text="Why costs are missing (a price the operator must add).")
    categories = CategorySerializer(many=True)


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = list(InvoiceLine.SHOWN_FIELDS)


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2025-01"})
class MonthField(serializers.DateField):
    """A month as ``YYYY-MM`` (the first day is stored): a string, not an OpenAPI ``date``."""

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m", **kwargs)


class InvoiceSerializer(serializers.ModelSerializer):
    month = MonthField()
    rate_card = serializers.CharField(source="rate_card.name")

    class Meta:
        model = Invoice
        fields = ["code", "month", "status", "total", "rate_card", "computed_at", "issued_at"]


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]


def parse_month(value: str | None) -> date:
    if not value:
        return timezone.now().date().replace(day=1)
    try:
        month = datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        month = None
    if month is None or not 2000 <= month.year <= 2100:  # the ledger's months, with room to spare
        raise exceptions.ValidationError({"month": ["Use YYYY-MM between 2000 and 2100, e.g. 2025-01."]})
    return month


class UsageView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("month", OpenApiTypes.STR, description="YYYY-MM; default: this month")],
        responses=UsageSummarySerializer,
        summary="A month's usage and cost by category, each measured, estimated or mixed",
    )
    def get(self, request):
        summary = month_summary(request.tenant, parse_month(request.query_params.get("month")))
        data = {
            "month": f"{summary.month:%Y-%m}",
            "currency": "USD",
            "total": summary.total,
            "invoiced": summary.issued,
            "pricing_error": summary.pricing_error,
            "categories": summary.categories,
        }
        return Response(UsageSummarySerializer(data).data)


class ByMonth(CursorPagination):
    ordering = "-month"


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    queryset = Invoice.objects.select_related("rate_card")
    serializer_class = InvoiceSerializer
    pagination_class = ByMonth

    def get_queryset(self):
        if not self.request.membership.allows(Role.ADMIN):
            raise exceptions.NotFound()
        if self.action == "list":
            current_draft(self.request.tenant, timezone.now().date())  # the draft shows today's figures
        queryset = super().get_queryset()
        return queryset.prefetch_related("lines") if self.action == "retrieve" else queryset

    def get_object(self):
        invoice = super().get_object()
        if invoice.status == Invoice.Status.DRAFT:
            invoice = current_draft(invoice.tenant, invoice.month) or invoice
        return invoice

    def get_serializer_class(self):
        return InvoiceDetailSerializer if self.action == "retrieve" else InvoiceSerializer


router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.include_format_suffixes = False
router.register("invoices", InvoiceViewSet, basename="invoice")

urlpatterns = [
    path("usage", UsageView.as_view(), name="api-usage"),
    path("", include(router.urls)),
]
