"""Four dispatcher processes at once over one committed queue: no workset is dispatched twice, no limit
overfills, and every place taken is counted.

The queue is committed (the dispatchers are other processes, ``runyard dispatch --once``), so nothing here
is rolled back: each test builds its worksets in alpha and beta, its clusters and its quota changes, and
removes them all afterwards. The children run without REDIS_URL, so the start messages they send after
commit land in the filesystem broker under their own RUNYARD_HOME, where no worker runs them.

To be sure the four really decide at the same time, this process holds the row lock of the global counter
until all four wait for a lock (that one, or a counter another of them holds): each has then claimed a
different entry and is halfway through its decision, and all go on at once.
"""

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from uuid import uuid4

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django_tenants.utils import tenant_context

from jobs import queue
from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from jobs.models import State, Workset, WorksetTransition
from jobs.services import create_workset
from tenants.models import AuditEvent
from tenants.services.quotas import quota_of
from tests.browser.conftest import database_url
from tests.builders import committed, workset_spec

PROCESSES = 4
PER_TENANT = 30
CAPACITIES = (8, 8, 8)
BETA_LIMIT = 5
START_TIMEOUT = 60.0  # seconds for the children to start and all wait on the lock (a guard, not a measure)
pytestmark = pytest.mark.django_db
IN_MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@dataclass
class Queue:
    """What one test committed, and the counters as they were before."""

    tag: str
    codes: dict[str, list[str]] = field(default_factory=dict)  # schema → codes, in queue order
    clusters: list[Cluster] = field(default_factory=list)
    global_before: int = 0
    tenant_before: dict[str, int] = field(default_factory=dict)

    @property
    def all_codes(self) -> set[str]:
        return {code for codes in self.codes.values() for code in codes}


@pytest.fixture
def committed_queue(world, django_db_blocker):
    """60 urgent queued worksets (alpha and beta interleaved, so beta's come early), 3 clusters of 8,
    beta limited to 5 at once and alpha to more than it has; all removed afterwards."""
    tenants, built, quotas = (world.tenant, world.other), Queue(tag=uuid4().hex[:6]), {}
    with django_db_blocker.unblock(), override_settings(CHANNEL_LAYERS=IN_MEMORY_LAYER):
        try:
            committed(None, lambda: _build(built, tenants, quotas))
            yield built
        finally:
            committed(None, lambda: _remove(built, tenants, quotas))


def _build(built: Queue, tenants, quotas: dict[str, int]) -> None:
    others = list(Cluster.objects.enabled().values_list("name", flat=True))
    assert not others, f"committed clusters left by another test would take these worksets: {others}"
    SlotCounter.objects.get_or_create(scope=queue.GLOBAL)  # the row this test locks
    built.global_before = SlotCounter.objects.get(scope=queue.GLOBAL).used
    for tenant in tenants:
        used = _used(queue.tenant_scope(tenant.pk))
        built.tenant_before[tenant.schema_name] = used
        quota = quota_of(tenant)
        quotas[tenant.schema_name] = quota.max_concurrent_worksets
        quota.max_concurrent_worksets = used + (BETA_LIMIT if tenant.slug == "beta" else PER_TENANT + 10)
        quota.save(update_fields=["max_concurrent_worksets"])
        built.codes[tenant.schema_name] = []
    for n in range(PER_TENANT):
        for tenant in tenants:
            built.codes[tenant.schema_name].append(_queued(tenant, f"Race {built.tag} {n}"))
    for n, capacity in enumerate(CAPACITIES):
        cluster = Cluster.objects.create(
            name=f"race-{built.tag}-{n}",
            backend="local",
            region="us-east-1",
            usd_per_vcpu_hour="0.05",
            capacity=capacity,
        )
        built.clusters.append(cluster)


def _queued(tenant, name: str) -> str:
    """Created through the service (validated, not submitted: no dispatcher is woken in this process),
    then queued by the model, which writes the queue entry as a submission would."""
    with tenant_context(tenant), transaction.atomic():
        workset = create_workset(
            tenant, workset_spec(name, priority="urgent"), actor=None, submit=False, dry_run=True
        )
        workset.transition_to(State.QUEUED, reason="Submitted")
    return workset.code


