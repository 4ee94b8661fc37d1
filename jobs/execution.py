"""Running a dispatched workset on its cluster, in the tenant's schema: start, follow, finish, fail.

- ``start_run``: dispatched → running. Inputs are staged from the tenant's bucket into the run directory and
  the plan is submitted to the cluster's backend; the backend's handle is stored on the workset. A backend
  that is unavailable puts the workset back in the queue; inputs that cannot be staged fail it (diagnosed).
- ``poll_run``: reads the backend's step statuses and writes what changed: step rows, measured vCPU-hours of
  each finished step into the usage ledger, progress, live updates and notifications. A succeeded run
  publishes its results to the bucket and completes; a failed one is diagnosed from its failed step's log.
- ``fail_run``: failed → retry_wait (transient and resource failures, until ``max_retries`` automatic
  retries are used, with ``jobs.retries`` backoff) or → dead_letter. A retry is the same workset submitted
  again: the backend skips the steps that succeeded and resumes from the failed one.
- ``cancel_run``: stops a cancelled workset's run on its cluster and records it (``run_stopped_at``, an audit
  event), once. Sent after the cancel commits; ``stop_cancelled_runs`` (every poll) stops those whose message
  was lost.

Every function is safe to run twice or concurrently: the workset row is locked (``select_for_update``) while
its changes are written, and each state change is a conditional update.
"""

from __future__ import annotations

import logging
import random
import shutil
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from jobs import live, retries
from jobs.backends import BackendUnavailable, backend_for
from jobs.backends.base import CANCELLED, FAILED, SUCCEEDED, RunStatus
from jobs.backends.staging import StagingError, make_run, publish_results, results_prefix, stage_inputs
from jobs.catalog.models import Cluster
from jobs.diagnostics import RETRYABLE_CLASSES, diagnose, render_html, render_text
from jobs.models import State, Workset, WorksetStep
from jobs.notifications.services import notify
from jobs.pipelines import UnknownPipeline
from tenants.access import current_tenant
from tenants.models import Bucket, UsageRecord
from tenants.services.audit import record_event
from tenants.services.billing import rate_card_for, unit_price
from tenants.services.usage import record_usage
from tenants.storage import ObjectNotFound, StorageError

log = logging.getLogger(__name__)
EXCERPT_BYTES = 16_384
SECONDS_PER_HOUR = Decimal(3600)
# Worksets whose run, if they have one, must be stopped: cancelled, or archived once cancelled.
CANCELLED_RUNS = Q(state=State.CANCELLED) | Q(state=State.ARCHIVED, archived_from=State.CANCELLED)


def backend_of(workset: Workset):
    cluster = Cluster.objects.get(name=workset.cluster)
    return backend_for(cluster.backend)


# --- start ---


def start_run(workset: Workset) -> Workset:
    """Stage and submit a dispatched workset; nothing happens to one in another state."""
    if workset.state != State.DISPATCHED:
        return workset
    tenant = current_tenant()
    try:
        run = make_run(connection.schema_name, workset.code, workset.spec)
        backend = backend_of(workset)
        run_dir = Path(backend.prepare(run))
        stage_inputs(Bucket.objects.get(tenant=tenant), run, run_dir / "work")
        handle = backend.submit(run)
    except BackendUnavailable as error:
        return _back_to_queue(workset, f"Cluster {workset.cluster} could not start it: {error}")
    except UnknownPipeline as error:
        return fail_run(workset, step="plan", excerpt=f"{error}: command not found on {workset.cluster}")
    except (StagingError, ObjectNotFound) as error:
        return fail_run(workset, step="stage-inputs", excerpt=f"Input file missing: {error}")
    except (StorageError, OSError) as error:  # the bucket or the run directory failed us: the text tells
        return fail_run(workset, step="stage-inputs", excerpt=f"Staging inputs failed: {error}")
    with transaction.atomic():
        workset = _locked(workset)
        if workset.state != State.DISPATCHED:
            _stop_if_cancelled(workset, handle)
            return workset
        _ensure_steps(workset, run.plan.step_names())
        workset.transition_to(
            State.RUNNING,
            reason=f"Running on {workset.cluster}",
            run_handle=handle,
            started_at=workset.started_at or timezone.now(),
            polled_at=timezone.now(),
            current_step=run.plan.step_names()[0],
        )
        notify("started", workset=workset, cluster=workset.cluster)
    return workset


