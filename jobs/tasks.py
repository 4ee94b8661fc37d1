"""Celery tasks of the worksets app: thin, run in the schema they were sent from."""

from django.db import connection

from portal.celery import app


@app.task(name="jobs.release_held_worksets_task", acks_late=True, time_limit=300)
def release_held_worksets_task() -> list[str]:
    """Sent when a tenant's billing hold ends: queue the worksets it held."""
    from jobs.services import release_held_worksets

    return release_held_worksets(connection.tenant)
