"""The operators' overview: every tenant's worksets by state, spend vs budget, storage vs quota, error rate
and last activity, from what is stored; sortable; operators only, on the public host only."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.models import GB, AuditEvent, Bucket, Quota, Tenant
from tenants.services.audit import record_event
from tenants.services.overview import tenant_health
from tests.builders import make_workset, spend_vcpu_hours

pytestmark = pytest.mark.django_db
URL = "/admin/overview/"


def health_of(tenant):
    return next(row for row in tenant_health() if row.tenant.pk == tenant.pk)


def store_alpha_and_beta(world) -> dict:
    """Worksets in states, usage, storage and activity for both tenants; returns the figures before."""
    before = {t.slug: health_of(t) for t in (world.tenant, world.other)}
    for state in ("running", "queued", "queued", "retry_wait", "failed", "dead_letter", "completed"):
        make_workset(world.tenant, state=state)
    old = make_workset(world.tenant, state="completed")  # finished 8 days ago: outside the error window
    with tenant_context(world.tenant):
        old.transitions.filter(to_state="completed").update(at=timezone.now() - timedelta(days=8))
    make_workset(world.other, state="dead_letter")
    spend_vcpu_hours(world.tenant, "100", reference="overview-alpha")  # $4.00
    Quota.objects.filter(tenant=world.tenant).update(monthly_budget_usd=Decimal("10.00"), max_storage_gb=1000)
    Quota.objects.filter(tenant=world.other).update(monthly_budget_usd=None, max_storage_gb=100)
    Bucket.objects.filter(tenant=world.tenant).update(bytes_used=500 * GB)
    Bucket.objects.filter(tenant=world.other).update(bytes_used=10 * GB)
    return before


def test_the_figures_are_what_was_stored_for_each_tenant(world):
    before = store_alpha_and_beta(world)
    later = timezone.now() + timedelta(hours=1)
    event = record_event("test.touch", tenant=world.tenant)
    AuditEvent.objects.filter(pk=event.pk).update(created=later)
    with tenant_context(world.other):
        from jobs.models import Workset

        Workset.objects.update(updated_at=later + timedelta(hours=1))

    alpha, beta = health_of(world.tenant), health_of(world.other)
    was_a, was_b = before["alpha"], before["beta"]
    assert (alpha.running, alpha.queued, alpha.failed, alpha.dead_lettered) == (
        was_a.running + 1,
        was_a.queued + 3,
        was_a.failed + 1,
        was_a.dead_lettered + 1,
    )
    # failed, dead_letter and retry_wait all failed once; one completed inside the window, one outside
    assert (alpha.failed_recently, alpha.finished_recently) == (
        was_a.failed_recently + 3,
        was_a.finished_recently + 4,
    )
    assert alpha.spent_usd == was_a.spent_usd + Decimal("4.00")
    assert alpha.budget_usd == Decimal("10.00")
    assert (alpha.storage_bytes, alpha.storage_quota_bytes) == (500 * GB, 1000 * GB)
    assert alpha.last_activity == later
    assert (beta.dead_lettered, beta.running, beta.failed_recently) == (
        was_b.dead_lettered + 1,
        was_b.running,
        was_b.failed_recently + 1,
    )
    assert beta.budget_usd is None and beta.budget_share is None
    assert (beta.storage_bytes, beta.storage_quota_bytes) == (10 * GB, 100 * GB)
    assert beta.last_activity == later + timedelta(hours=1)


def test_the_operator_sees_each_tenant_row_with_links_into_its_records(operator_client, world):
    store_alpha_and_beta(world)
    alpha, beta = health_of(world.tenant), health_of(world.other)
    page = operator_client.get(URL)
    assert page.status_code == 200
    row = _row(page, "alpha")
    assert _cell(row, "data-running") == str(alpha.running)
    assert _cell(row, "data-queued") == str(alpha.queued)
    assert _cell(row, "data-failed") == str(alpha.failed)
    assert f">{alpha.dead_lettered}</a>" in _cell(row, "data-dead-lettered")
    assert _cell(row, "data-spend") == f"${alpha.spent_usd:,.2f} of $10.00 ({alpha.budget_share:.0%})"
    assert _cell(row, "data-storage") == "500.0 GB of 1000.0 GB (50%)"
    failed, finished = alpha.failed_recently, alpha.finished_recently
    assert _cell(row, "data-error-rate") == f"{failed / finished:.0%} ({failed} of {finished})"
    assert _cell(_row(page, "beta"), "data-storage") == "10.0 GB of 100.0 GB (10%)"
    assert "(no budget)" in _cell(_row(page, "beta"), "data-spend")
    links = re.findall(r'href="([^"]+)"', row)
    assert f"/admin/tenants/tenant/{world.tenant.pk}/change/" in links
    for link in links:
        assert operator_client.get(link.replace("&amp;", "&")).status_code == 200, link
    assert f"tenant__id__exact={world.tenant.pk}" in " ".join(links)
    assert beta.dead_lettered >= 1


@pytest.mark.parametrize(
    ("order", "first"),
    [("storage", "beta"), ("-storage", "alpha"), ("tenant", "alpha"), ("-tenant", "beta")],
)
def test_rows_sort_by_the_column_asked_for(operator_client, world, order, first):
    store_alpha_and_beta(world)
    html = operator_client.get(URL, {"o": order}).content.decode()
    positions = {slug: html.index(f'data-tenant="{slug}"') for slug in ("alpha", "beta")}
    assert min(positions, key=positions.get) == first


def test_a_tenant_without_a_budget_sorts_last_by_spend_either_way(operator_client, world):
    store_alpha_and_beta(world)
    for order in ("spend", "-spend"):
        html = operator_client.get(URL, {"o": order}).content.decode()
        assert html.index('data-tenant="alpha"') < html.index('data-tenant="beta"'), order


def test_an_unknown_sort_column_falls_back_to_the_tenant_order(operator_client, world):
    page = operator_client.get(URL, {"o": "drop table"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index('data-tenant="alpha"') < html.index('data-tenant="beta"')


def test_the_tenant_list_links_to_the_overview(operator_client):
    assert f'href="{URL}"' in operator_client.get("/admin/tenants/tenant/").content.decode()


def test_people_who_are_not_staff_are_sent_to_the_admin_login(client_for, world):
    for person in (None, world.alice, world.bob, world.mallory):
        response = client_for(person).get(URL, HTTP_HOST="localhost")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_tenant_host_has_no_overview(client_for, world):
    assert client_for(world.alice, world.tenant).get(URL).status_code == 404
    assert client_for(world.operator, world.tenant).get(URL).status_code == 404


def test_queries_grow_by_a_small_constant_per_tenant(world):
    """Measured: 6 per tenant (three aggregates, each after django-tenants' SET search_path) on top of
    a fixed 10 (tenants, audit events, issued invoices, the rate card)."""
    counts = []
    for slugs in (["alpha"], ["alpha", "beta"]):
        with CaptureQueriesContext(connection) as queries:
            rows = tenant_health(Tenant.objects.filter(slug__in=slugs))
        assert [row.tenant.slug for row in rows] == slugs
        counts.append(len(queries))
    per_tenant = counts[1] - counts[0]
    fixed = counts[0] - per_tenant
    assert per_tenant <= 6 and fixed <= 10, counts


def _row(page, slug: str) -> str:
    html = page.content.decode()
    match = re.search(rf'<tr data-tenant="{slug}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {slug}"
    return match.group(1)


def _cell(row: str, attribute: str) -> str:
    match = re.search(rf"<td {attribute}>(.*?)</td>", row, re.S)
    assert match, attribute
    return match.group(1).strip()
