"""Use cases of the catalogue: the cluster health check (operators edit the rows themselves in the admin)."""

import time

from django.db import transaction
from django.utils import timezone

from jobs.backends import BackendUnavailable, backend_for
from jobs.catalog.models import Cluster

DEGRADED_AFTER_MS = 500  # a check slower than this marks the cluster degraded
UNHEALTHY_AFTER_FAILURES = 3  # this many failed checks in a row mark it unhealthy


def check_cluster(cluster: Cluster, *, backend=None) -> Cluster:
    """Time the backend's ``check()`` and record the cluster's health.

    Healthy: the check passed within ``DEGRADED_AFTER_MS``; degraded: it passed slower, or it failed fewer
    than ``UNHEALTHY_AFTER_FAILURES`` times in a row; unhealthy: it failed that many times in a row."""
    started = time.monotonic()
    try:
        (backend or backend_for(cluster.backend)).check()
    except BackendUnavailable as error:
        latency, failed, message = None, cluster.failed_checks + 1, str(error)
    else:
        latency, failed, message = round((time.monotonic() - started) * 1000), 0, ""
    if failed >= UNHEALTHY_AFTER_FAILURES:
        health = Cluster.Health.UNHEALTHY
    elif failed or latency > DEGRADED_AFTER_MS:
        health = Cluster.Health.DEGRADED
    else:
        health = Cluster.Health.HEALTHY
    with transaction.atomic():
        Cluster.objects.filter(pk=cluster.pk).update(
            health=health,
            health_checked_at=timezone.now(),
            health_latency_ms=latency,
            failed_checks=failed,
            health_message=message[:500],
        )
    cluster.refresh_from_db()
    return cluster
