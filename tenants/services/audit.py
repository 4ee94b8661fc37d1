"""The audit trail's one writer."""

from portal.lib.origin import current_origin
from tenants.models import AuditEvent


def record_event(action: str, *, actor=None, tenant=None, target: str = "", **data) -> AuditEvent:
    """Append to the audit trail. Called inside the mutation's transaction, so it commits with it.

    Where it came from (IP, user agent, web/api/websocket/task/command) is read from the current request or
    socket (``portal.lib.origin``), so services need not pass it along."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    origin = current_origin()
    return AuditEvent.objects.create(
        actor=actor,
        tenant=tenant,
        action=action,
        target=str(target)[:200],
        data=data,
        source=origin.source,
        ip=origin.ip,
        user_agent=origin.user_agent,
    )
