"""Celery tasks of the worksets app: thin, run in the schema they were sent from (``send_in_schema`` names
it explicitly when the sender is elsewhere, e.g. the dispatcher in public sending a start into a tenant)."""

import logging

from django.db import connection
from django_tenants.utils import schema_context

from jobs.backends import BackendUnavailable
from portal.celery import app

log = logging.getLogger(__name__)


def send_in_schema(schema: str, task, *args) -> None:
    task.apply_async(args=args, headers={"_schema_name": schema})


@app.task(name="jobs.release_held_worksets_task", acks_late=True, time_limit=300)
def release_held_worksets_task() -> list[str]:
    """Sent when a tenant's billing hold ends, and by beat each minute in every tenant (the first send may be
    lost): queue the worksets a hold that has ended still holds."""
    from jobs.services import release_held_worksets

    return release_held_worksets(connection.tenant)


@app.task(name="jobs.dispatch_task", acks_late=True, time_limit=120)
def dispatch_task() -> dict:
    """Public schema: place queued worksets on clusters (several may run at once; see jobs.dispatch)."""
    from jobs.dispatch import dispatch

    with schema_context("public"):
        report = dispatch()
    return {"placed": report.placed, "requeued": report.requeued, "held": report.held}


@app.task(name="jobs.start_workset_task", acks_late=True, time_limit=3600)
def start_workset_task(code: str) -> str:
    from jobs.execution import start_run
    from jobs.models import Workset

    workset = Workset.objects.filter(code=code).first()
    return start_run(workset).state if workset else "gone"


@app.task(name="jobs.poll_runs_task", acks_late=True, time_limit=300)
def poll_runs_task() -> int:
    """Public schema, every RUNYARD_POLL_SECONDS: one poll per tenant that has placed worksets, and a
    start for any dispatched workset whose start message was lost (a worker died holding it). Beat also
    sends ``poll_tenant_runs_task`` to every tenant each minute, for tenants with nothing placed whose
    cancelled run still waits to be stopped."""
    from jobs.catalog.models import QueueEntry

    schemas = QueueEntry.objects.placed().values_list("tenant__schema_name", flat=True).distinct()
    for schema in schemas:
        send_in_schema(schema, poll_tenant_runs_task)
    return len(schemas)


@app.task(name="jobs.poll_tenant_runs_task", acks_late=True, time_limit=600)
def poll_tenant_runs_task() -> dict[str, str]:
    """Follow the tenant's running worksets, and stop the runs of cancelled ones whose stop was lost."""
    from jobs.execution import poll_run, start_run, stop_cancelled_runs
    from jobs.models import State, Workset

    states = dict.fromkeys(stop_cancelled_runs(), "stopped")
    for workset in Workset.objects.filter(state__in=(State.DISPATCHED, State.RUNNING)):
        run = start_run if workset.state == State.DISPATCHED else poll_run
        try:
            states[workset.code] = run(workset).state
        except BackendUnavailable as error:  # its cluster is out of reach: the others still get polled
            log.warning("%s not polled: %s", workset.code, error)
            states[workset.code] = f"unreachable: {error}"
    return states


@app.task(name="jobs.cancel_run_task", acks_late=True, time_limit=120)
def cancel_run_task(code: str) -> bool:
    from jobs.execution import cancel_run
    from jobs.models import Workset

    workset = Workset.objects.filter(code=code).first()
    return cancel_run(workset) if workset is not None else False
