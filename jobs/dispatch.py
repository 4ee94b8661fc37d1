"""The dispatcher: queued worksets of every tenant onto clusters, one decision per transaction.

Runs in the public schema (``jobs.dispatch_task``: every ``RUNYARD_DISPATCH_SECONDS``, on every submit and
when a run ends). Any number may run at once: each decision claims the first queue entry no other
dispatcher holds (``select_for_update(skip_locked=True)``, priority then age), takes one place of the global
limit, of the tenant's ``max_concurrent_worksets`` and of the chosen cluster's capacity with conditional
updates (``jobs.queue.take_slot``), and moves the workset queued → dispatched with the conditional update of
``Workset.transition_to``, all in one transaction. So a workset is dispatched once, and no limit overfills.
The workset is moved first and the places are taken last, just before the commit: the counters' row locks,
which every dispatcher waits for, are held only that long (bench/dispatcher.py). The start of the run is
sent after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from jobs import placement, queue
from jobs.catalog.models import Cluster, QueueEntry, SlotCounter
from portal.metrics import observe_dispatch
from tenants.models import Bucket, Quota, Tenant
from tenants.services.quotas import quota_of


@dataclass
class Report:
    """What one dispatcher run did: the worksets it placed (schema, code, cluster) and why others wait."""

    placed: list[tuple[str, str, str]] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)
    requeued: list[tuple[str, str]] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)

    @property
    def decisions(self) -> int:
        return len(self.placed) + len(self.held)


class _Stale(Exception):
    """The entry says queued but its workset is not (moved outside the dispatcher, or gone)."""


class _Stop(Exception):
    """No more decisions are possible this run (the global limit is reached)."""


def dispatch(*, limit: int = 200) -> Report:
    """Requeue retries that are due, then place up to ``limit`` queued worksets."""
    report = Report()
    requeue_due_retries(report)
    blocked, known = _Blocked(), _Known()
    while report.decisions < limit:
        try:
            with transaction.atomic():
                entry = _claim(blocked)
                if entry is None:
                    break
                _decide(entry, report, blocked, known)
        except _Stop as stop:
            report.waiting["*"] = str(stop)
            break
    return report


def requeue_due_retries(report: Report | None = None) -> list[tuple[str, str]]:
    """Worksets whose retry wait is over go back to the queue (retry_wait → queued)."""
    from jobs.models import IllegalTransition, State, Workset

    due = QueueEntry.objects.filter(status=QueueEntry.Status.RETRY_WAIT, not_before__lte=timezone.now())
    moved = []
    for schema, code in due.values_list("tenant__schema_name", "workset_code"):
        with schema_context(schema), transaction.atomic():
            workset = Workset.objects.select_for_update().filter(code=code, state=State.RETRY_WAIT).first()
            if workset is None:
                continue
            try:
                reason = f"Retry {workset.auto_retries} of {workset.max_retries}: queued again"
                workset.transition_to(State.QUEUED, reason=reason)
            except IllegalTransition:
                continue
        moved.append((schema, code))
    if report is not None:
        report.requeued.extend(moved)
    return moved


@dataclass
class _Blocked:
    """What this run has learnt cannot go now: skipped by the next claims instead of tried again."""

    tenants: set[int] = field(default_factory=set)
    pipelines: set[str] = field(default_factory=set)
    entries: list[int] = field(default_factory=list)


@dataclass
class _Known:
    """What this run reads once instead of at every decision: the clusters, and each tenant's quota and
    bucket region. A run lasts seconds and the next one reads them afresh; the places themselves are
    always taken on the counters, so an edit made meanwhile can delay a decision, never overfill."""

    _clusters: dict[str, Cluster] | None = None
    _quotas: dict[int, Quota] = field(default_factory=dict)
    _regions: dict[int, str] = field(default_factory=dict)

    def clusters(self) -> dict[str, Cluster]:
        if self._clusters is None:
            self._clusters = {cluster.name: cluster for cluster in Cluster.objects.all()}
        return self._clusters

    def quota(self, tenant: Tenant) -> Quota:
        if tenant.pk not in self._quotas:
            self._quotas[tenant.pk] = quota_of(tenant)
        return self._quotas[tenant.pk]

    def region(self, tenant_id: int) -> str:
        if tenant_id not in self._regions:
            regions = Bucket.objects.filter(tenant_id=tenant_id).values_list("region", flat=True)
            self._regions[tenant_id] = regions.first() or ""
        return self._regions[tenant_id]


def _claim(blocked: _Blocked) -> QueueEntry | None:
    entries = (
        QueueEntry.objects.dispatchable()
        .exclude(tenant_id__in=blocked.tenants)
        .exclude(pipeline__in=blocked.pipelines)
        .exclude(pk__in=blocked.entries)
    )
    return entries.select_for_update(skip_locked=True, of=("self",)).select_related("tenant").first()


def _decide(entry: QueueEntry, report: Report, blocked: _Blocked, known: _Known) -> None:
    tenant = entry.tenant
    quota = known.quota(tenant)
    if quota.billing_hold:
        _hold(entry, report)
        return
    if tenant.status != Tenant.Status.ACTIVE:
        blocked.tenants.add(tenant.pk)
        _wait(entry, report, f"Waiting: {tenant.name} is {tenant.status}.")
        return
    limit = settings.RUNYARD_MAX_RUNNING_WORKSETS
    try:
        reason = _place(entry, report, blocked, known, limit)
    except _Stale:  # the index was behind the workset: heal it
        entry.delete()
        return
    if reason is not None:
        blocked.entries.append(entry.pk)
        _wait(entry, report, reason)


def _place(entry: QueueEntry, report: Report, blocked: _Blocked, known: _Known, limit: int) -> str | None:
    """Dispatch the workset on the best cluster with room and take its places; the wait reason if not."""
    clusters = known.clusters()
    used = dict(SlotCounter.objects.filter(scope__startswith="cluster:").values_list("scope", "used"))
    candidates = [_candidate(c, used.get(queue.cluster_scope(c.pk), 0)) for c in clusters.values()]
    region = known.region(entry.tenant_id)
    choices = placement.rank(
        candidates, pipeline=entry.pipeline, preferred=entry.preferred_cluster, region=region
    )
    if not choices:  # no cluster running this pipeline has room: the same holds for its other worksets
        blocked.pipelines.add(entry.pipeline)
        return placement.why_none(candidates, entry.pipeline)
    for choice in choices:
        cluster = clusters[choice.cluster.name]
        with transaction.atomic():  # a savepoint: the dispatch is undone if its places cannot be taken
            _dispatch(entry, cluster, choice.reason)
            reason = _take_places(entry, cluster, blocked, known, limit)
            if reason is None:
                _announce(entry, cluster, report)
                return None
            transaction.set_rollback(True)
        if reason != _FILLED:
            return reason
    return _FILLED


_FILLED = "Waiting: the clusters that could take it filled up meanwhile."


def _take_places(
    entry: QueueEntry, cluster: Cluster, blocked: _Blocked, known: _Known, limit: int
) -> str | None:
    """One place of the tenant's limit, of the cluster's capacity and of the global limit; the wait reason
    if one is full. Taken last, just before the commit, and always in this order: the counters' row locks,
    which every dispatcher needs, are held as briefly as possible and never in an order that deadlocks."""
    tenant, quota = entry.tenant, known.quota(entry.tenant)
    if not queue.take_slot(queue.tenant_scope(tenant.pk), quota.max_concurrent_worksets):
        blocked.tenants.add(tenant.pk)
        return f"Waiting: {tenant.name} runs its maximum of {quota.max_concurrent_worksets} at once."
    if not queue.take_slot(queue.cluster_scope(cluster.pk), cluster.capacity):
        return _FILLED
    if not queue.take_slot(queue.GLOBAL, limit):
        raise _Stop(f"Waiting: the global limit of {limit} running worksets is reached.")
    return None


def _dispatch(entry: QueueEntry, cluster: Cluster, reason: str) -> None:
    """Move the workset queued → dispatched and mark its entry placed (the places are taken next)."""
    from jobs.models import IllegalTransition, State, Workset

    with tenant_context(entry.tenant):  # not schema_context: the queue index reads the tenant's pk from it
        workset = Workset.objects.filter(code=entry.workset_code).first()
        if workset is None or workset.state != State.QUEUED:
            raise _Stale(f"the workset is {workset.state if workset else 'gone'}")
        try:
            workset.transition_to(
                State.DISPATCHED, reason=reason, cluster=cluster.name, dispatch_reason=reason
            )
        except IllegalTransition as moved:
            raise _Stale(f"the workset moved to {moved.current}") from moved
    entry.status, entry.cluster, entry.placed_at, entry.reason = (
        QueueEntry.Status.PLACED,
        cluster,
        timezone.now(),
        reason,
    )
    entry.save(update_fields=["status", "cluster", "placed_at", "reason", "updated_at"])


def _announce(entry: QueueEntry, cluster: Cluster, report: Report) -> None:
    from jobs.tasks import send_in_schema, start_workset_task

    schema, code = entry.tenant.schema_name, entry.workset_code
    waited = (entry.placed_at - entry.queued_at).total_seconds()
    transaction.on_commit(lambda: send_in_schema(schema, start_workset_task, code))
    transaction.on_commit(partial(observe_dispatch, entry.tenant, cluster.name, waited))
    report.placed.append((schema, code, cluster.name))


def _hold(entry: QueueEntry, report: Report) -> None:
    """The tenant's budget action holds new work: the workset waits in billing_hold, off the queue."""
    from jobs.models import IllegalTransition, State, Workset

    schema = entry.tenant.schema_name
    with schema_context(schema):
        workset = Workset.objects.filter(code=entry.workset_code, state=State.QUEUED).first()
        if workset is not None:
            try:
                workset.transition_to(State.BILLING_HOLD, reason="Billing hold: the monthly budget is spent.")
            except IllegalTransition:
                return
    report.held.append((schema, entry.workset_code))


def _wait(entry: QueueEntry, report: Report, reason: str) -> None:
    report.waiting[f"{entry.tenant.schema_name}/{entry.workset_code}"] = reason
    if entry.reason != reason:
        QueueEntry.objects.filter(pk=entry.pk).update(reason=reason[:500])


def _candidate(cluster: Cluster, used: int) -> placement.Candidate:
    return placement.Candidate(
        name=cluster.name,
        region=cluster.region,
        usd_per_vcpu_hour=cluster.usd_per_vcpu_hour,
        capacity=cluster.capacity,
        used=used,
        enabled=cluster.enabled,
        health=cluster.health,
        pipelines=tuple(cluster.pipelines),
    )
