"""Notifications: a Delivery per channel and recipient, recorded in the caller's transaction, sent on commit.

``notify`` is what the execution engine (and the budget check) calls, in the tenant's schema. It never raises
into the caller for a delivery problem: sending happens later, in ``deliver_notification_task``, and a row it
could not record is logged, not raised, so a workset's state change never rolls back for a notification.
"""

import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from jobs import retries
from jobs.notifications.models import SUBSCRIBABLE, Channel, Delivery, Event, Preference
from jobs.notifications.senders import SENDERS, Outcome
from tenants.access import current_tenant
from tenants.services.audit import record_event

logger = logging.getLogger(__name__)

SUBMITTER_EMAIL_EVENTS = frozenset({Event.COMPLETED, Event.FAILED, Event.DEAD_LETTERED})
ADMIN_ROLES = frozenset({"owner", "admin"})


# --- Who gets email -------------------------------------------------------------------------------


def email_by_default(event: str, role: str) -> bool:
    """Without a Preference row: submitters hear how their worksets end, owners and admins of budgets."""
    if event == Event.BUDGET:
        return role in ADMIN_ROLES
    return event in SUBMITTER_EMAIL_EVENTS


def email_preferences(user, role: str) -> list[dict]:
    """Each event with the member's choice (their row, else the default), for the preferences page."""
    chosen = dict(Preference.objects.filter(user=user).values_list("event", "email"))
    return [
        {"event": event, "label": label, "email": chosen.get(event, email_by_default(event, role))}
        for event, label in SUBSCRIBABLE
    ]


def set_email_preferences(user, choices: dict[str, bool]) -> None:
    """Store every event's choice, so a later change of the defaults does not flip what someone chose."""
    with transaction.atomic():
        for event, _ in SUBSCRIBABLE:
            Preference.objects.update_or_create(
                user=user, event=event, defaults={"email": bool(choices.get(event))}
            )
        chosen = sorted(event for event, _ in SUBSCRIBABLE if choices.get(event))
        record_event("notification.preferences_saved", actor=user, tenant=current_tenant(), email=chosen)


def email_recipients(event: str, tenant, workset) -> list[tuple[int, str]]:
    """(user id, address) of members who want this event by email. Workset events reach only its
    submitter, and only while they are still a member; budget alerts reach any member who wants them."""
    from tenants.models import Membership

    members = Membership.objects.filter(tenant=tenant).values_list("user_id", "user__email", "role")
    if event != Event.BUDGET:
        submitter = getattr(workset, "submitted_by_id", None)
        members = members.filter(user_id=submitter) if submitter else members.none()
    members = list(members)
    chosen = dict(
        Preference.objects.filter(event=event, user_id__in=[m[0] for m in members]).values_list(
            "user_id", "email"
        )
    )
    return [
        (user_id, email)
        for user_id, email, role in members
        if chosen.get(user_id, email_by_default(event, role))
    ]


# --- Recording ------------------------------------------------------------------------------------


def tenant_url(tenant, path: str) -> str:
    """Links in messages go to the tenant's host, as in the budget and invitation emails."""
    from tenants.services import tenant_address

    return f"{'https' if settings.PRODUCTION else 'http'}://{tenant_address(tenant.slug)}{path}"


def _path(name: str, **kwargs) -> str:
    return reverse(name, kwargs=kwargs or None, urlconf=settings.ROOT_URLCONF)


def build_payload(event: str, tenant, workset=None, details: dict | None = None) -> dict:
    """What every channel is told (a webhook receives exactly this, plus the delivery's id)."""
    details = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    summary = None
    if workset is not None:
        summary = {
            "code": workset.code,
            "name": workset.name,
            "state": workset.state,
            "pipeline": workset.pipeline,
            "priority": workset.priority,
            "attempt": workset.attempt,
            "cluster": workset.cluster,
            "failed_step": workset.failed_step,
            "failure_code": workset.failure_code,
            "url": tenant_url(tenant, _path("workset", code=workset.code)),
        }
    link = {Event.BUDGET: _path("usage"), Event.TEST: _path("notifications")}.get(event, "")
    return {
        "event": event,
        "occurred_at": timezone.now().isoformat(),
        "tenant": {"slug": tenant.slug, "name": tenant.name},
        "workset": summary,
        "details": details,
        "url": summary["url"] if summary else (tenant_url(tenant, link) if link else ""),
    }


