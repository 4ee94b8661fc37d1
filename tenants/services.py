"""Use cases that change tenants, memberships and tokens. One function per mutation, each atomic."""

import re
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants.models import (
    ApiToken,
    AuditEvent,
    Domain,
    Membership,
    Role,
    Tenant,
    User,
    hash_token_secret,
)

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = {"www", "admin", "api", "static", "public", "app", "mail", "status", "tenant-template"}


def record_event(action: str, *, actor=None, tenant=None, target: str = "", **data) -> AuditEvent:
    """Append to the audit trail. Called inside the mutation's transaction, so it commits with it."""
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(actor=actor, tenant=tenant, action=action, target=target, data=data)


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.RUNYARD_BASE_DOMAIN}"


def tenant_address(slug: str) -> str:
    """Host and port where people reach the tenant, from RUNYARD_PUBLIC_URL's port."""
    port = urlsplit(settings.RUNYARD_PUBLIC_URL).port
    return f"{tenant_host(slug)}:{port}" if port else tenant_host(slug)


def ensure_public_tenant() -> Tenant:
    """The public schema's own row, which serves the base domain (landing page, admin)."""
    public = get_public_schema_name()
    with transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(
            schema_name=public, defaults={"slug": public, "name": "Runyard"}
        )
        Domain.objects.get_or_create(
            domain=settings.RUNYARD_BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
        )
    return tenant


def validate_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError(
            {"slug": "Use 3–40 lowercase letters, digits and hyphens, starting with a letter."}
        )
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"“{slug}” is reserved."})
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A tenant “{slug}” already exists."})
    return slug


def onboard_tenant(
    name: str, *, slug: str, owner_email: str, actor=None, owner_password: str | None = None
) -> Tenant:
    """Create a tenant: its schema (cloned from the template), its domain and its owner."""
    slug = validate_slug(slug)
    if not (name or "").strip():
        raise ValidationError({"name": "A tenant needs a name."})
    with transaction.atomic():
        tenant = Tenant(slug=slug, name=name.strip(), schema_name=slug.replace("-", "_"))
        tenant.save(verbosity=0)  # creates the schema (clone of the template, or migrations if it is stale)
        Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
        owner, created = _get_or_create_user(owner_email, owner_password)
        Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
        record_event("tenant.onboarded", actor=actor, tenant=tenant, target=slug, owner=owner.email)
    if created and owner_password is None:
        _send_password_setup_on_commit(owner, tenant)
    return tenant


def set_tenant_status(tenant: Tenant, status: str, *, actor) -> Tenant:
    if status not in Tenant.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(status=status)
        tenant.status = status
        record_event(f"tenant.{status}", actor=actor, tenant=tenant, target=tenant.slug)
    return tenant


def _get_or_create_user(email: str, password: str | None) -> tuple[User, bool]:
    from allauth.account.models import EmailAddress

    email = User.objects.normalize_email((email or "").strip()).lower()
    if not email or "@" not in email:
        raise ValidationError({"email": "Enter a valid email address."})
    user = User.objects.filter(email=email).first()
    if user:
        return user, False
    user = User.objects.create_user(email, password)
    # Operators and owners vouch for the address they enter; sign-in still proves it.
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=password is not None)
    return user, True


def _send_password_setup_on_commit(user: User, tenant: Tenant) -> None:
    """New users get allauth's password-reset link on their tenant's host to choose a password."""
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    def send():
        path = reverse(
            "account_reset_password_from_key",
            urlconf=settings.ROOT_URLCONF,
            kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
        )
        scheme = "https" if settings.PRODUCTION else "http"
        context = {
            "tenant": tenant,
            "email": user.email,
            "url": f"{scheme}://{tenant_address(tenant.slug)}{path}",
        }
        send_mail(
            render_to_string("tenants/email/invite_subject.txt", context).strip(),
            render_to_string("tenants/email/invite_body.txt", context),
            None,
            [user.email],
        )

    transaction.on_commit(send)


def add_member(tenant: Tenant, email: str, role: str, *, actor) -> Membership:
    """Invite someone: create the user if new (they get an email to set a password)."""
    _check_can_grant(tenant, actor, role)
    with transaction.atomic():
        user, created = _get_or_create_user(email, None)
        if Membership.objects.filter(user=user, tenant=tenant).exists():
            raise ValidationError({"email": f"{user.email} is already a member."})
        membership = Membership.objects.create(user=user, tenant=tenant, role=role)
        record_event("member.added", actor=actor, tenant=tenant, target=user.email, role=role)
    if created:
        _send_password_setup_on_commit(user, tenant)
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


def create_api_token(
    *, user: User, tenant: Tenant | None, name: str, expires_at: datetime | None = None, actor=None
) -> tuple[ApiToken, str]:
    """Return the token and its key. The key is never stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if tenant is None and not user.is_staff:
        raise ValidationError("Only operators hold tokens for the public host.")
    if tenant is not None and Membership.objects.of(user, tenant) is None:
        raise ValidationError(f"{user.email} is not a member of {tenant.slug}.")
    key, key_id, secret = ApiToken.new_key()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            tenant=tenant,
            name=name,
            key_id=key_id,
            secret_hash=hash_token_secret(secret),
            expires_at=expires_at,
        )
        record_event("token.created", actor=actor or user, tenant=tenant, target=name)
    return token, key


def revoke_api_token(token: ApiToken, *, actor) -> ApiToken:
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        record_event("token.revoked", actor=actor, tenant=token.tenant, target=token.name)
    return token


def setup_database(verbosity: int = 1) -> None:
    """Migrate every schema, make sure the public host exists, and keep the clone template current."""
    from django.core.management import call_command

    from tenants.schema_template import refresh_template, template_is_current

    call_command("migrate_schemas", interactive=False, verbosity=verbosity)
    ensure_public_tenant()
    if not template_is_current():
        refresh_template(verbosity=max(verbosity - 1, 0))
