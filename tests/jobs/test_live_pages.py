"""The pages that update live, rendered for each role: a workset's progress (state, current step, progress
bar, steps, log tail, estimated and measured cost), the list's live rows, the dashboard's counts and cost."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from jobs.models import Workset, WorksetStep
from tenants.models import UsageRecord
from tenants.services.billing import DEFAULT_RATES
from tenants.services.usage import record_usage
from tests.builders import make_workset

pytestmark = pytest.mark.django_db
ROLES = ("alice", "bob", "carol")


@pytest.fixture
def running(world) -> Workset:
    """A running workset two steps into three, with a measured cost so far."""
    workset = make_workset(world.tenant, state="running", name="Live trio")
    with tenant_context(world.tenant):
        for position, (name, status, exit_code) in enumerate(
            (("fetch", "succeeded", 0), ("align", "succeeded", 0), ("call", "running", None)), start=1
        ):
            WorksetStep.objects.create(
                workset=workset, position=position, name=name, status=status, exit_code=exit_code
            )
        Workset.objects.filter(pk=workset.pk).update(
            current_step="call", progress=66, cluster="local-1", measured_cost_usd=Decimal("1.2345")
        )
    return workset


@pytest.mark.parametrize("role", ROLES)
def test_the_workset_page_shows_progress_steps_and_costs_for_each_role(client_for, world, running, role):
    response = client_for(getattr(world, role)).get(f"/worksets/{running.code}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-live-workset="{running.code}" data-live-socket="/ws/worksets/"' in html
    assert "data-live-state>running</span>" in html
    assert '<strong data-live-current-step data-empty="—">call</strong>' in html
    assert "<span data-live-steps-done>2 of 3 steps done</span>" in html
    assert 'value="66" data-live-progress' in html
    assert html.count('<tr data-step="') == 3 and 'class="pill step-status step-running">running<' in html
    estimated = f"${Decimal(str(running.estimate['cost_usd'])):.2f}"
    assert f"<dd data-live-cost-estimated>{estimated}</dd>" in html
    assert "<dd data-live-cost-measured>$1.2345</dd>" in html
    assert "Cost, estimated" in html and "Cost, measured" in html
    assert "data-live-log" in html and "js/live.js" in html


def test_a_queued_workset_says_no_steps_and_nothing_measured_yet(client_for, world):
    workset = make_workset(world.tenant, state="queued")
    html = client_for(world.carol).get(f"/worksets/{workset.code}/").content.decode()
    assert "No steps reported yet" in html
    assert "<dd data-live-cost-measured>—</dd>" in html
    assert "<span data-live-steps-done>0 of 0 steps done</span>" in html


@pytest.mark.parametrize("role", ROLES)
def test_the_list_marks_each_row_for_live_updates(client_for, world, running, role):
    html = client_for(getattr(world, role)).get("/worksets/").content.decode()
    assert f'<tr data-workset-row="{running.code}">' in html
    assert 'data-live-list data-live-socket="/ws/worksets/"' in html and "js/live.js" in html
    assert "data-live-new hidden" in html


def test_mallory_gets_404_for_alphas_workset_page(client_for, world, running):
    assert client_for(world.mallory, world.tenant).get(f"/worksets/{running.code}/").status_code == 404
    assert client_for(world.mallory, world.other).get(f"/worksets/{running.code}/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_counts_worksets_and_shows_the_months_cost_for_each_role(client_for, world, role):
    with tenant_context(world.tenant):
        Workset.objects.all().delete()
    made = {
        state: make_workset(world.tenant, state=state)
        for state in ("running", "dispatched", "queued", "retry_wait", "failed", "completed")
    }
    make_workset(world.tenant, state="queued")
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    record_usage(
        world.tenant,
        UsageRecord.Kind.VCPU,
        Decimal(100),
        basis=UsageRecord.Basis.MEASURED,
        source="test",
        period_start=start,
        period_end=start + timedelta(hours=1),
        dimension="normal",
    )
    html = client_for(getattr(world, role)).get("/").content.decode()
    assert 'data-live-count="running" data-states="dispatched running" data-testid="count-running">2<' in html
    assert 'data-live-count="queued" data-states="queued retry_wait" data-testid="count-queued">3<' in html
    assert 'data-live-count="failed" data-states="failed dead_letter" data-testid="count-failed">1<' in html
    cost = 100 * DEFAULT_RATES["vcpu_hour_normal"]
    assert f'data-testid="cost-to-date">${cost:.2f}<' in html and cost == Decimal("4.00")
    assert f"Cost {timezone.now():%B %Y} so far" in html
    assert 'data-stats-url="/api/v1/queue/stats" data-usage-url="/api/v1/usage"' in html
    assert 'href="/worksets/?state=queued&amp;state=retry_wait">Show them' in html
    listed = client_for(getattr(world, role)).get("/worksets/?state=queued&state=retry_wait").content.decode()
    assert made["queued"].code in listed and made["retry_wait"].code in listed
    assert made["running"].code not in listed
