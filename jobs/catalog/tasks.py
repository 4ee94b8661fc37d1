"""Periodic work on the catalogue (public schema: clusters serve every tenant, so no fan-out)."""

from portal.celery import app


@app.task(name="jobs.check_clusters_task", acks_late=True, time_limit=120)
def check_clusters_task() -> dict[str, str]:
    """Check every enabled cluster; returns each one's health."""
    from jobs.catalog.models import Cluster
    from jobs.catalog.services import check_cluster

    return {cluster.name: check_cluster(cluster).health for cluster in Cluster.objects.enabled()}