def _stop_if_cancelled(workset: Workset, handle) -> None:
    """Cancelled while its inputs were staged: the run just submitted has no one to follow it. Its handle is
    kept and the run stopped after commit (or by the next poll, should that fail)."""
    if workset.run_handle or not Workset.objects.filter(CANCELLED_RUNS, pk=workset.pk).exists():
        return  # another start won the race and follows the run; or it never was a cancel
    Workset.objects.filter(pk=workset.pk).update(run_handle=handle)
    workset.run_handle = handle
    transaction.on_commit(lambda: cancel_run(workset), robust=True)


def _back_to_queue(workset: Workset, reason: str) -> Workset:
    with transaction.atomic():
        workset = _locked(workset)
        if workset.state == State.DISPATCHED:
            workset.transition_to(State.QUEUED, reason=reason[:500], cluster="")
    return workset


def _ensure_steps(workset: Workset, names: list[str]) -> None:
    existing = set(workset.steps.values_list("name", flat=True))
    WorksetStep.objects.bulk_create(
        WorksetStep(workset=workset, position=index, name=name)
        for index, name in enumerate(names)
        if name not in existing
    )


# --- follow ---


def poll_run(workset: Workset) -> Workset:
    """Bring a running workset up to date with its backend (skipped while another poller holds it)."""
    if workset.state != State.RUNNING or not workset.run_handle:
        return workset
    backend = backend_of(workset)
    status = backend.poll(workset.run_handle)
    if status.state == SUCCEEDED:
        _publish(workset)
    with transaction.atomic():
        locked = Workset.objects.select_for_update(skip_locked=True).filter(pk=workset.pk).first()
        if locked is None or locked.state != State.RUNNING:
            return locked or workset
        workset = locked
        tail = _sync_steps(workset, status, backend)
        if status.state == SUCCEEDED:
            _complete(workset)
        elif status.state in (FAILED, CANCELLED):
            step = status.current_step
            name = step.name if step else ""
            excerpt = backend.log_excerpt(workset.run_handle, name, EXCERPT_BYTES) if name else ""
            if step and step.message:
                excerpt = f"{excerpt}\n{step.message}"
            return fail_run(workset, step=name, excerpt=excerpt)
        elif tail is not None:
            live.announce(workset, log_tail=tail)
    return workset


def _sync_steps(workset: Workset, status: RunStatus, backend) -> str | None:
    """Write the steps that changed; book the measured vCPU-hours of newly finished ones. Returns the
    current step's log tail when anything changed (for the live page), else None."""
    rows = {row.name: row for row in workset.steps.all()}
    changed = False
    for reported in status.steps:
        row = rows.get(reported.name)
        if row is None or (row.status, row.exit_code) == (reported.status, reported.exit_code):
            continue
        row.status, row.exit_code = reported.status, reported.exit_code
        row.started_at, row.finished_at = _when(reported.started_at), _when(reported.finished_at)
        row.message = (reported.message or "")[:500]
        if reported.status == SUCCEEDED:
            row.vcpu_hours = _vcpu_hours(reported.vcpu_seconds)
            _book_usage(workset, row)
            notify("step_completed", workset=workset, step=row.name)
        row.save()
        changed = True
    done = sum(1 for step in status.steps if step.status == SUCCEEDED)
    current = status.current_step
    workset.progress = round(100 * done / len(status.steps)) if status.steps else 0
    workset.current_step = current.name if current else ""
    workset.polled_at = timezone.now()
    workset.measured_vcpu_hours = _measured(workset)
    workset.save(update_fields=["progress", "current_step", "polled_at", "measured_vcpu_hours", "updated_at"])
    if not changed:
        return None
    name = workset.current_step
    return backend.log_excerpt(workset.run_handle, name, live.LOG_TAIL_BYTES) if name else ""


