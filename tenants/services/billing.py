"""Invoices from the usage ledger: exact decimals, one draft per tenant and month, issued once the month ends.

Prices come from the rate card in force on the first day of the month, so a new card applies to whole
months. Each line's amount is rounded to cents (half up) once; the total is the sum of the rounded lines.
"""

import calendar
import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from tenants.models import GpuRate, Invoice, InvoiceLine, Quota, RateCard, Tenant, UsageRecord
from tenants.services.audit import record_event

logger = logging.getLogger(__name__)

Kind = UsageRecord.Kind
CENT = Decimal("0.01")
SIX_PLACES = Decimal("0.000001")
PLATFORM_FEE = "platform_fee"
CATEGORY_ORDER = [Kind.STORAGE, Kind.VCPU, Kind.GPU, Kind.EGRESS, Kind.AI_TOKENS, PLATFORM_FEE]
CATEGORY_LABELS = {
    Kind.STORAGE: "Storage",
    Kind.VCPU: "Compute",
    Kind.GPU: "GPU",
    Kind.EGRESS: "Egress",
    Kind.AI_TOKENS: "AI tokens",
    PLATFORM_FEE: "Platform fee",
}
DIMENSION_ORDER = {"urgent": 0, "normal": 1, "low": 2, "in_region": 0, "cross_region": 1, "internet": 2}

# Example prices of the "Standard" card a fresh install starts with; operators edit them in the admin.
DEFAULT_RATES = {
    "vcpu_hour_urgent": Decimal("0.080"),
    "vcpu_hour_normal": Decimal("0.040"),
    "vcpu_hour_low": Decimal("0.015"),
    "storage_gb_month": Decimal("0.023"),
    "egress_gb_in_region": Decimal("0.000"),
    "egress_gb_cross_region": Decimal("0.020"),
    "egress_gb_internet": Decimal("0.090"),
    "ai_per_1k_tokens": Decimal("0.002"),
    "platform_fee_monthly": Decimal("0.00"),
}
DEFAULT_GPU_RATES = {
    "t4": Decimal("0.60"),
    "l4": Decimal("0.90"),
    "a10g": Decimal("1.20"),
    "a100": Decimal("3.50"),
}
DEFAULT_CARD_START = date(2020, 1, 1)


class BillingError(ValidationError):
    """Prices are missing (no rate card, a GPU type without a rate): an operator must fix the card."""


@dataclass(frozen=True)
class Line:
    category: str
    dimension: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    basis: str


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = next_month(month)
    return start, datetime(end.year, end.month, 1, tzinfo=UTC)


def days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def rate_card_for(month: date) -> RateCard:
    card = RateCard.in_force(month_start(month))
    if card is None:
        raise BillingError(f"No rate card is in force on {month_start(month)}; add one in the admin.")
    return card


def unit_price(card: RateCard, kind: str, dimension: str) -> Decimal:
    """The price of one unit of the ledger's quantity (storage: per GB-month, AI: per 1k tokens)."""
    if kind == Kind.GPU:
        return _gpu_rate(card, dimension)
    field = {
        Kind.STORAGE: "storage_gb_month",
        Kind.VCPU: f"vcpu_hour_{dimension}",
        Kind.EGRESS: f"egress_gb_{dimension}",
        Kind.AI_TOKENS: "ai_per_1k_tokens",
    }[kind]
    return getattr(card, field)


def _gpu_rate(card: RateCard, gpu_type: str) -> Decimal:
    rates = {rate.gpu_type: rate.usd_per_hour for rate in card.gpu_rates.all()}
    if gpu_type not in rates:
        raise BillingError(
            f"Rate card “{card.name}” has no price for GPU type “{gpu_type}”: add a GPU rate in the admin."
        )
    return rates[gpu_type]


def billable_units(kind: str, quantity: Decimal, days: int) -> Decimal:
    """Ledger quantity in the card's units: GB-days to GB-months, tokens to thousands of tokens."""
    if kind == Kind.STORAGE:
        return quantity / days
    if kind == Kind.AI_TOKENS:
        return quantity / 1000
    return quantity


