"""The usage ledger: validated, idempotent, measured supersedes estimated; daily storage GB-days; the page."""

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.celery import fan_out_to_tenants_task
from tenants.models import GB, Bucket, Quota, Tenant, UsageRecord
from tenants.services.billing import DEFAULT_RATES
from tenants.services.usage import measure_storage, record_usage
from tenants.storage import storage_for

pytestmark = pytest.mark.django_db
Kind, Basis = UsageRecord.Kind, UsageRecord.Basis
START = datetime(2024, 5, 1, tzinfo=UTC)


def book(tenant, quantity, *, basis=Basis.MEASURED, kind=Kind.VCPU, dimension="normal", **overrides):
    fields = {
        "basis": basis,
        "source": "test",
        "period_start": START,
        "period_end": START + timedelta(hours=1),
        "dimension": dimension,
        "reference": "ws-1",
        **overrides,
    }
    return record_usage(tenant, kind, quantity, **fields)


def test_the_same_record_twice_is_one_record(world):
    first = book(world.tenant, "2.5")
    second = book(world.tenant, Decimal("2.500"))
    assert first.pk == second.pk
    assert UsageRecord.objects.filter(tenant=world.tenant).count() == 1


def test_a_re_measurement_of_the_same_period_replaces_the_quantity(world):
    first = book(world.tenant, "2.5")
    book(world.tenant, "3", source="rescan")
    record = UsageRecord.objects.get(pk=first.pk)
    assert record.quantity == Decimal("3") and record.source == "rescan"
    assert UsageRecord.objects.filter(tenant=world.tenant).count() == 1


def test_a_measured_record_supersedes_the_estimate_of_its_period(world):
    estimate = book(world.tenant, "4", basis=Basis.ESTIMATED)
    other_workset = book(world.tenant, "1", basis=Basis.ESTIMATED, reference="ws-2")
    measured = book(world.tenant, "3.2")
    assert UsageRecord.objects.get(pk=estimate.pk).superseded_by_id == measured.pk
    billable = UsageRecord.objects.filter(tenant=world.tenant).billable()
    assert set(billable.values_list("pk", flat=True)) == {measured.pk, other_workset.pk}


def test_an_estimate_arriving_after_the_measurement_is_superseded_at_once(world):
    measured = book(world.tenant, "3.2")
    late = book(world.tenant, "4", basis=Basis.ESTIMATED)
    assert late.superseded_by_id == measured.pk
    assert list(UsageRecord.objects.filter(tenant=world.tenant).billable()) == [measured]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "cpu_minutes"}, "kind"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"period_end": START}, "period_end"),
        ({"dimension": "asap"}, "dimension"),
        ({"kind": Kind.EGRESS, "dimension": "moon"}, "dimension"),
        ({"kind": Kind.GPU, "dimension": ""}, "dimension"),
        ({"kind": Kind.STORAGE, "dimension": "normal"}, "dimension"),
        ({"basis": "guessed"}, "basis"),
    ],
)
def test_bad_usage_is_refused_with_the_field_named(world, overrides, field):
    quantity = overrides.pop("quantity", "1")
    with pytest.raises(ValidationError) as error:
        book(world.tenant, quantity, **overrides)
    assert field in error.value.message_dict
    assert not UsageRecord.objects.filter(tenant=world.tenant).exists()


def _upload(tenant, size: int) -> str:
    bucket = Bucket.objects.get(tenant=tenant)
    key = f"metering-test/{uuid.uuid4().hex}.bin"
    storage_for(bucket).upload(key, io.BytesIO(b"x" * size))
    return key


def test_storage_is_measured_once_per_day_in_gb_days(world):
    key = _upload(world.tenant, 4096)
    bucket = Bucket.objects.get(tenant=world.tenant)
    try:
        day = date(2024, 5, 7)
        first = measure_storage(world.tenant, day)
        again = measure_storage(world.tenant, day)
    finally:
        storage_for(bucket).delete(key)
    bucket.refresh_from_db()
    assert first.pk == again.pk
    records = UsageRecord.objects.filter(tenant=world.tenant, kind=Kind.STORAGE)
    assert records.count() == 1
    record = records.get()
    assert record.basis == Basis.MEASURED and record.source == "storage-scan"
    assert (record.period_start, record.period_end) == (
        datetime(2024, 5, 7, tzinfo=UTC),
        datetime(2024, 5, 8, tzinfo=UTC),
    )
    assert bucket.bytes_used >= 4096
    assert record.quantity == (Decimal(bucket.bytes_used) / GB).quantize(Decimal("0.000001"))


def test_the_daily_task_books_yesterday_for_every_tenant_even_a_suspended_one(world):
    import tenants.tasks  # noqa: F401  (the worker autodiscovers it; this process has not)

    Tenant.objects.filter(pk=world.other.pk).update(status=Tenant.Status.SUSPENDED)
    schedule = settings.CELERY_BEAT_SCHEDULE["measure-storage-daily"]
    assert schedule["task"] == "portal.fan_out_to_tenants"
    schemas = fan_out_to_tenants_task.delay(*schedule["args"], **schedule["kwargs"]).get()
    assert {world.tenant.schema_name, world.other.schema_name} <= set(schemas)
    yesterday = timezone.now().date() - timedelta(days=1)
    for tenant in (world.tenant, world.other):
        record = UsageRecord.objects.get(tenant=tenant, kind=Kind.STORAGE)
        assert record.period_start.date() == yesterday


def _this_month(day: int = 1) -> datetime:
    now = timezone.now()
    return datetime(now.year, now.month, day, tzinfo=UTC)


def test_every_member_sees_the_usage_page_with_figures_and_basis(client_for, world):
    book(world.tenant, "100", period_start=_this_month(), period_end=_this_month() + timedelta(hours=1))
    book(
        world.tenant,
        "10",
        basis=Basis.ESTIMATED,
        kind=Kind.EGRESS,
        dimension="internet",
        period_start=_this_month(),
        period_end=_this_month() + timedelta(hours=1),
    )
    Quota.objects.filter(tenant=world.tenant).update(monthly_budget_usd=Decimal("50"), budget_action="hold")
    for user in (world.alice, world.bob, world.carol):
        response = client_for(user).get("/usage/")
        assert response.status_code == 200, user.email
        body = response.content.decode()
        # Priced on the Standard card onboarding installs: 100 vCPU-h at normal priority, 10 GB of egress
        compute = 100 * DEFAULT_RATES["vcpu_hour_normal"]
        egress = 10 * DEFAULT_RATES["egress_gb_internet"]
        assert (compute, egress) == (Decimal("4.00"), Decimal("0.90"))
        assert f'data-testid="month-total">${compute + egress:.2f}<' in body
        assert "Compute" in body and f"${compute:.2f}" in body and f"${egress:.2f}" in body
        assert "estimated" in body
        assert "$50.00 · at 100 %: hold new submissions (billing hold)" in body
        assert 'id="usage-chart-data"' in body and "chart.umd.min.js" in body and "usage-charts.js" in body
        assert 'href="/usage/"' in body
        assert ('href="/billing/"' in body) == (user != world.carol and user != world.bob)


def test_an_empty_month_says_so(client_for, world):
    body = client_for(world.carol).get("/usage/").content.decode()
    assert "No usage this month yet." in body and "No usage in either month yet." in body
