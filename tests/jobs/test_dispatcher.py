"""The dispatcher's rules: priority then age, the global, tenant and cluster limits, the budget action, the
cluster score and failover, and the reasons it stores; the backoff schedule of automatic retries."""

import random
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.dispatch import dispatch
from jobs.models import Workset
from jobs.placement import Candidate, rank, why_none
from jobs.retries import backoff_ceiling, backoff_seconds
from tenants.models import Quota
from tests.builders import make_workset


def candidate(name, region="us-east-1", price="0.05", capacity=4, used=0, **fields) -> Candidate:
    return Candidate(name, region, Decimal(price), capacity, used, **fields)


# --- the score (no database) ---


def test_the_preferred_cluster_wins_while_it_has_room_and_is_healthy():
    clusters = [candidate("cheap", price="0.01"), candidate("mine", region="eu-west-1", price="0.09")]
    best = rank(clusters, pipeline="germline", preferred="mine", region="us-east-1")[0]
    assert best.cluster.name == "mine" and "the preferred cluster" in best.reason


def test_the_bucket_region_beats_a_cheaper_cluster_elsewhere_and_the_reason_says_so():
    clusters = [candidate("far", region="eu-west-1", price="0.01"), candidate("near", price="0.05")]
    best = rank(clusters, pipeline="germline", region="us-east-1")[0]
    assert best.cluster.name == "near"
    assert "same region as the bucket (us-east-1)" in best.reason


def test_among_equals_the_cheaper_then_the_emptier_cluster_wins():
    cost = rank(
        [candidate("a", price="0.06"), candidate("b", price="0.04")], pipeline="x", region="us-east-1"
    )
    assert cost[0].cluster.name == "b" and "(cheapest)" in cost[0].reason
    load = rank([candidate("a", used=3), candidate("b", used=1)], pipeline="x", region="us-east-1")
    assert load[0].cluster.name == "b" and "1 of 4 places in use" in load[0].reason


def test_unhealthy_full_and_disabled_clusters_are_routed_around_with_a_failover_note():
    clusters = [
        candidate("east", health="unhealthy"),
        candidate("east-2", used=4),
        candidate("east-3", enabled=False),
        candidate("west", region="us-west-2"),
    ]
    choices = rank(clusters, pipeline="germline", preferred="east", region="us-east-1")
    assert [c.cluster.name for c in choices] == ["west"]
    assert "The preferred cluster east is unhealthy." in choices[0].reason
    assert "No cluster in the bucket's region us-east-1 can take it" in choices[0].reason


def test_a_degraded_cluster_ranks_below_a_healthy_one():
    clusters = [candidate("slow", health="degraded"), candidate("ok", health="healthy")]
    assert [c.cluster.name for c in rank(clusters, pipeline="x")] == ["ok", "slow"]


def test_only_clusters_that_run_the_pipeline_are_candidates():
    clusters = [candidate("qc-only", pipelines=("fastq_qc",)), candidate("any")]
    assert [c.cluster.name for c in rank(clusters, pipeline="germline")] == ["any"]
    assert why_none([candidate("qc-only", pipelines=("fastq_qc",))], "germline") == (
        "Waiting: no enabled cluster runs the pipeline germline."
    )
    assert "running at capacity" in why_none([candidate("full", used=4)], "germline")
    assert "unhealthy" in why_none([candidate("sick", health="unhealthy")], "germline")


# --- backoff (no database) ---


def test_backoff_ceilings_double_from_the_base_up_to_the_cap():
    ceilings = [backoff_ceiling(n, base=30, cap=900) for n in range(1, 8)]
    assert ceilings == [30, 60, 120, 240, 480, 900, 900]


