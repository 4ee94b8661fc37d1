"""Worksets (tenant schema): a batch of samples run through one pipeline, and the history of its states.

The schema is the tenant boundary, so nothing here carries a tenant. ``Workset.transition_to`` is the only
way a state changes: it refuses what ``TRANSITIONS`` does not allow and claims the change with a conditional
update, so two workers racing on one workset cannot both move it.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from jobs import live, queue


class State(models.TextChoices):
    DRAFT = "draft"
    VALIDATED = "validated"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRY_WAIT = "retry_wait"
    DEAD_LETTER = "dead_letter"
    CANCELLED = "cancelled"
    ARCHIVED = "archived"
    BILLING_HOLD = "billing_hold"


S = State
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.VALIDATED, S.CANCELLED, S.ARCHIVED}),
    S.VALIDATED: frozenset({S.DRAFT, S.QUEUED, S.BILLING_HOLD, S.CANCELLED, S.ARCHIVED}),
    S.BILLING_HOLD: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.DISPATCHED, S.BILLING_HOLD, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.RUNNING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.FAILED: frozenset({S.RETRY_WAIT, S.DEAD_LETTER, S.ARCHIVED}),
    S.RETRY_WAIT: frozenset({S.QUEUED, S.DEAD_LETTER, S.CANCELLED}),
    S.DEAD_LETTER: frozenset({S.QUEUED, S.ARCHIVED}),  # operators requeue, or discard (archive)
    S.COMPLETED: frozenset({S.ARCHIVED}),
    S.CANCELLED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),  # restore goes back to the state it was archived from
}
ACTIVE = frozenset({S.QUEUED, S.DISPATCHED, S.RUNNING, S.RETRY_WAIT})
CANCELLABLE = frozenset(state for state, targets in TRANSITIONS.items() if S.CANCELLED in targets)
RETRYABLE = frozenset({S.FAILED, S.DEAD_LETTER, S.CANCELLED})


class IllegalTransition(Exception):
    """The workset cannot go from its state to the one asked for (or another worker moved it first)."""

    def __init__(self, workset: "Workset", target: str, current: str | None = None):
        self.workset, self.target, self.current = workset, target, current or workset.state
        super().__init__(f"Workset {workset.code} cannot go from {self.current} to {target}.")


class WorksetQuerySet(models.QuerySet):
    def visible_to(self, membership):
        """Every member of the tenant sees its worksets; the schema already holds only this tenant's."""
        return self if membership is not None else self.none()

    def active(self):
        return self.filter(state__in=ACTIVE)

    def not_archived(self):
        return self.exclude(state=State.ARCHIVED)

    def with_details(self):
        """What a workset's page and API answer show: people, retries, steps and the history with actors."""
        history = models.Prefetch("transitions", queryset=WorksetTransition.objects.select_related("actor"))
        return self.select_related("submitted_by", "retry_of").prefetch_related("retries", "steps", history)


def new_code(name: str, *, default: str = "workset") -> str:
    """Readable and unique enough: ``<slug of the name, ≤ 30 chars>-<8 hex>`` (worksets, profiles)."""
    return f"{slugify(name)[:30].strip('-') or default}-{secrets.token_hex(4)}"


def user_link(*, optional: bool = True) -> models.ForeignKey:
    """A tenant table's link to a user. Users live in the public schema, the table in a tenant's: no
    database constraint and no cascade (deleting a user from public must not reach into tenant tables);
    a removed user reads as None."""
    nullable = {"null": True, "blank": True} if optional else {}
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        **nullable,
    )


