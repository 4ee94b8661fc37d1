"""``GET /api/v1/queue/stats``: the tenant's own worksets counted by state, cluster and priority, checked
against the stored rows; a constant number of queries; every member reads it, other tenants get 404."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from jobs.models import Workset
from tests.builders import make_workset

pytestmark = pytest.mark.django_db
URL = "/api/v1/queue/stats"


@pytest.fixture
def alpha_queue(world):
    """Alpha holds exactly these worksets in this test (browser tests commit others; they are rolled away)."""
    with tenant_context(world.tenant):
        Workset.objects.all().delete()
    made = {
        "old_queued": make_workset(world.tenant, state="queued"),
        "urgent_queued": make_workset(world.tenant, state="queued", priority="urgent"),
        "running": make_workset(world.tenant, state="running", priority="low"),
        "dispatched": make_workset(world.tenant, state="dispatched"),
        "retry_wait": make_workset(world.tenant, state="retry_wait"),
        "failed": make_workset(world.tenant, state="failed"),
        "completed": make_workset(world.tenant, state="completed"),
        "archived": make_workset(world.tenant, state="archived"),
    }
    old = made["old_queued"]
    with tenant_context(world.tenant):
        Workset.objects.filter(pk=old.pk).update(state_changed_at=old.state_changed_at - timedelta(hours=3))
        Workset.objects.filter(pk__in=[made["running"].pk, made["completed"].pk]).update(cluster="local-1")
        Workset.objects.filter(pk=made["dispatched"].pk).update(cluster="slurm-a")
    return made


def stored(world, field: str, **filters) -> dict:
    with tenant_context(world.tenant):
        rows = Workset.objects.filter(**filters).order_by().values(field).annotate(n=Count("id"))
        return {row[field]: row["n"] for row in rows}


def test_it_counts_the_tenants_worksets_as_stored(api_for, world, alpha_queue):
    response = api_for(world.carol).get(URL)
    assert response.status_code == 200
    stats = response.json()
    assert {state: n for state, n in stats["by_state"].items() if n} == stored(world, "state")
    assert stats["by_state"] == {
        "draft": 0,
        "validated": 0,
        "queued": 2,
        "dispatched": 1,
        "running": 1,
        "completed": 1,
        "failed": 1,
        "retry_wait": 1,
        "dead_letter": 0,
        "cancelled": 0,
        "archived": 1,
        "billing_hold": 0,
    }
    active = {"state__in": ["queued", "dispatched", "running", "retry_wait"]}
    assert (
        stats["by_priority"]
        == {"urgent": 1, "normal": 3, "low": 1}
        == {
            **dict.fromkeys(("urgent", "normal", "low"), 0),
            **stored(world, "priority", **active),
        }
    )
    assert stats["by_cluster"] == {"local-1": 1, "slurm-a": 1, "unassigned": 3}


def test_the_oldest_queued_age_is_measured_from_when_it_was_queued(api_for, world, alpha_queue):
    stats = api_for(world.bob).get(URL).json()
    with tenant_context(world.tenant):
        queued_at = Workset.objects.get(pk=alpha_queue["old_queued"].pk).state_changed_at
    generated_at = datetime.fromisoformat(stats["generated_at"].replace("Z", "+00:00"))
    assert stats["oldest_queued_age_seconds"] == int((generated_at - queued_at).total_seconds())
    assert stats["oldest_queued_age_seconds"] >= 3 * 3600


def test_an_empty_queue_has_no_oldest_age(api_for, world):
    with tenant_context(world.tenant):
        Workset.objects.all().delete()
    stats = api_for(world.alice).get(URL).json()
    assert stats["oldest_queued_age_seconds"] is None and not any(stats["by_state"].values())
    assert stats["by_cluster"] == {} and stats["by_priority"] == {"urgent": 0, "normal": 0, "low": 0}


def test_its_query_count_does_not_grow_with_the_worksets(api_for, world):
    api = api_for(world.carol)
    make_workset(world.tenant)
    api.get(URL)  # the token's first use records it once
    with CaptureQueriesContext(connection) as few:
        assert api.get(URL).status_code == 200
    for state in ("queued", "running", "failed", "completed", "dispatched", "queued"):
        make_workset(world.tenant, state=state)
    with CaptureQueriesContext(connection) as many:
        assert api.get(URL).status_code == 200
    assert len(many) == len(few), [query["sql"] for query in many]


def test_mallory_sees_only_betas_worksets_and_gets_404_on_alpha(api_for, world, alpha_queue):
    with tenant_context(world.other):
        Workset.objects.all().delete()
    make_workset(world.other, state="failed")
    assert api_for(world.mallory, tenant=world.tenant, token_tenant=world.other).get(URL).status_code == 401
    beta = api_for(world.mallory, tenant=world.other).get(URL).json()
    assert sum(beta["by_state"].values()) == 1 and beta["by_state"]["failed"] == 1


def test_a_signed_in_non_member_gets_404(client_for, world):
    response = client_for(world.mallory, world.tenant).get(URL)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_openapi_schema_documents_it(client_for, world):
    response = client_for(world.carol).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()
    operation = schema["paths"][URL]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    properties = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert set(properties) == {
        "by_state",
        "by_cluster",
        "by_priority",
        "oldest_queued_age_seconds",
        "generated_at",
    }