def _book_usage(workset: Workset, step: WorksetStep) -> None:
    """The step's measured vCPU-hours, once per step and attempt (the ledger key makes a rerun harmless)."""
    if not step.vcpu_hours or not (step.started_at and step.finished_at):
        return
    end = max(step.finished_at, step.started_at + timedelta(microseconds=1))
    record_usage(
        current_tenant(),
        UsageRecord.Kind.VCPU,
        step.vcpu_hours,
        basis=UsageRecord.Basis.MEASURED,
        source="workset",
        period_start=step.started_at,
        period_end=end,
        dimension=workset.priority,
        reference=f"{workset.code}/{step.name}",
    )


def _measured(workset: Workset) -> Decimal | None:
    hours = [h for h in workset.steps.values_list("vcpu_hours", flat=True) if h is not None]
    return sum(hours, Decimal(0)) if hours else None


def _publish(workset: Workset) -> None:
    """Upload the results before completing (idempotent: the same keys are written again)."""
    run = make_run(connection.schema_name, workset.code, workset.spec)
    work_dir = Path(workset.run_handle["run_dir"]) / "work"
    publish_results(Bucket.objects.get(tenant=current_tenant()), run, work_dir)


def _complete(workset: Workset) -> None:
    run = make_run(connection.schema_name, workset.code, workset.spec)
    cost = measured_cost(workset)
    workset.transition_to(
        State.COMPLETED,
        reason="All steps succeeded; results are in the bucket.",
        finished_at=timezone.now(),
        progress=100,
        current_step="",
        measured_cost_usd=cost,
        results_prefix=results_prefix(run),
    )
    notify("completed", workset=workset, cost_usd=str(cost) if cost is not None else "")
    _dispatch_after_commit()
    _find_profiles_after_commit(workset.code)
    staged = Path(workset.run_handle["run_dir"]) / "work" / "inputs"
    transaction.on_commit(lambda: shutil.rmtree(staged, ignore_errors=True))  # the bucket keeps the originals


def _find_profiles_after_commit(code: str) -> None:
    """Profiler output among the results (callgrind, gprof, perf …) becomes profiles to analyse."""
    from analysis.tasks import find_result_profiles_task
    from jobs.tasks import send_in_schema

    schema = connection.schema_name
    transaction.on_commit(lambda: send_in_schema(schema, find_result_profiles_task, code), robust=True)


def measured_cost(workset: Workset) -> Decimal | None:
    """Measured vCPU-hours × this month's rate for the workset's priority (compute only)."""
    if workset.measured_vcpu_hours is None:
        return None
    card = rate_card_for(timezone.now().date())
    price = unit_price(card, UsageRecord.Kind.VCPU, workset.priority)
    return (workset.measured_vcpu_hours * price).quantize(Decimal("0.0001"))


# --- fail ---


def failure_fields(step: str, excerpt: str):
    """The diagnosis of a failed step's log excerpt, and what the move to failed writes on its workset
    (the reason, the step, the code and class, the stored excerpt the report is computed from)."""
    diagnosis = diagnose(excerpt)
    return diagnosis, {
        "reason": f"Step {step or '?'} failed: {diagnosis.code} {diagnosis.entry.name}",
        "failed_step": step,
        "failure_code": diagnosis.code,
        "failure_class": diagnosis.failure_class,
        "diagnosis": {"step": step, "excerpt": excerpt[-EXCERPT_BYTES:], **diagnosis.as_dict()},
    }


def fail_run(workset: Workset, *, step: str, excerpt: str) -> Workset:
    """Diagnose the failure and retry after a backoff, or dead-letter it."""
    diagnosis, failed = failure_fields(step, excerpt)
    with transaction.atomic():
        workset = _locked(workset)
        if not workset.can_go_to(State.FAILED):
            return workset
        workset.transition_to(
            State.FAILED, finished_at=timezone.now(), measured_cost_usd=measured_cost(workset), **failed
        )
        notify("failed", workset=workset, step=step, diagnosis_code=diagnosis.code)
        if diagnosis.failure_class in RETRYABLE_CLASSES and workset.auto_retries < workset.max_retries:
            _retry_later(workset, diagnosis)
        else:
            _dead_letter(workset, diagnosis)
        _dispatch_after_commit()
    return workset