def cost_of(card: RateCard, kind: str, dimension: str, quantity: Decimal, days: int) -> Decimal:
    """Unrounded cost of a ledger quantity (for per-day figures; invoice lines round once per line)."""
    return billable_units(kind, quantity, days) * unit_price(card, kind, dimension)


def ledger_totals(tenant: Tenant, month: date) -> list[dict]:
    """Billable quantities of the month by kind, dimension and basis."""
    start, end = month_bounds(month)
    rows = (
        UsageRecord.objects.filter(tenant=tenant)
        .billable()
        .in_period(start, end)
        .values("kind", "dimension", "basis")
        .annotate(quantity=Sum("quantity"))
    )
    return list(rows)


def invoice_lines(tenant: Tenant, month: date, card: RateCard | None = None) -> list[Line]:
    """The month's lines from the billable ledger, in a fixed order; zero quantities are left out."""
    card = card or rate_card_for(month)
    days = days_in(month)
    grouped: dict[tuple[str, str], dict] = {}
    for row in ledger_totals(tenant, month):
        entry = grouped.setdefault((row["kind"], row["dimension"]), {"quantity": Decimal(0), "bases": set()})
        entry["quantity"] += row["quantity"]
        entry["bases"].add(row["basis"])
    lines = [
        _usage_line(card, kind, dimension, entry["quantity"], entry["bases"], days)
        for (kind, dimension), entry in sorted(grouped.items(), key=_line_order)
        if entry["quantity"] > 0
    ]
    if card.platform_fee_monthly > 0:
        lines.append(_platform_fee_line(card))
    return lines


def _line_order(item) -> tuple:
    (kind, dimension), _ = item
    return CATEGORY_ORDER.index(kind), DIMENSION_ORDER.get(dimension, 9), dimension


def _usage_line(card, kind: str, dimension: str, quantity: Decimal, bases: set, days: int) -> Line:
    units = billable_units(kind, quantity, days)
    price = unit_price(card, kind, dimension)
    return Line(
        category=kind,
        dimension=dimension,
        description=_describe(kind, dimension, quantity, days),
        quantity=units.quantize(SIX_PLACES, ROUND_HALF_UP),
        unit={Kind.STORAGE: "GB-month", Kind.AI_TOKENS: "1k tokens", Kind.EGRESS: "GB"}.get(kind, "hour"),
        unit_price=price,
        amount=(units * price).quantize(CENT, ROUND_HALF_UP),
        basis=bases.pop() if len(bases) == 1 else "mixed",
    )


def _describe(kind: str, dimension: str, quantity: Decimal, days: int) -> str:
    readable = dimension.replace("_", " ")
    return {
        Kind.STORAGE: f"Storage: {quantity.normalize():f} GB-days over {days} days",
        Kind.VCPU: f"Compute, {readable} priority (vCPU-hours)",
        Kind.GPU: f"GPU {dimension} (GPU-hours)",
        Kind.EGRESS: f"Egress, {readable}",
        Kind.AI_TOKENS: f"AI tokens: {quantity.normalize():f}",
    }[kind]


def _platform_fee_line(card: RateCard) -> Line:
    fee = card.platform_fee_monthly
    return Line(PLATFORM_FEE, "", "Platform fee", Decimal(1), "month", fee, fee.quantize(CENT), "measured")


