"""The public queue index (``catalog.QueueEntry``) and the places worksets hold (``catalog.SlotCounter``).

``Workset._move`` calls ``follow_transition`` inside the transaction of every state change, so the index
always says what the tenant's own table says: queued worksets are entries waiting in priority-then-age
order, a retry waits until its time, a dispatched or running workset holds one place on its cluster, one of
its tenant's and one of the global limit, and a dead letter stays for operators. The places are given back
in the same transaction that ends the run.
"""

from django.db import connection
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from jobs.catalog.models import QueueEntry, SlotCounter

Status = QueueEntry.Status
RANKS = {"urgent": 0, "normal": 1, "low": 2}
GLOBAL = "global"
# States in which a workset holds no place; and those in which it leaves the index altogether (a failure
# is followed, in the same transaction, by a retry wait or a dead letter, which put it back).
_LEAVES_ITS_PLACE = frozenset(
    {"queued", "failed", "retry_wait", "dead_letter", "completed", "cancelled", "archived", "billing_hold"}
)
_LEAVES_THE_QUEUE = frozenset({"failed", "completed", "cancelled", "archived", "billing_hold"})


def tenant_scope(tenant_id: int) -> str:
    return f"tenant:{tenant_id}"


def cluster_scope(cluster_id: int) -> str:
    return f"cluster:{cluster_id}"


def take_slot(scope: str, limit: int) -> bool:
    """One more place in ``scope`` if fewer than ``limit`` are used. Holds the counter's row lock until the
    transaction ends, so concurrent dispatchers wait for each other here and never overfill. The row is
    looked up (and made, the first time a scope is used) only when the update takes nothing."""
    counter = SlotCounter.objects.filter(scope=scope, used__lt=limit)
    if counter.update(used=F("used") + 1):
        return True
    SlotCounter.objects.get_or_create(scope=scope)  # full, or never used: then it starts at 0
    return bool(counter.update(used=F("used") + 1))


def give_back(entry: QueueEntry) -> None:
    """The places a placed entry held, returned (idempotent: an entry not placed holds none)."""
    if entry.status != Status.PLACED:
        return
    scopes = [tenant_scope(entry.tenant_id)]
    if entry.cluster_id:
        scopes.append(cluster_scope(entry.cluster_id))
    scopes.append(GLOBAL)
    for scope in scopes:  # one by one, in the dispatcher's order (tenant, cluster, global): no deadlock
        SlotCounter.objects.filter(scope=scope).update(used=Greatest(F("used") - 1, 0))
    entry.status, entry.cluster, entry.placed_at = Status.QUEUED, None, None


def follow_transition(workset, source: str, target: str) -> None:
    """Mirror one state change of a workset of the current tenant into the index."""
    from jobs.models import State

    tenant_id = current_tenant_id()
    entry = QueueEntry.objects.select_for_update().filter(tenant_id=tenant_id, workset_code=workset.code)
    entry = entry.first()
    if entry is not None and target in _LEAVES_ITS_PLACE:
        give_back(entry)
    if target == State.QUEUED:
        _upsert(workset, tenant_id, entry, status=Status.QUEUED, not_before=None, reason="")
    elif target == State.RETRY_WAIT:
        waiting = {"status": Status.RETRY_WAIT, "not_before": workset.retry_at, "reason": "Waiting to retry."}
        _upsert(workset, tenant_id, entry, **waiting)
    elif target == State.DEAD_LETTER:
        diagnosis, code = workset.diagnosis, workset.failure_code
        _upsert(workset, tenant_id, entry, status=Status.DEAD_LETTER, failure_code=code, diagnosis=diagnosis)
    elif target in _LEAVES_THE_QUEUE and entry is not None:
        entry.delete()


def current_tenant_id() -> int:
    from tenants.models import Tenant

    tenant = getattr(connection, "tenant", None)
    if getattr(tenant, "pk", None):
        return tenant.pk
    return Tenant.objects.only("pk").get(schema_name=connection.schema_name).pk


def _upsert(workset, tenant_id: int, entry: QueueEntry | None, **fields) -> None:
    fields |= {
        "workset_name": workset.name,
        "pipeline": workset.pipeline,
        "priority": workset.priority,
        "rank": RANKS.get(workset.priority, RANKS["normal"]),
        "preferred_cluster": workset.preferred_cluster,
        "cluster": None,
        "placed_at": None,
    }
    if entry is None:
        QueueEntry.objects.create(
            tenant_id=tenant_id, workset_code=workset.code, queued_at=timezone.now(), **fields
        )
    else:
        _update(entry, **fields)


def _update(entry: QueueEntry, **fields) -> None:
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save()


def operator_stats(now=None) -> dict:
    """Every tenant's queue, for operators: entries by status, placed ones by cluster, waiting ones by
    priority, and the age of the oldest queued entry. Grouped queries; no tenant schema is entered."""
    from django.db.models import Count, Min

    now = now or timezone.now()
    entries = QueueEntry.objects.order_by()
    by_status = dict.fromkeys(Status.values, 0)
    by_status |= dict(entries.values_list("status").annotate(n=Count("id")))
    placed = entries.filter(status=Status.PLACED).values_list("cluster__name").annotate(n=Count("id"))
    waiting = entries.filter(status__in=(Status.QUEUED, Status.RETRY_WAIT))
    oldest = entries.filter(status=Status.QUEUED).aggregate(oldest=Min("queued_at"))["oldest"]
    return {
        "by_status": by_status,
        "by_cluster": dict(sorted(placed)),
        "by_priority": dict(waiting.values_list("priority").annotate(n=Count("id"))),
        "oldest_queued_age_seconds": None if oldest is None else max(int((now - oldest).total_seconds()), 0),
        "generated_at": now,
    }


def forget_deleted(sender, instance, **kwargs) -> None:
    """A deleted workset leaves the index and gives back any place it held (connected to post_delete)."""
    entry = QueueEntry.objects.filter(tenant_id=current_tenant_id(), workset_code=instance.code).first()
    if entry is not None:
        give_back(entry)
        entry.delete()