def _retry_later(workset: Workset, diagnosis) -> None:
    attempt = workset.auto_retries + 1
    delay = retries.backoff_seconds(
        attempt, base=settings.RUNYARD_RETRY_BASE_SECONDS, cap=settings.RUNYARD_RETRY_CAP_SECONDS, rng=_rng
    )
    retry_at = timezone.now() + timedelta(seconds=delay)
    workset.transition_to(
        State.RETRY_WAIT,
        reason=f"Retry {attempt} of {workset.max_retries} in {delay:.0f} s after a "
        f"{diagnosis.failure_class} failure ({diagnosis.code}), resuming from step {workset.failed_step}",
        auto_retries=attempt,
        retry_at=retry_at,
    )
    notify("retrying", workset=workset, attempt=attempt, retry_at=retry_at.isoformat())


def _dead_letter(workset: Workset, diagnosis) -> None:
    if diagnosis.failure_class in RETRYABLE_CLASSES:
        why = f"{workset.max_retries} automatic retries used"
    else:
        why = f"a {diagnosis.failure_class} failure is not retried"
    workset.transition_to(State.DEAD_LETTER, reason=f"Dead letter ({diagnosis.code}): {why}")
    notify("dead_lettered", workset=workset, diagnosis_code=diagnosis.code)


_rng = random.SystemRandom()


def diagnosis_report(workset: Workset) -> dict | None:
    """The diagnosis of the last failure, computed again from the stored log excerpt (so it is
    reproducible and follows the catalogue as it is now), with the report as text and HTML."""
    stored = workset.diagnosis
    if not stored:
        return None
    found = diagnose(stored.get("excerpt", ""))
    return {
        "step": stored.get("step", ""),
        **found.as_dict(),
        "excerpt": stored.get("excerpt", ""),
        "text": render_text(found),
        "html": render_html(found),
    }


# --- cancel ---


def cancel_run(workset: Workset) -> bool:
    """Stop the backend's run of a cancelled workset and record it, once. True when this call recorded the
    stop; safe to repeat (a run already stopped is not asked again, one already gone is fine)."""
    if workset.run_stopped_at or not workset.run_handle:
        return False
    if not Workset.objects.filter(CANCELLED_RUNS, pk=workset.pk).exists():
        return False
    backend_of(workset).cancel(workset.run_handle)
    with transaction.atomic():
        unstopped = Workset.objects.filter(pk=workset.pk, run_stopped_at__isnull=True)
        if not unstopped.update(run_stopped_at=timezone.now()):
            return False
        record_event(
            "workset.run_stopped", tenant=current_tenant(), target=workset.code, cluster=workset.cluster
        )
    return True


def stop_cancelled_runs() -> list[str]:
    """The catch-up of ``cancel_run_task``: cancelled worksets whose run was never stopped on its cluster
    (the cancel's message was lost while the broker was down) are stopped now. Returns their codes."""
    stopped = []
    pending = Workset.objects.filter(CANCELLED_RUNS, run_stopped_at__isnull=True).exclude(run_handle={})
    for workset in pending:
        try:
            if cancel_run(workset):
                stopped.append(workset.code)
        except (BackendUnavailable, Cluster.DoesNotExist) as error:  # tried again at the next poll
            log.warning("The run of cancelled %s not stopped: %s", workset.code, error)
    return stopped


# --- parts ---


def _locked(workset: Workset) -> Workset:
    return Workset.objects.select_for_update().get(pk=workset.pk)


def _dispatch_after_commit() -> None:
    """A place was freed: let the dispatcher fill it now rather than at its next tick."""
    from jobs.tasks import dispatch_task, send_in_schema

    transaction.on_commit(lambda: send_in_schema("public", dispatch_task), robust=True)


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _vcpu_hours(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / SECONDS_PER_HOUR).quantize(Decimal("0.000001"))
