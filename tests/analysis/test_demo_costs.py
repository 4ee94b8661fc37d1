"""``runyard demo``'s cost data: the Heliox-shaped sample moved to end yesterday, ingested through the
upload service, gives the sample's hand-computed figures (test_cost_analytics) on the moved days."""

from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from analysis.demo import seed_demo_costs
from analysis.models import CostIngest, GpuJob, Team
from tests.analysis.test_cost_analytics import BY_TEAM, TOTAL

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 24)
SHIFT = (TODAY - timedelta(days=1) - date(2026, 1, 14)).days  # the sample's last rate day becomes yesterday


def test_the_demo_costs_are_ingested_once_and_cost_what_the_sample_costs(
    world, api_for, django_capture_on_commit_callbacks
):
    with tenant_context(world.tenant):
        with django_capture_on_commit_callbacks(execute=True):
            assert seed_demo_costs(TODAY)
        assert sorted(CostIngest.objects.values_list("kind", "state")) == [
            ("jobs", "done"),
            ("rates", "done"),
        ]
        assert GpuJob.objects.count() == 30
        assert dict(Team.objects.values_list("name", "budget_usd")) == {
            "ml-research": 50000,
            "data-science": 75000,
            "ai-platform": 100000,
        }
        assert not seed_demo_costs(TODAY)
    start = date(2026, 1, 1) + timedelta(days=SHIFT)
    answer = api_for(world.alice).get(
        "/api/v1/analytics/cost", {"start": start, "end": TODAY - timedelta(days=1), "group_by": "team"}
    )
    assert answer.json()["total"]["cost"] == TOTAL
    assert {g["group"]["team"]: g["cost"] for g in answer.json()["groups"]} == {
        team: cost for team, (cost, _, _) in BY_TEAM.items()
    }