def _current_tenant():
    from tenants.models import Tenant

    if connection.schema_name == get_public_schema_name():
        raise RuntimeError("notify() runs in a tenant's schema; it was called in the public schema.")
    return Tenant.objects.get(schema_name=connection.schema_name)


def _delivery(payload: dict, event: str, *, kind: str, target: str, **fields) -> Delivery:
    code = uuid.uuid4()
    return Delivery(
        code=code,
        kind=kind,
        target=target[:200],
        event=event,
        workset_code=(payload.get("workset") or {}).get("code", ""),
        payload={"id": str(code), **payload},
        **fields,
    )


def _channel_delivery(payload: dict, event: str, channel: Channel) -> Delivery:
    target = channel.email if channel.kind == Channel.Kind.EMAIL else channel.name
    return _delivery(payload, event, kind=channel.kind, target=target, channel=channel)


def _record(event: str, workset, details: dict) -> list[Delivery]:
    tenant = _current_tenant()
    payload = build_payload(event, tenant, workset, details)
    rows = [_channel_delivery(payload, event, c) for c in Channel.objects.enabled() if c.wants(event)]
    rows += [
        _delivery(payload, event, kind=Channel.Kind.EMAIL, target=address, user_id=user_id)
        for user_id, address in email_recipients(event, tenant, workset)
    ]
    return Delivery.objects.bulk_create(rows)


def notify(event: str, *, workset=None, **details) -> list[Delivery]:
    """Record a Delivery per matching channel and email recipient; each is sent after commit.

    ``details`` are JSON-able facts shown in every message, e.g. ``step="qc"``, ``diagnosis_code=
    "WS-RES-001"``, ``reason="..."``, ``attempt=2``, ``retry_at=<iso>``, ``cost_usd="1.23"``. An unknown
    event is a programming error (ValueError); anything else that goes wrong is logged and returns [].
    """
    if event not in Event.values or event == Event.TEST:
        raise ValueError(f"Unknown notification event {event!r}; use one of {', '.join(Event.values)}.")
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
            deliveries = _record(event, workset, details)
    except Exception:
        logger.exception("notify(%r) could not record its deliveries", event)
        return []
    send_after_commit(deliveries)
    return deliveries


# --- Channels: every change is audited (the page, the API and the toggle share these) ----------------


def save_channel(editor, *, actor) -> Channel:
    """Save a channel form or serializer (new or edited) and record who did it, in one transaction."""
    new = editor.instance is None or editor.instance.pk is None
    with transaction.atomic():
        channel = editor.save()
        _channel_event("added" if new else "changed", channel, actor=actor)
    return channel


def set_channel_enabled(channel: Channel, enabled: bool, *, actor) -> Channel:
    with transaction.atomic():
        channel.enabled = enabled
        channel.save(update_fields=["enabled"])
        _channel_event("enabled" if enabled else "disabled", channel, actor=actor)
    return channel


def delete_channel(channel: Channel, *, actor) -> None:
    """Its deliveries stay in the log."""
    with transaction.atomic():
        _channel_event("deleted", channel, actor=actor)
        channel.delete()


def _channel_event(verb: str, channel: Channel, *, actor) -> None:
    record_event(
        f"notification_channel.{verb}",
        actor=actor,
        tenant=current_tenant(),
        target=channel.name,
        code=str(channel.code),
        kind=channel.kind,
    )


