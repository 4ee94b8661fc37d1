"""``runyard dispatch``: operators run the dispatcher by hand and read what it placed and why others wait.

The worksets are urgent so they go before any queued ones other tests committed; assertions name only this
test's worksets. Start messages are sent after commit, which never comes in a rolled-back test.
"""

import io
from uuid import uuid4

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from jobs import queue
from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State, Workset
from tests.builders import make_workset

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(
        name=f"cmd-{uuid4().hex[:6]}",
        backend="local",
        region="us-east-1",
        usd_per_vcpu_hour="0.05",
        capacity=1,
    )


def queued(world, n: int) -> list[str]:
    return [make_workset(world.tenant, name=f"Cmd {i}", priority="urgent").code for i in range(n)]


def dispatch(*args) -> list[str]:
    out = io.StringIO()
    call_command("dispatch", "--once", *args, stdout=out)
    return out.getvalue().splitlines()


def state(world, code: str) -> Workset:
    with tenant_context(world.tenant):
        return Workset.objects.get(code=code)


def test_it_prints_what_it_placed_and_why_the_next_one_waits(world, cluster):
    first, second = queued(world, 2)

    lines = dispatch()

    assert f"placed   alpha/{first} on {cluster.name}" in lines
    waits = [line for line in lines if line.startswith(f"waits    alpha/{second}:")]
    assert waits == [f"waits    alpha/{second}: Waiting: every healthy cluster is running at capacity."]
    assert lines[-1].endswith("waiting") and " placed, " in lines[-1]
    placed = state(world, first)
    assert (placed.state, placed.cluster) == (State.DISPATCHED, cluster.name)
    assert placed.dispatch_reason.startswith(f"Placed on {cluster.name}")
    assert state(world, second).state == State.QUEUED
    entry = QueueEntry.objects.get(tenant=world.tenant, workset_code=second)
    assert entry.reason == "Waiting: every healthy cluster is running at capacity."


def test_limit_caps_the_decisions_of_one_run(world, cluster):
    cluster.capacity = 5
    cluster.save()
    first, second = queued(world, 2)

    lines = dispatch("--limit", "1")

    placed = [line for line in lines if line.startswith("placed")]
    assert placed == [f"placed   alpha/{first} on {cluster.name}"]
    assert state(world, second).state == State.QUEUED
    assert lines[-1].startswith("1 placed, 0 held")


def test_it_says_when_the_global_limit_stops_every_workset(world, cluster, settings):
    cluster.capacity = 5
    cluster.save()
    first, second = queued(world, 2)
    limit = (SlotCounter.objects.filter(scope=queue.GLOBAL).values_list("used", flat=True).first() or 0) + 1
    settings.RUNYARD_MAX_RUNNING_WORKSETS = limit

    lines = dispatch()

    assert f"placed   alpha/{first} on {cluster.name}" in lines
    reason = f"Waiting: the global limit of {limit} running worksets is reached."
    assert f"waits    every workset: {reason}" in lines
    assert state(world, second).state == State.QUEUED