def _remove(built: Queue, tenants, quotas: dict[str, int]) -> None:
    for entry in QueueEntry.objects.filter(workset_code__in=built.all_codes):
        with transaction.atomic():
            queue.give_back(entry)  # the places it holds, as the end of a run gives them back
            entry.delete()
    for tenant in tenants:
        with tenant_context(tenant):
            Workset.objects.filter(code__in=built.codes.get(tenant.schema_name, [])).delete()
        if tenant.schema_name in quotas:
            quota = quota_of(tenant)
            quota.max_concurrent_worksets = quotas[tenant.schema_name]
            quota.save(update_fields=["max_concurrent_worksets"])
    AuditEvent.objects.filter(target__in=built.all_codes).delete()
    SlotCounter.objects.filter(scope__in=[queue.cluster_scope(c.pk) for c in built.clusters]).delete()
    Cluster.objects.filter(pk__in=[c.pk for c in built.clusters]).delete()


def _used(scope: str) -> int:
    return SlotCounter.objects.filter(scope=scope).values_list("used", flat=True).first() or 0


# --- The dispatcher processes ------------------------------------------------------------------------


@dataclass
class Run:
    outputs: list[str]
    home: object

    def placed_lines(self) -> list[tuple[int, str]]:
        """(process, "schema/code") for every ``placed`` line the processes printed."""
        return [
            (n, line.split()[1])
            for n, out in enumerate(self.outputs)
            for line in out.splitlines()
            if line.startswith("placed")
        ]

    def start_messages(self) -> list[str]:
        """ "schema/code" of every start message the processes sent (the filesystem broker's files)."""
        sent = []
        for path in (self.home / "broker" / "queue").glob("*.msg"):
            message = json.loads(path.read_text())
            if message["headers"]["task"] != "jobs.start_workset_task":
                continue
            args = json.loads(base64.b64decode(message["body"]))[0]
            sent.append(f"{message['headers']['_schema_name']}/{args[0]}")
        return sent


