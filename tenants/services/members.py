"""Memberships: invite, change role, remove. Owners and admins manage; a tenant keeps one owner."""

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Membership, Role, Tenant
from tenants.services.audit import record_event
from tenants.services.onboarding import get_or_create_user, send_password_setup_on_commit


def add_member(tenant: Tenant, email: str, role: str, *, actor) -> Membership:
    """Invite someone: create the user if new (they get an email to set a password)."""
    _check_can_grant(tenant, actor, role)
    with transaction.atomic():
        user, created = get_or_create_user(email, None)
        if Membership.objects.filter(user=user, tenant=tenant).exists():
            raise ValidationError({"email": f"{user.email} is already a member."})
        membership = Membership.objects.create(user=user, tenant=tenant, role=role)
        record_event("member.added", actor=actor, tenant=tenant, target=user.email, role=role)
    if created:
        send_password_setup_on_commit(user, tenant)
    return membership


def change_role(membership: Membership, role: str, *, actor) -> Membership:
    _check_can_grant(membership.tenant, actor, role)
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == Role.OWNER and role != Role.OWNER:
            _check_not_last_owner(locked)
            _check_can_grant(membership.tenant, actor, Role.OWNER)
        old, locked.role = locked.role, role
        locked.save(update_fields=["role"])
        record_event(
            "member.role_changed",
            actor=actor,
            tenant=locked.tenant,
            target=locked.user.email,
            old=old,
            new=role,
        )
    return locked


def remove_member(membership: Membership, *, actor) -> None:
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        _check_can_grant(
            locked.tenant, actor, locked.role, owner_message="Only an owner can remove an owner."
        )
        if locked.role == Role.OWNER:
            _check_not_last_owner(locked)
        record_event("member.removed", actor=actor, tenant=locked.tenant, target=locked.user.email)
        locked.delete()


def _check_can_grant(
    tenant: Tenant, actor, role: str, *, owner_message: str = "Only an owner can make someone an owner."
) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; use one of {', '.join(Role.values)}."})
    mine = Membership.objects.of(actor, tenant)
    if mine is None or not mine.allows(Role.ADMIN):
        raise ValidationError("Only owners and admins manage members.")
    if role == Role.OWNER and not mine.allows(Role.OWNER):
        raise ValidationError({"role": owner_message})


def _check_not_last_owner(membership: Membership) -> None:
    owners = Membership.objects.filter(tenant=membership.tenant, role=Role.OWNER).count()
    if owners <= 1:
        raise ValidationError("A tenant keeps at least one owner.")