def refresh_draft_invoice(tenant: Tenant, month: date) -> Invoice:
    """Recompute the month's draft from the ledger, replacing its lines. An issued invoice is refused."""
    month = month_start(month)
    card = rate_card_for(month)
    lines = invoice_lines(tenant, month, card)
    with transaction.atomic():
        invoice, _ = Invoice.objects.get_or_create(
            tenant=tenant, month=month, defaults={"rate_card": card, "computed_at": timezone.now()}
        )
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status == Invoice.Status.ISSUED:
            raise ValidationError(f"The invoice for {month:%Y-%m} is issued and cannot change.")
        if invoice.rate_card_id == card.pk and _stored_lines(invoice) == lines:
            return invoice  # nothing changed since it was computed: pages can read it without rewriting it
        invoice.lines.all().delete()
        InvoiceLine.objects.bulk_create(
            InvoiceLine(invoice=invoice, position=number, **vars(line))
            for number, line in enumerate(lines, start=1)
        )
        invoice.rate_card, invoice.computed_at = card, timezone.now()
        invoice.total = sum((line.amount for line in lines), Decimal("0.00"))
        invoice.save()
    return invoice


def _stored_lines(invoice: Invoice) -> list[Line]:
    names = [field.name for field in dataclasses.fields(Line)]
    rows = invoice.lines.order_by("position")
    return [Line(**{name: getattr(row, name) for name in names}) for row in rows]


def current_draft(tenant: Tenant, month: date) -> Invoice | None:
    """The month's draft with today's figures, for pages and the API; ``None`` while a price is missing
    (the stored draft, if any, is left as it was). An issued month is returned as it stands."""
    issued = Invoice.objects.filter(tenant=tenant, month=month_start(month), status=Invoice.Status.ISSUED)
    if issued := issued.first():
        return issued
    try:
        return refresh_draft_invoice(tenant, month)
    except ValidationError:
        return None


def issue_invoice(invoice: Invoice, *, actor, today: date | None = None) -> Invoice:
    """Final computation, then issued: from here on the models refuse any change."""
    today = today or timezone.now().date()
    if today < next_month(invoice.month):
        raise ValidationError(
            f"The month {invoice.month:%Y-%m} has not ended; it can be issued from "
            f"{next_month(invoice.month)}."
        )
    with transaction.atomic():
        invoice = refresh_draft_invoice(invoice.tenant, invoice.month)
        invoice.status, invoice.issued_at = Invoice.Status.ISSUED, timezone.now()
        invoice.save()
        record_event(
            "invoice.issued",
            actor=actor,
            tenant=invoice.tenant,
            target=str(invoice.code),
            total=str(invoice.total),
        )
    return invoice


def close_month(today: date | None = None) -> dict[str, str]:
    """Issue last month's invoice of every customer and release billing holds: a new month starts clean.

    One tenant's pricing problem (say, a GPU type without a rate) is logged and does not stop the others.
    """
    from tenants.services.budgets import release_billing_hold

    today = today or timezone.now().date()
    month = previous_month(today)
    outcome = {}
    for tenant in Tenant.objects.customers().order_by("slug"):
        outcome[tenant.slug] = _close_tenant_month(tenant, month, today)
    for quota in Quota.objects.filter(billing_hold=True).select_related("tenant"):
        release_billing_hold(quota.tenant, actor=None)
    return outcome


def _close_tenant_month(tenant: Tenant, month: date, today: date) -> str:
    existing = Invoice.objects.filter(tenant=tenant, month=month).first()
    if existing and existing.status == Invoice.Status.ISSUED:
        return "already issued"
    try:
        invoice = existing or refresh_draft_invoice(tenant, month)
        issue_invoice(invoice, actor=None, today=today)
    except ValidationError as error:
        logger.error("invoice of %s for %s not issued: %s", tenant.slug, month, " ".join(error.messages))
        return "error: " + " ".join(error.messages)
    return "issued"


def ensure_default_rate_card() -> RateCard:
    """A fresh install can bill at once: the "Standard" card with example prices, if there is no card yet."""
    with transaction.atomic():
        card = RateCard.objects.order_by("effective_from").first()
        if card:
            return card
        card = RateCard.objects.create(name="Standard", effective_from=DEFAULT_CARD_START, **DEFAULT_RATES)
        GpuRate.objects.bulk_create(
            GpuRate(rate_card=card, gpu_type=gpu, usd_per_hour=price)
            for gpu, price in DEFAULT_GPU_RATES.items()
        )
    return card
