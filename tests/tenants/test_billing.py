"""Invoices from the ledger: hand-computed totals, issued once the month ends, immutable; pages, CSV, API."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tenants.models import GpuRate, Invoice, Quota, RateCard, UsageRecord
from tenants.services.billing import (
    BillingError,
    close_month,
    ensure_default_rate_card,
    issue_invoice,
    refresh_draft_invoice,
)
from tenants.services.usage import record_usage

pytestmark = pytest.mark.django_db

FEB = date(2024, 2, 1)  # 29 days
MEASURED, ESTIMATED = UsageRecord.Basis.MEASURED, UsageRecord.Basis.ESTIMATED


def make_card(**overrides) -> RateCard:
    prices = {
        "name": "Test card",
        "effective_from": date(2024, 1, 1),
        "vcpu_hour_urgent": Decimal("0.08"),
        "vcpu_hour_normal": Decimal("0.04"),
        "vcpu_hour_low": Decimal("0.015"),
        "storage_gb_month": Decimal("0.023"),
        "egress_gb_in_region": Decimal("0"),
        "egress_gb_cross_region": Decimal("0.02"),
        "egress_gb_internet": Decimal("0.09"),
        "ai_per_1k_tokens": Decimal("0.002"),
        "platform_fee_monthly": Decimal("10.00"),
        **overrides,
    }
    card = RateCard.objects.create(**prices)
    GpuRate.objects.create(rate_card=card, gpu_type="a100", usd_per_hour=Decimal("3.5"))
    return card


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 2, day, hour, tzinfo=UTC)


def book(tenant, kind, quantity, *, day=1, hours=24, basis=MEASURED, dimension="", reference=""):
    start = at(day)
    return record_usage(
        tenant,
        kind,
        Decimal(quantity),
        basis=basis,
        source="test",
        period_start=start,
        period_end=start + timedelta(hours=hours),
        dimension=dimension,
        reference=reference,
    )


def book_february(tenant) -> None:
    Kind = UsageRecord.Kind
    book(tenant, Kind.STORAGE, "100", day=1)
    book(tenant, Kind.STORAGE, "190.5", day=2)
    book(tenant, Kind.VCPU, "120.5", day=3, dimension="normal", reference="ws-1")
    book(tenant, Kind.VCPU, "10", day=3, dimension="urgent", reference="ws-2", basis=ESTIMATED)
    book(tenant, Kind.VCPU, "5", day=4, dimension="low", reference="ws-3", basis=ESTIMATED)
    book(tenant, Kind.VCPU, "3", day=4, dimension="low", reference="ws-4", basis=ESTIMATED)
    book(tenant, Kind.VCPU, "7", day=4, dimension="low", reference="ws-4")  # supersedes the 3 above
    book(tenant, Kind.GPU, "2.5", day=5, dimension="a100", reference="ws-5")
    book(tenant, Kind.EGRESS, "12.345", day=6, dimension="internet")
    book(tenant, Kind.EGRESS, "1", day=6, dimension="cross_region")
    book(tenant, Kind.AI_TOKENS, "123456", day=7)


# Storage 290.5 GB-days / 29 days × 0.023 = 0.230396… → 0.23
# Compute normal 120.5 h × 0.04 = 4.82; urgent 10 × 0.08 = 0.80 (estimated);
#   low (5 + 7) × 0.015 = 0.18 (mixed: the estimate of 3 is superseded by the measured 7)
# GPU a100 2.5 × 3.5 = 8.75; egress internet 12.345 × 0.09 = 1.11105 → 1.11, cross region 1 × 0.02 = 0.02
# AI 123456 / 1000 × 0.002 = 0.246912 → 0.25; platform fee 10.00
EXPECTED_AMOUNTS = [
    Decimal("0.23"),
    Decimal("0.80"),
    Decimal("4.82"),
    Decimal("0.18"),
    Decimal("8.75"),
    Decimal("0.02"),
    Decimal("1.11"),
    Decimal("0.25"),
    Decimal("10.00"),
]


def test_invoice_total_is_the_hand_computed_sum_of_ledger_times_rates(world):
    make_card()
    book_february(world.tenant)
    invoice = refresh_draft_invoice(world.tenant, FEB)
    lines = list(invoice.lines.all())
    assert [line.amount for line in lines] == EXPECTED_AMOUNTS
    expected_total = (
        Decimal("0.23") + Decimal("0.80") + Decimal("4.82") + Decimal("0.18") + Decimal("8.75")
    ) + (Decimal("0.02") + Decimal("1.11") + Decimal("0.25") + Decimal("10.00"))
    assert invoice.total == expected_total == Decimal("26.16")
    assert invoice.status == Invoice.Status.DRAFT
    by_description = {line.description: line for line in lines}
    assert by_description["Compute, low priority (vCPU-hours)"].basis == "mixed"
    assert by_description["Compute, urgent priority (vCPU-hours)"].basis == "estimated"
    assert by_description["Storage: 290.5 GB-days over 29 days"].quantity == Decimal("10.017241")


def test_a_draft_is_recomputed_in_place_when_usage_arrives(world):
    make_card()
    book(world.tenant, UsageRecord.Kind.VCPU, "100", dimension="normal")
    first = refresh_draft_invoice(world.tenant, FEB)
    book(world.tenant, UsageRecord.Kind.VCPU, "50", day=2, dimension="normal")
    again = refresh_draft_invoice(world.tenant, FEB)
    assert again.pk == first.pk and again.lines.count() == 2  # compute + platform fee
    assert again.total == Decimal("150") * Decimal("0.04") + Decimal("10.00")


def test_reading_an_unchanged_draft_does_not_rewrite_it(world):
    make_card()
    book(world.tenant, UsageRecord.Kind.VCPU, "100", dimension="normal")
    first = refresh_draft_invoice(world.tenant, FEB)
    lines = list(first.lines.values_list("pk", flat=True))
    again = refresh_draft_invoice(world.tenant, FEB)
    assert list(again.lines.values_list("pk", flat=True)) == lines and again.computed_at == first.computed_at


def test_a_gpu_type_without_a_rate_is_an_error_not_a_free_line(world):
    make_card()
    book(world.tenant, UsageRecord.Kind.GPU, "1", dimension="h200")
    with pytest.raises(BillingError, match="h200"):
        refresh_draft_invoice(world.tenant, FEB)


def test_an_invoice_is_issued_only_after_its_month_and_then_refuses_changes(world):
    make_card()
    book_february(world.tenant)
    draft = refresh_draft_invoice(world.tenant, FEB)
    with pytest.raises(ValidationError, match="has not ended"):
        issue_invoice(draft, actor=world.operator, today=date(2024, 2, 29))
    issued = issue_invoice(draft, actor=world.operator, today=date(2024, 3, 1))
    assert issued.status == Invoice.Status.ISSUED and issued.total == Decimal("26.16")

    issued.total = Decimal("1.00")
    with pytest.raises(ValidationError):
        issued.save()
    line = issued.lines.first()
    line.amount = Decimal("0")
    with pytest.raises(ValidationError):
        line.save()
    with pytest.raises(ValidationError):
        issued.delete()
    book(world.tenant, UsageRecord.Kind.VCPU, "1000", day=20, dimension="normal")
    with pytest.raises(ValidationError, match="issued"):
        refresh_draft_invoice(world.tenant, FEB)
    assert Invoice.objects.get(pk=issued.pk).total == Decimal("26.16")


def test_closing_the_month_issues_every_customer_invoice_and_releases_holds(world):
    make_card()
    book_february(world.tenant)
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=True)
    outcome = close_month(date(2024, 3, 1))
    assert outcome[world.tenant.slug] == "issued" and outcome[world.other.slug] == "issued"
    assert Invoice.objects.get(tenant=world.tenant, month=FEB).status == Invoice.Status.ISSUED
    assert Invoice.objects.get(tenant=world.other, month=FEB).total == Decimal("10.00")  # platform fee only
    assert not Quota.objects.get(tenant=world.tenant).billing_hold
    assert close_month(date(2024, 3, 1))[world.tenant.slug] == "already issued"


def test_a_fresh_install_has_a_standard_rate_card(world):
    card = ensure_default_rate_card()
    assert RateCard.in_force(date.today()) is not None
    standard = RateCard.objects.get(name="Standard")
    assert card.pk == standard.pk and standard.gpu_rates.filter(gpu_type="a100").exists()


def _issued_february(world) -> Invoice:
    make_card()
    book_february(world.tenant)
    return issue_invoice(refresh_draft_invoice(world.tenant, FEB), actor=None, today=date(2024, 3, 1))


def test_owners_and_admins_see_invoices_others_get_404(client_for, world):
    invoice = _issued_february(world)
    for page in ("/billing/", f"/billing/{invoice.code}/", f"/billing/{invoice.code}.csv"):
        assert client_for(world.alice).get(page).status_code == 200, page
        for user in (world.bob, world.carol):
            assert client_for(user).get(page).status_code == 404, (user.email, page)
    assert client_for(world.mallory).get(f"/billing/{invoice.code}/").status_code == 404
    assert client_for(world.mallory, world.other).get(f"/billing/{invoice.code}/").status_code == 404


def test_the_invoice_page_shows_the_lines_and_total(client_for, world):
    invoice = _issued_february(world)
    body = client_for(world.alice).get(f"/billing/{invoice.code}/").content.decode()
    assert "February 2024" in body and "issued" in body
    assert "GPU a100 (GPU-hours)" in body and "$8.75" in body and "$26.16" in body
    listing = client_for(world.alice).get("/billing/").content.decode()
    assert "February 2024" in listing and "$26.16" in listing


def test_the_csv_export_matches_the_lines(client_for, world):
    invoice = _issued_february(world)
    response = client_for(world.alice).get(f"/billing/{invoice.code}.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "alpha-2024-02-issued.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    lines = list(invoice.lines.all())
    assert [Decimal(row["amount"]) for row in rows[:-1]] == [line.amount for line in lines]
    assert [row["description"] for row in rows[:-1]] == [line.description for line in lines]
    assert [row["basis"] for row in rows[:-1]] == [line.basis for line in lines]
    assert rows[-1]["category"] == "total" and Decimal(rows[-1]["amount"]) == invoice.total


def test_the_invoices_api_is_for_owners_and_admins(api_for, world):
    invoice = _issued_february(world)
    listing = api_for(world.alice).get("/api/v1/invoices")
    assert listing.status_code == 200
    months = {row["month"]: row for row in listing.json()["results"]}
    assert months["2024-02"]["total"] == "26.16" and months["2024-02"]["status"] == "issued"
    detail = api_for(world.alice).get(f"/api/v1/invoices/{invoice.code}").json()
    assert [Decimal(line["amount"]) for line in detail["lines"]] == EXPECTED_AMOUNTS
    for user in (world.bob, world.carol):
        assert api_for(user).get("/api/v1/invoices").status_code == 404
        assert api_for(user).get(f"/api/v1/invoices/{invoice.code}").status_code == 404
    assert api_for(world.mallory, world.other).get(f"/api/v1/invoices/{invoice.code}").status_code == 404


def test_the_usage_api_summarises_a_month_by_category_with_basis(api_for, world):
    _issued_february(world)
    data = api_for(world.carol).get("/api/v1/usage?month=2024-02").json()
    assert data["month"] == "2024-02" and data["invoiced"] is True and data["total"] == "26.16"
    compute = next(row for row in data["categories"] if row["category"] == "vcpu_hours")
    assert compute["cost"] == "5.80" and compute["basis"] == "mixed"
    assert api_for(world.carol).get("/api/v1/usage?month=24-2").status_code == 400
    assert api_for(world.carol).get("/api/v1/usage?month=9999-12").status_code == 400


def test_operators_use_the_billing_admin(operator_client, world):
    card = make_card()
    book_february(world.tenant)
    draft = refresh_draft_invoice(world.tenant, FEB)
    quota = Quota.objects.get(tenant=world.tenant)
    pages = [
        "/admin/tenants/ratecard/",
        f"/admin/tenants/ratecard/{card.pk}/change/",
        "/admin/tenants/invoice/",
        f"/admin/tenants/invoice/{draft.pk}/change/",
        "/admin/tenants/usagerecord/",
        "/admin/tenants/budgetalert/",
        "/admin/tenants/quota/",
        f"/admin/tenants/quota/{quota.pk}/change/",
    ]
    for page in pages:
        assert operator_client.get(page).status_code == 200, page
    response = operator_client.post(
        "/admin/tenants/invoice/", {"action": "issue", "_selected_action": [draft.pk]}, follow=True
    )
    assert "issued: $26.16" in response.content.decode()
    assert Invoice.objects.get(pk=draft.pk).status == Invoice.Status.ISSUED


def test_the_admin_shows_a_missing_gpu_rate_to_the_operator(operator_client, world):
    make_card()
    book(world.tenant, UsageRecord.Kind.VCPU, "1", dimension="normal")
    draft = refresh_draft_invoice(world.tenant, FEB)
    book(world.tenant, UsageRecord.Kind.GPU, "1", dimension="h200")
    response = operator_client.post(
        "/admin/tenants/invoice/", {"action": "recompute", "_selected_action": [draft.pk]}, follow=True
    )
    assert "no price for GPU type “h200”" in response.content.decode()


def test_the_invoices_api_lists_this_months_draft_with_todays_figures(api_for, world):
    make_card()
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    record_usage(
        world.tenant,
        UsageRecord.Kind.VCPU,
        Decimal("100"),
        basis=MEASURED,
        source="test",
        period_start=now,
        period_end=now + timedelta(hours=1),
        dimension="normal",
    )
    rows = api_for(world.alice).get("/api/v1/invoices").json()["results"]
    draft = next(row for row in rows if row["month"] == f"{now:%Y-%m}")
    assert draft["status"] == "draft" and Decimal(draft["total"]) == Decimal("4.00") + Decimal("10.00")
