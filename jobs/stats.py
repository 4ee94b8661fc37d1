"""The tenant's queue at a glance: worksets by state, and the active ones by cluster and priority.

One grouped query whatever the number of worksets (one row per state × cluster × priority present), so the
API and the dashboard can ask on every live update. Runs in the current tenant's schema.
"""

from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone

from jobs.models import ACTIVE, State, Workset
from jobs.spec import PRIORITIES

UNASSIGNED = "unassigned"  # queued worksets have no cluster until the dispatcher picks one

# What the dashboard calls running, queued and failed; the page sums these states of ``by_state``.
DASHBOARD_COUNTS = {
    "running": (State.DISPATCHED, State.RUNNING),
    "queued": (State.QUEUED, State.RETRY_WAIT),
    "failed": (State.FAILED, State.DEAD_LETTER),
}


def queue_stats(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rows = Workset.objects.order_by().values("state", "cluster", "priority")
    rows = rows.annotate(count=Count("id"), oldest=Min("state_changed_at"))
    by_state = dict.fromkeys(State.values, 0)
    by_cluster: dict[str, int] = {}
    by_priority = dict.fromkeys(PRIORITIES, 0)
    oldest_queued = None
    for row in rows:
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["count"]
        if row["state"] not in ACTIVE:
            continue
        cluster = row["cluster"] or UNASSIGNED
        by_cluster[cluster] = by_cluster.get(cluster, 0) + row["count"]
        by_priority[row["priority"]] = by_priority.get(row["priority"], 0) + row["count"]
        if row["state"] == State.QUEUED and (oldest_queued is None or row["oldest"] < oldest_queued):
            oldest_queued = row["oldest"]
    return {
        "by_state": by_state,
        "by_cluster": dict(sorted(by_cluster.items())),
        "by_priority": by_priority,
        "oldest_queued_age_seconds": _age(oldest_queued, now),
        "generated_at": now,
    }


def dashboard_counts(by_state: dict[str, int]) -> list[dict]:
    """The dashboard's cards: name, the states it sums (the page re-sums them from the API) and the count."""
    return [
        {"name": name, "states": " ".join(states), "count": sum(by_state.get(state, 0) for state in states)}
        for name, states in DASHBOARD_COUNTS.items()
    ]


def _age(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(int((now - since).total_seconds()), 0)