def test_backoff_waits_between_half_and_all_of_the_ceiling_and_is_reproducible_with_a_seed():
    for n in range(1, 10):
        ceiling = backoff_ceiling(n, base=30, cap=900)
        waits = [backoff_seconds(n, base=30, cap=900, rng=random.Random(seed)) for seed in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert max(waits) - min(waits) > ceiling / 4  # jitter spreads retries out
    seeded = [backoff_seconds(3, base=30, cap=900, rng=random.Random(7)) for _ in range(2)]
    assert seeded[0] == seeded[1]
    with pytest.raises(ValueError):
        backoff_ceiling(0, base=30, cap=900)


# --- dispatching (database; the run itself is not started: on_commit does not fire in these tests) ---


@pytest.fixture
def cluster(fresh_queue):
    def make(name="local-1", capacity=4, **fields) -> Cluster:
        defaults = {
            "backend": "local",
            "region": "us-east-1",
            "usd_per_vcpu_hour": "0.05",
            "capacity": capacity,
        }
        return Cluster.objects.create(name=name, **(defaults | fields))

    return make


def states(tenant, *worksets) -> list[str]:
    with tenant_context(tenant):
        return [Workset.objects.get(pk=w.pk).state for w in worksets]


def test_it_dispatches_by_priority_then_age_and_stores_the_choice_and_reason(world, cluster):
    cluster(capacity=2)
    low = make_workset(world.tenant, priority="low")
    old = make_workset(world.tenant)
    new = make_workset(world.tenant)
    urgent = make_workset(world.tenant, priority="urgent")
    report = dispatch()
    assert [code for _, code, _ in report.placed] == [urgent.code, old.code]
    assert states(world.tenant, urgent, old, new, low) == ["dispatched", "dispatched", "queued", "queued"]
    with tenant_context(world.tenant):
        placed = Workset.objects.get(pk=urgent.pk)
    assert placed.cluster == "local-1" and placed.dispatch_reason.startswith("Placed on local-1 (us-east-1)")
    assert report.waiting[f"alpha/{new.code}"] == "Waiting: every healthy cluster is running at capacity."
    assert QueueEntry.objects.get(workset_code=new.code).reason.startswith("Waiting: every healthy cluster")


def test_a_tenant_runs_at_most_its_quota_while_others_go_ahead(world, cluster):
    cluster(capacity=10)
    Quota.objects.filter(tenant=world.tenant).update(max_concurrent_worksets=1)
    first, second = make_workset(world.tenant), make_workset(world.tenant)
    theirs = make_workset(world.other)
    report = dispatch()
    assert {code for _, code, _ in report.placed} == {first.code, theirs.code}
    assert states(world.tenant, second) == ["queued"]
    assert "runs its maximum of 1 at once" in report.waiting[f"alpha/{second.code}"]


def test_the_global_limit_holds_across_tenants(world, cluster, settings):
    settings.RUNYARD_MAX_RUNNING_WORKSETS = 1
    cluster(capacity=10)
    make_workset(world.tenant), make_workset(world.other)
    report = dispatch()
    assert len(report.placed) == 1
    assert report.waiting["*"] == "Waiting: the global limit of 1 running worksets is reached."


def test_a_budget_hold_moves_queued_work_to_billing_hold_instead_of_running_it(world, cluster):
    cluster()
    workset = make_workset(world.tenant)
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=True)
    report = dispatch()
    assert report.held == [("alpha", workset.code)] and not report.placed
    assert states(world.tenant, workset) == ["billing_hold"]
    assert not QueueEntry.objects.filter(workset_code=workset.code).exists()


def test_an_unhealthy_preferred_cluster_fails_over_and_the_workset_says_so(world, cluster):
    cluster("east", health="unhealthy")
    cluster("west", region="us-west-2")
    workset = make_workset(world.tenant, preferred_cluster="east")
    dispatch()
    with tenant_context(world.tenant):
        placed = Workset.objects.get(pk=workset.pk)
    assert placed.cluster == "west"
    assert "The preferred cluster east is unhealthy." in placed.dispatch_reason


def test_a_workset_no_cluster_can_run_waits_with_the_reason_and_others_go_ahead(world, cluster):
    cluster(pipelines=["fastq_qc"])
    germline = make_workset(world.tenant)
    qc = make_workset(world.tenant, pipeline="fastq_qc")
    report = dispatch()
    assert [code for _, code, _ in report.placed] == [qc.code]
    assert (
        report.waiting[f"alpha/{germline.code}"] == "Waiting: no enabled cluster runs the pipeline germline."
    )


def test_a_cancelled_queued_workset_leaves_the_queue(world, cluster, django_capture_on_commit_callbacks):
    from jobs.services import cancel_workset

    workset = make_workset(world.tenant)
    with tenant_context(world.tenant):
        cancel_workset(world.tenant, workset, actor=world.alice)
    assert not QueueEntry.objects.filter(workset_code=workset.code).exists()
    cluster()
    assert dispatch().placed == []


def test_worksets_moved_outside_the_dispatcher_leave_no_stale_entry_behind(world, cluster):
    failed = make_workset(world.tenant, state="failed")
    assert not QueueEntry.objects.filter(workset_code=failed.code).exists()
    running = make_workset(world.tenant, state="running")  # moved by hand, as the demo's history does
    cluster()
    assert dispatch().placed == []
    assert not QueueEntry.objects.filter(workset_code=running.code).exists()


def test_a_deleted_workset_leaves_the_queue_and_gives_back_its_places(world, cluster):
    cluster()
    workset = make_workset(world.tenant)
    dispatch()
    assert SlotCounter.objects.get(scope="global").used == 1
    with tenant_context(world.tenant):
        Workset.objects.filter(pk=workset.pk).delete()
    assert not QueueEntry.objects.filter(workset_code=workset.code).exists()
    assert SlotCounter.objects.get(scope="global").used == 0