@pytest.fixture
def dispatchers(tmp_path):
    """Start PROCESSES ``runyard dispatch --once`` at once against the test database, with no REDIS_URL,
    while this process holds the global counter's row lock; release it once all of them wait for a lock."""

    def run(max_running: int) -> Run:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env |= {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(connection.settings_dict),
            "RUNYARD_HOME": str(tmp_path),
            "RUNYARD_MAX_RUNNING_WORKSETS": str(max_running),
        }
        command = [sys.executable, "manage.py", "dispatch", "--once", "--limit", "1000"]
        with psycopg.connect(env["DATABASE_URL"]) as lock:
            lock.execute(
                f"SELECT used FROM {SlotCounter._meta.db_table} WHERE scope = %s FOR UPDATE",  # noqa: S608
                [queue.GLOBAL],
            )
            children = [
                subprocess.Popen(
                    command, env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
                for _ in range(PROCESSES)
            ]
            try:
                _wait_for_waiters(env["DATABASE_URL"], children)
            finally:
                lock.rollback()  # every child goes on at once
            outputs = []
            for child in children:
                out, err = child.communicate(timeout=120)
                assert child.returncode == 0, err.decode()[-3000:]
                outputs.append(out.decode())
        return Run(outputs=outputs, home=tmp_path)

    return run


def _wait_for_waiters(url: str, children: list[subprocess.Popen]) -> None:
    """Until PROCESSES other sessions of this database wait for a lock (a guard, not a measurement)."""
    deadline = time.monotonic() + START_TIMEOUT
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            (waiting,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            if waiting >= PROCESSES:
                return
            ended = [child for child in children if child.poll() is not None]
            if ended:
                raise AssertionError(f"a dispatcher ended before deciding: {ended[0].stderr.read().decode()}")
            time.sleep(0.05)
    raise AssertionError(f"the {PROCESSES} dispatchers did not all reach the global counter in time")


# --- What the database says afterwards ---------------------------------------------------------------


def dispatched(built: Queue, tenants) -> dict[str, list[str]]:
    """schema → codes of this test's worksets that are dispatched, each checked to have moved
    queued → dispatched exactly once (and every other one never)."""
    found = {}
    for tenant in tenants:
        codes = built.codes[tenant.schema_name]
        with tenant_context(tenant):
            moves = WorksetTransition.objects.filter(workset__code__in=codes, to_state=State.DISPATCHED)
            counts = {code: 0 for code in codes}
            for code, from_state in moves.values_list("workset__code", "from_state"):
                assert from_state == State.QUEUED
                counts[code] += 1
            states = dict(Workset.objects.filter(code__in=codes).values_list("code", "state"))
        twice = [code for code, n in counts.items() if n > 1]
        assert not twice, f"dispatched more than once: {twice}"
        assert {c for c, n in counts.items() if n} == {c for c, s in states.items() if s == State.DISPATCHED}
        found[tenant.schema_name] = [code for code in codes if counts[code]]
    return found


def assert_counted(built: Queue, tenants, placed: dict[str, list[str]]) -> None:
    """Every counter says exactly what the placed entries say; no cluster holds more than its capacity."""
    entries = QueueEntry.objects.filter(workset_code__in=built.all_codes, status=QueueEntry.Status.PLACED)
    assert {f"{e.tenant.schema_name}/{e.workset_code}" for e in entries.select_related("tenant")} == {
        f"{schema}/{code}" for schema, codes in placed.items() for code in codes
    }
    for cluster in built.clusters:
        on_it = QueueEntry.objects.placed().filter(cluster=cluster).count()
        assert on_it == entries.filter(cluster=cluster).count(), "another workset was placed on this cluster"
        assert on_it <= cluster.capacity
        assert _used(queue.cluster_scope(cluster.pk)) == on_it
    for tenant in tenants:
        expected = built.tenant_before[tenant.schema_name] + len(placed[tenant.schema_name])
        assert _used(queue.tenant_scope(tenant.pk)) == expected
    assert _used(queue.GLOBAL) == built.global_before + sum(len(codes) for codes in placed.values())


def assert_announced(run: Run, placed: dict[str, list[str]]) -> None:
    """Each dispatched workset was reported by exactly one process and got exactly one start message."""
    expected = sorted(f"{schema}/{code}" for schema, codes in placed.items() for code in codes)
    reported = run.placed_lines()
    assert sorted(workset for _, workset in reported) == expected
    assert {process for process, _ in reported} == set(range(PROCESSES)), "every process decided at once"
    assert sorted(run.start_messages()) == expected


def test_four_dispatchers_fill_every_cluster_and_the_tenant_limit_exactly_and_dispatch_each_workset_once(
    world, committed_queue, dispatchers
):
    tenants = (world.tenant, world.other)
    run = dispatchers(max_running=committed_queue.global_before + 1000)

    placed = dispatched(committed_queue, tenants)
    alpha, beta = (len(placed[t.schema_name]) for t in tenants)
    assert beta == BETA_LIMIT  # beta's worksets come early in the queue: it reaches its limit
    assert alpha + beta == sum(CAPACITIES)  # alpha has more than the rest: every cluster is full
    assert_counted(committed_queue, tenants, placed)
    assert_announced(run, placed)
    waiting = QueueEntry.objects.filter(workset_code__in=committed_queue.all_codes, status="queued")
    assert waiting.count() == 2 * PER_TENANT - sum(CAPACITIES)


def test_four_dispatchers_stop_at_the_global_limit_together(world, committed_queue, dispatchers):
    tenants = (world.tenant, world.other)
    limit = 6
    run = dispatchers(max_running=committed_queue.global_before + limit)

    placed = dispatched(committed_queue, tenants)
    assert sum(len(codes) for codes in placed.values()) == limit
    assert len(placed[world.other.schema_name]) <= BETA_LIMIT
    assert_counted(committed_queue, tenants, placed)
    assert_announced(run, placed)
    assert all(f"the global limit of {committed_queue.global_before + limit}" in out for out in run.outputs)
