"""Worksets' use cases: submit, cancel, retry, archive, restore, approve. One function each.

Every function runs in one transaction, moves the workset only through ``Workset.transition_to`` (which
refuses an illegal move and claims it with a conditional update, so of two racing requests one wins and
the other gets ``IllegalTransition``), and writes an audit event. Submission ends at ``queued`` and wakes
the dispatcher (``jobs.dispatch``) after commit; running worksets are followed by ``jobs.execution``.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from jobs.catalog.models import Cluster
from jobs.models import RETRYABLE, IllegalTransition, State, Workset, WorksetTransition
from jobs.tasks import cancel_run_task, dispatch_task, send_in_schema
from jobs.validation import validate_workset
from tenants.models import Membership, Role, Tenant
from tenants.services.audit import record_event
from tenants.services.quotas import QuotaExceeded, check_quota, quota_of


class WorksetInvalid(ValidationError):
    """The spec did not validate. ``report`` is the full report; the message dict names each field."""

    def __init__(self, report):
        self.report = report
        fields: dict[str, list[str]] = {}
        for problem in report.errors:
            fields.setdefault(problem.field or "spec", []).append(line(problem.as_dict()))
        super().__init__(fields or {"spec": ["The workset spec is not valid."]})


def create_workset(
    tenant: Tenant, document, *, actor, submit: bool = True, dry_run: bool = False, strict: bool = False
) -> Workset:
    """Validate ``document`` and store the workset: draft → validated, and → queued when ``submit``
    (→ billing_hold instead while the tenant's budget holds new work). Nothing is saved when invalid."""
    _require_role(tenant, actor, Role.MEMBER)
    report = validate_workset(tenant, document, dry_run=dry_run, strict=strict)
    if not report.valid:
        raise WorksetInvalid(report)
    with transaction.atomic():
        workset = _store(report, actor=actor, reason="Created")
        record_event("workset.created", actor=actor, tenant=tenant, target=workset.code)
        if submit:
            _submit(tenant, workset, actor=actor)
    return workset


def submit_workset(tenant: Tenant, workset: Workset, *, actor) -> Workset:
    """Queue a validated workset (one created with ``submit=False``)."""
    _require_role(tenant, actor, Role.MEMBER)
    with transaction.atomic():
        _submit(tenant, workset, actor=actor)
    return workset


def cancel_workset(tenant: Tenant, workset: Workset, *, actor, reason: str = "") -> Workset:
    """Cancel; a run already on a cluster is stopped there after commit (its whole process tree)."""
    _require_role(tenant, actor, Role.MEMBER)
    with transaction.atomic():
        workset.transition_to(State.CANCELLED, actor=_user(actor), reason=reason or "Cancelled")
        record_event("workset.cancelled", actor=actor, tenant=tenant, target=workset.code)
        if workset.run_handle:
            _after_commit(tenant.schema_name, cancel_run_task, workset.code)
            _after_commit("public", dispatch_task)
    return workset


def requeue_dead_letter(tenant: Tenant, workset: Workset, *, actor, cluster: str = "") -> Workset:
    """An operator sends a dead letter back to the queue with its automatic retries renewed, optionally
    pinned to another cluster (it becomes the preferred one). It resumes from the failed step."""
    _require_operator(actor)
    if cluster and not Cluster.objects.filter(name=cluster).exists():
        raise ValidationError({"cluster": [f"There is no cluster {cluster!r}."]})
    with transaction.atomic():
        where = f" on {cluster}" if cluster else ""
        fields = {"auto_retries": 0, "retry_at": None, **({"preferred_cluster": cluster} if cluster else {})}
        workset.transition_to(State.QUEUED, actor=actor, reason=f"Requeued by an operator{where}", **fields)
        record_event("workset.requeued", actor=actor, tenant=tenant, target=workset.code, cluster=cluster)
        _after_commit("public", dispatch_task)
    return workset


def discard_dead_letter(tenant: Tenant, workset: Workset, *, actor) -> Workset:
    """An operator takes a dead letter off the queue for good (it is archived; the tenant still sees it)."""
    _require_operator(actor)
    if workset.state != State.DEAD_LETTER:
        raise IllegalTransition(workset, State.ARCHIVED)
    with transaction.atomic():
        workset.transition_to(State.ARCHIVED, actor=actor, reason="Discarded from the dead-letter queue")
        record_event("workset.discarded", actor=actor, tenant=tenant, target=workset.code)
    return workset


def retry_workset(tenant: Tenant, workset: Workset, *, actor, dry_run: bool = False) -> Workset:
    """A NEW workset cloned from a failed, dead-lettered or cancelled one (attempt + 1, ``retry_of`` set),
    validated again (its inputs may have moved since) and submitted. The original keeps its state."""
    _require_role(tenant, actor, Role.MEMBER)
    if workset.state not in RETRYABLE:
        raise IllegalTransition(workset, "retried")
    report = validate_workset(tenant, workset.spec, dry_run=dry_run, strict=False)
    if not report.valid:
        raise WorksetInvalid(report)
    reason = f"Retry of {workset.code} (attempt {workset.attempt + 1})"
    with transaction.atomic():
        retry = _store(report, actor=actor, reason=reason, attempt=workset.attempt + 1, retry_of=workset)
        record_event("workset.retried", actor=actor, tenant=tenant, target=retry.code, retry_of=workset.code)
        _submit(tenant, retry, actor=actor)
    return retry


def archive_workset(tenant: Tenant, workset: Workset, *, actor) -> Workset:
    _require_role(tenant, actor, Role.MEMBER)
    with transaction.atomic():
        workset.transition_to(State.ARCHIVED, actor=_user(actor), reason="Archived")
        record_event("workset.archived", actor=actor, tenant=tenant, target=workset.code)
    return workset


def restore_workset(tenant: Tenant, workset: Workset, *, actor) -> Workset:
    """Back to the state it was archived from."""
    _require_role(tenant, actor, Role.MEMBER)
    with transaction.atomic():
        workset.restore(actor=_user(actor))
        record_event("workset.restored", actor=actor, tenant=tenant, target=workset.code, state=workset.state)
    return workset


def approve_workset(tenant: Tenant, workset: Workset, *, actor) -> Workset:
    """An owner lets a workset held for approval go to the queue. A billing hold is the operator's to
    release: while it lasts, approval is refused."""
    _require_role(tenant, actor, Role.OWNER, message="Only an owner can approve a held workset.")
    if workset.state != State.BILLING_HOLD:
        raise IllegalTransition(workset, State.QUEUED)
    if quota_of(tenant).billing_hold:
        raise ValidationError(
            "New work is on billing hold until an operator releases it or the month ends; "
            "approval cannot lift it.",
            code="billing_hold",
        )
    with transaction.atomic():
        workset.transition_to(State.QUEUED, actor=_user(actor), reason="Approved by an owner")
        record_event("workset.approved", actor=actor, tenant=tenant, target=workset.code)
    return workset


def release_held_worksets(tenant: Tenant, *, actor=None) -> list[str]:
    """After a billing hold ends, queue what it held; worksets that still need an owner's approval wait.

    Runs in the tenant's schema (``jobs.release_held_worksets_task``): sent when the hold ends, and by beat
    every minute in every tenant, in case that send was lost; a second run finds nothing to move."""
    if not Workset.objects.filter(state=State.BILLING_HOLD).exists():
        return []
    try:
        check_quota(tenant, "submission")
    except QuotaExceeded:  # still on hold, or approval required: nothing moves by itself
        return []
    released = []
    for workset in Workset.objects.filter(state=State.BILLING_HOLD).order_by("created_at"):
        with transaction.atomic():
            try:
                workset.transition_to(State.QUEUED, actor=_user(actor), reason="Billing hold released")
            except IllegalTransition:  # another worker moved it first
                continue
            record_event("workset.released", actor=actor, tenant=tenant, target=workset.code)
        released.append(workset.code)
    return released


# --- parts ---


def _store(report, *, actor, reason: str, **fields) -> Workset:
    """Create the workset in draft, then validated, with both steps in its history."""
    spec = report.spec
    workset = Workset.objects.create(
        name=spec["name"],
        spec=spec,
        pipeline=spec["pipeline"],
        reference_genome=spec["reference_genome"],
        priority=spec.get("priority") or "normal",
        max_retries=spec.get("max_retries", 3),
        preferred_cluster=spec.get("preferred_cluster") or "",
        sample_count=len(spec["samples"]),
        validation={k: v for k, v in report.as_dict().items() if k not in ("spec", "estimate")},
        estimate=report.estimate or {},
        submitted_by=_user(actor),
        **fields,
    )
    WorksetTransition.objects.create(
        workset=workset, from_state="", to_state=State.DRAFT, actor=_user(actor), reason=reason
    )
    warnings = len(report.warnings)
    passed = "Validation passed" + (f" with {warnings} warning(s)" if warnings else "")
    workset.transition_to(State.VALIDATED, actor=_user(actor), reason=passed)
    return workset


def _submit(tenant: Tenant, workset: Workset, *, actor) -> None:
    try:
        check_quota(tenant, "submission")
    except QuotaExceeded as held:  # a billing hold, or ApprovalRequired (a subclass)
        workset.transition_to(State.BILLING_HOLD, actor=_user(actor), reason=_text(held))
    else:
        workset.transition_to(State.QUEUED, actor=_user(actor), reason="Submitted")
        _after_commit("public", dispatch_task)
    record_event("workset.submitted", actor=actor, tenant=tenant, target=workset.code, state=workset.state)


def _after_commit(schema: str, task, *args) -> None:
    """Send ``task`` once committed. A broker that is down (Redis restarting) must not turn a stored change
    into an error: the failure is logged and the periodic tasks catch up (``dispatch_task`` places every
    queued workset; beat's polls start a dispatched one whose start was lost and stop the run of a cancelled
    one whose ``cancel_run_task`` was lost, ``jobs.execution.stop_cancelled_runs``)."""
    transaction.on_commit(lambda: send_in_schema(schema, task, *args), robust=True)


def _require_operator(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise PermissionDenied("Only operators manage the dead-letter queue.")


def _require_role(tenant: Tenant, actor, role: str, *, message: str = "") -> None:
    """Services check the role themselves, so the CLI and the demo cannot bypass what pages enforce.
    ``actor=None`` is the system (demo seeding, the execution backend)."""
    if actor is None:
        return
    membership = Membership.objects.of(actor, tenant)
    if membership is None or not membership.allows(role):
        raise PermissionDenied(message or f"This needs the {role} role.")


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _text(error: ValidationError) -> str:
    return " ".join(error.messages)[:500]


def line(problem: dict) -> str:
    """``WS-CFG-004: not found in bucket (fix: upload it or correct the path)`` (the field is the key)."""
    code = problem.get("code")
    text = f"{code}: {problem.get('message', '')}" if code else problem.get("message", "")
    return f"{text} (fix: {problem['fix']})" if problem.get("fix") else text
