"""Channels, the delivery log and each member's email preferences (tenant schema).

Users live in the public schema, so ``Preference.user`` and ``Delivery.user`` carry no database constraint
(see ``Workset.submitted_by``). A delivery outlives its channel: deleting a channel keeps its log rows.
"""

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from jobs.models import user_link

LINEAR_GRAPHQL_URL = "https://api.linear.app/graphql"


class Event(models.TextChoices):
    STARTED = "started", "Started"
    STEP_COMPLETED = "step_completed", "Step completed"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    RETRYING = "retrying", "Retrying"
    DEAD_LETTERED = "dead_lettered", "Dead-lettered"
    BUDGET = "budget", "Budget alert"
    TEST = "test", "Test"


# What a channel may subscribe to; "test" reaches every channel, whatever it subscribed to.
SUBSCRIBABLE = [(value, label) for value, label in Event.choices if value != Event.TEST]
# Linear opens an issue: only for what someone has to act on.
LINEAR_EVENTS = frozenset({Event.FAILED, Event.DEAD_LETTERED})


def new_secret() -> str:
    return f"whsec_{secrets.token_hex(24)}"


def manages_notifications(membership) -> bool:
    """Channels hold secrets and the log shows their payloads: owners and admins only."""
    from tenants.models import Role

    return membership is not None and membership.allows(Role.ADMIN)


class ChannelQuerySet(models.QuerySet):
    def visible_to(self, membership):
        return self if manages_notifications(membership) else self.none()

    def enabled(self):
        return self.filter(enabled=True)


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"
        SLACK = "slack", "Slack"
        LINEAR = "linear", "Linear"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    url = models.URLField(
        max_length=500, blank=True, help_text="Webhook URL, Slack incoming-webhook URL or Linear GraphQL URL."
    )
    email = models.EmailField(blank=True, help_text="For an email channel: the address (e.g. a team list).")
    secret = models.CharField(max_length=80, blank=True, help_text="Webhooks: the HMAC-SHA256 signing key.")
    linear_api_key = models.CharField(max_length=200, blank=True)
    linear_team_id = models.CharField(max_length=100, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Events it wants; empty means all.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def save(self, *args, **kwargs):
        if self.kind == self.Kind.WEBHOOK and not self.secret:
            self.secret = new_secret()
        if self.kind == self.Kind.LINEAR and not self.url:
            self.url = LINEAR_GRAPHQL_URL
        super().save(*args, **kwargs)

    def clean(self):
        """What each kind needs to be sendable; the form and the API both show these next to the field."""
        problems = {}
        needs = {
            self.Kind.EMAIL: {"email": "An email channel needs an address."},
            self.Kind.WEBHOOK: {"url": "A webhook needs the URL to post to."},
            self.Kind.SLACK: {"url": "Paste the Slack incoming-webhook URL."},
            self.Kind.LINEAR: {
                "linear_api_key": "A Linear channel needs an API key (Linear → Settings → API).",
                "linear_team_id": "A Linear channel needs the id of the team its issues go to.",
            },
        }
        for field, message in needs.get(self.kind, {}).items():
            if not getattr(self, field):
                problems[field] = message
        unknown = sorted(set(self.events or []) - {value for value, _ in SUBSCRIBABLE})
        if not isinstance(self.events, list) or unknown:
            problems["events"] = f"Unknown events: {', '.join(map(str, unknown))}."
        if problems:
            raise ValidationError(problems)

    def wants(self, event: str) -> bool:
        if event == Event.TEST:
            return True
        if self.kind == self.Kind.LINEAR and event not in LINEAR_EVENTS:
            return False
        return not self.events or event in self.events


class DeliveryQuerySet(models.QuerySet):
    def visible_to(self, membership):
        return self if manages_notifications(membership) else self.none()


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    kind = models.CharField(max_length=10, choices=Channel.Kind.choices)
    target = models.CharField(max_length=200, help_text="The channel's name, or the email recipient.")
    user = user_link()  # an email to a member
    event = models.CharField(max_length=20, choices=Event.choices, db_index=True)
    workset_code = models.CharField(max_length=40, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    attempt_log = models.JSONField(default=list, blank=True, help_text="One entry per attempt.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="E.g. the Linear issue (ENG-123).")
    external_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.target} ({self.status})"


class Preference(models.Model):
    """A member's choice for one event; without a row, ``defaults.wants_email`` decides."""

    user = user_link(optional=False)
    event = models.CharField(max_length=20, choices=SUBSCRIBABLE)
    email = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint("user", "event", name="one_preference_per_user_and_event")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.event} email {'on' if self.email else 'off'}"