class Workset(models.Model):
    code = models.CharField(max_length=40, unique=True, editable=False)
    name = models.CharField(max_length=64)
    spec = models.JSONField(
        help_text="The canonical spec (jobs/spec/workset.v1.schema.json), defaults filled in."
    )
    pipeline = models.CharField(max_length=40, db_index=True)
    reference_genome = models.CharField(max_length=40)
    priority = models.CharField(max_length=10, default="normal")
    max_retries = models.PositiveSmallIntegerField(default=3)
    attempt = models.PositiveSmallIntegerField(default=1, help_text="1 for the first run, +1 per retry.")
    preferred_cluster = models.CharField(max_length=100, blank=True)
    sample_count = models.PositiveIntegerField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    archived_from = models.CharField(max_length=20, choices=State.choices, blank=True)
    validation = models.JSONField(default=dict, blank=True, help_text="The last validation report.")
    estimate = models.JSONField(default=dict, blank=True, help_text="The estimate made at validation.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    measured_vcpu_hours = models.DecimalField(
        max_digits=16, decimal_places=6, null=True, blank=True, help_text="Written by the execution backend."
    )
    measured_storage_gb = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    measured_cost_usd = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="Measured vCPU-hours × rate."
    )
    # Execution: where it runs and why, how far it got, and what went wrong.
    cluster = models.CharField(max_length=100, blank=True, help_text="The cluster the dispatcher chose.")
    dispatch_reason = models.CharField(max_length=500, blank=True)
    run_handle = models.JSONField(default=dict, blank=True, help_text="The execution backend's handle.")
    run_stopped_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run of a cancelled workset was stopped on its cluster."
    )
    current_step = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the plan's steps done.")
    polled_at = models.DateTimeField(null=True, blank=True)
    auto_retries = models.PositiveSmallIntegerField(default=0, help_text="Automatic retries used so far.")
    retry_at = models.DateTimeField(null=True, blank=True)
    failed_step = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=20, blank=True)
    failure_class = models.CharField(max_length=20, blank=True)
    diagnosis = models.JSONField(default=dict, blank=True, help_text="The diagnosis of the last failure.")
    results_prefix = models.CharField(max_length=500, blank=True)
    profiles_searched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its results were searched for profiler output."
    )
    submitted_by = user_link()
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorksetQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "priority", "created_at"])]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        if not self.code:
            self.code = new_code(self.name)
        super().save(*args, **kwargs)

    def can_go_to(self, target: str) -> bool:
        return target in TRANSITIONS[self.state]

    def transition_to(self, target: str, *, actor=None, reason: str = "", **fields) -> "WorksetTransition":
        """Move to ``target`` and record it; ``fields`` are saved with the same conditional update."""
        if not self.can_go_to(target):
            raise IllegalTransition(self, target)
        return self._move(target, actor=actor, reason=reason, **fields)

    def restore(self, *, actor=None, reason: str = "Restored from the archive") -> "WorksetTransition":
        if self.state != State.ARCHIVED or not self.archived_from:
            raise IllegalTransition(self, "restored")
        return self._move(self.archived_from, actor=actor, reason=reason, archived_from="")

    def _move(self, target: str, *, actor, reason: str, **fields) -> "WorksetTransition":
        now = timezone.now()
        if target == State.ARCHIVED:
            fields["archived_from"] = self.state
        with transaction.atomic():
            claimed = Workset.objects.filter(pk=self.pk, state=self.state).update(
                state=target, state_changed_at=now, updated_at=now, **fields
            )
            if not claimed:
                current = Workset.objects.filter(pk=self.pk).values_list("state", flat=True).first()
                raise IllegalTransition(self, target, current)
            record = WorksetTransition.objects.create(
                workset=self, from_state=self.state, to_state=target, actor=actor, reason=reason, at=now
            )
            source = self.state
            self.state, self.state_changed_at, self.updated_at = target, now, now
            for name, value in fields.items():
                setattr(self, name, value)
            queue.follow_transition(self, source, target)
        live.announce(self)
        return record


class WorksetStep(models.Model):
    """One step of the workset's pipeline as the backend last reported it. A step that succeeded keeps
    its result across retries (a retry resumes from the failed step)."""

    workset = models.ForeignKey(Workset, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64)
    status = models.CharField(max_length=12, default="pending")
    exit_code = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    vcpu_hours = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, help_text="Measured by the backend."
    )
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["workset", "position"]
        constraints = [models.UniqueConstraint("workset", "name", name="one_step_row_per_name")]

    def __str__(self) -> str:
        return f"{self.workset_id}: {self.name} ({self.status})"


class WorksetTransition(models.Model):
    """One step of a workset's history: who moved it, from what, to what, when and why."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workset = models.ForeignKey(Workset, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=State.choices)
    actor = user_link()
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.workset_id}: {self.from_state or '∅'} → {self.to_state}"
