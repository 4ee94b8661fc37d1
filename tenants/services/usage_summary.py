"""Read side of usage and billing: what a month cost so far, by category and by day, for the usage page and
the API. An issued month reads its invoice (what was billed); an open month is priced from the ledger."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.db.models.functions import TruncDate

from tenants.models import Invoice, Tenant, UsageRecord
from tenants.services.billing import (
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    CENT,
    Line,
    cost_of,
    days_in,
    invoice_lines,
    month_bounds,
    month_start,
    rate_card_for,
)


@dataclass
class Category:
    category: str
    label: str
    quantity: Decimal
    unit: str
    cost: Decimal
    basis: str


@dataclass
class MonthSummary:
    month: date
    categories: list[Category] = field(default_factory=list)
    daily: list[tuple[date, Decimal]] = field(default_factory=list)
    issued: bool = False
    pricing_error: str = ""

    @property
    def total(self) -> Decimal:
        return sum((c.cost for c in self.categories), Decimal("0.00"))

    def cost_of(self, category: str) -> Decimal:
        return next((c.cost for c in self.categories if c.category == category), Decimal("0.00"))


def month_summary(tenant: Tenant, month: date, *, with_daily: bool = False) -> MonthSummary:
    """Never raises for missing prices: the page shows the message, the operator fixes the card."""
    summary = MonthSummary(month=month_start(month))
    try:
        lines, summary.issued = _lines_of(tenant, summary.month)
        summary.categories = by_category(lines)
        if with_daily:
            summary.daily = daily_costs(tenant, summary.month)
    except ValidationError as error:
        summary.pricing_error = " ".join(error.messages)
    return summary


def _lines_of(tenant: Tenant, month: date) -> tuple[list[Line], bool]:
    invoice = Invoice.objects.filter(tenant=tenant, month=month, status=Invoice.Status.ISSUED).first()
    if invoice is None:
        return invoice_lines(tenant, month), False
    fields = [f.name for f in Line.__dataclass_fields__.values()]
    return [Line(**{name: getattr(line, name) for name in fields}) for line in invoice.lines.all()], True


def by_category(lines: list[Line]) -> list[Category]:
    groups: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        groups[line.category].append(line)
    return [_category(name, groups[name]) for name in CATEGORY_ORDER if name in groups]


def _category(name: str, lines: list[Line]) -> Category:
    bases = {line.basis for line in lines}
    units = {line.unit for line in lines}
    return Category(
        category=name,
        label=CATEGORY_LABELS[name],
        quantity=sum((line.quantity for line in lines), Decimal(0)),
        unit=units.pop() if len(units) == 1 else "",
        cost=sum((line.amount for line in lines), Decimal("0.00")),
        basis=bases.pop() if len(bases) == 1 else "mixed",
    )


def daily_costs(tenant: Tenant, month: date) -> list[tuple[date, Decimal]]:
    """Usage cost of each day of the month (platform fee excluded), by the day each record's period starts."""
    card, days = rate_card_for(month), days_in(month)
    start, end = month_bounds(month)
    rows = (
        UsageRecord.objects.filter(tenant=tenant)
        .billable()
        .in_period(start, end)
        .annotate(day=TruncDate("period_start"))
        .values("day", "kind", "dimension")
        .annotate(quantity=Sum("quantity"))
    )
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row["day"]] += cost_of(card, row["kind"], row["dimension"], row["quantity"], days)
    every_day = (month + timedelta(days=n) for n in range(days))
    return [(day, totals[day].quantize(CENT, ROUND_HALF_UP)) for day in every_day]