def send_test(channel: Channel, *, actor) -> Delivery:
    """The "Send test" button: one test event to this channel only (also while it is disabled)."""
    payload = build_payload(Event.TEST, _current_tenant(), details={"requested_by": actor.email})
    with transaction.atomic():
        delivery = _channel_delivery(payload, Event.TEST, channel)
        delivery.save()
        _channel_event("tested", channel, actor=actor)
    send_after_commit([delivery])
    return delivery


def send_after_commit(deliveries: list[Delivery]) -> None:
    """One task per delivery, in this schema, once the caller's transaction commits (never on rollback)."""
    from jobs.notifications.tasks import deliver_notification_task

    ids, schema = [d.pk for d in deliveries], connection.schema_name

    def send():
        for pk in ids:
            try:
                deliver_notification_task.apply_async(args=[pk], headers={"_schema_name": schema})
            except Exception:  # a broker outage must not surface in the engine; the row stays pending
                logger.exception("could not queue notification delivery %s", pk)

    if ids:
        transaction.on_commit(send, robust=True)


# --- Sending --------------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> int:
    """The workset retries' backoff (``jobs.retries``) with the notification settings, in whole seconds."""
    base, cap = settings.NOTIFICATIONS_RETRY_BASE_SECONDS, settings.NOTIFICATIONS_RETRY_MAX_SECONDS
    return max(1, round(retries.backoff_seconds(attempts, base=base, cap=cap)))


OVERDUE_AFTER = timedelta(minutes=5)


def resend_overdue() -> list[int]:
    """Send again the pending deliveries whose message was lost (a worker or the broker died holding it):
    never tried and older than ``OVERDUE_AFTER``, or due for a retry that long ago. Sending is idempotent,
    so a delivery whose message was merely slow is not sent twice."""
    from jobs.notifications.tasks import deliver_notification_task

    cutoff = timezone.now() - OVERDUE_AFTER
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING)
    never_tried = pending.filter(attempts=0, created_at__lt=cutoff)
    overdue = pending.filter(next_attempt_at__lt=cutoff)
    ids = sorted(set(never_tried.values_list("pk", flat=True)) | set(overdue.values_list("pk", flat=True)))
    for delivery_id in ids:
        deliver_notification_task.delay(delivery_id)
    return ids


def attempt_delivery(delivery_id: int) -> int | None:
    """Send one pending delivery once; returns the seconds until the next try, or None when done.

    The row stays locked while it is sent, so two workers holding the same task cannot both send it, and
    a delivered (or finally failed) row is never sent again.
    """
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return None
        return _log_attempt(delivery, _send(delivery))


def _send(delivery: Delivery) -> Outcome:
    channel = delivery.channel
    if delivery.user_id is None:  # a channel's delivery, not an email to a member
        if channel is None:
            return Outcome(False, error="The channel was deleted.")
        if not channel.enabled and delivery.event != Event.TEST:
            return Outcome(False, error="The channel is disabled.")
    try:
        return SENDERS[delivery.kind](delivery)
    except Exception as error:  # a sender bug must end in the log, not in a task retried forever
        logger.exception("sending delivery %s failed", delivery.pk)
        return Outcome(False, error=f"{type(error).__name__}: {error}")


def _log_attempt(delivery: Delivery, outcome: Outcome) -> int | None:
    now = timezone.now()
    delivery.attempts += 1
    retry_in = None
    if outcome.delivered:
        delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, now
        delivery.external_id, delivery.external_url = outcome.external_id, outcome.external_url
    elif outcome.retryable and delivery.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
        retry_in = backoff_seconds(delivery.attempts)
    else:
        delivery.status = Delivery.Status.FAILED
    delivery.next_attempt_at = now + timedelta(seconds=retry_in) if retry_in else None
    delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
    delivery.attempt_log.append(
        {
            "attempt": delivery.attempts,
            "at": now.isoformat(),
            "status_code": outcome.status_code,
            "error": outcome.error,
            "result": "delivered" if outcome.delivered else ("retry" if retry_in else "failed"),
        }
    )
    delivery.save()
    return retry_in
