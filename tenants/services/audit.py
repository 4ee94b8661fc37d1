"""The audit trail's one writer."""

from tenants.models import AuditEvent


def record_event(action: str, *, actor=None, tenant=None, target: str = "", **data) -> AuditEvent:
    """Append to the audit trail. Called inside the mutation's transaction, so it commits with it."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(actor=actor, tenant=tenant, action=action, target=target, data=data)
