"""Tenants: onboarding (schema, domain, owner, quota, bucket), status, and the database setup."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django_tenants.utils import get_public_schema_name

from tenants.models import Domain, Membership, Quota, Role, Tenant, User
from tenants.services.audit import record_event
from tenants.services.buckets import provision_bucket

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = {"www", "admin", "api", "static", "public", "app", "mail", "status", "tenant-template"}


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
    name: str,
    *,
    slug: str,
    owner_email: str,
    actor=None,
    owner_password: str | None = None,
    bucket: str | None = None,
    cost_center: str = "",
) -> Tenant:
    """Create a tenant: its schema (cloned from the template), its domain, its owner and its bucket
    (a new managed one, or the customer's own ``bucket`` once access is verified).

    The bucket comes last inside the transaction, so a bucket that cannot be made or reached rolls the
    whole tenant back (a ValidationError on ``bucket``).
    """
    slug = validate_slug(slug)
    if not (name or "").strip():
        raise ValidationError({"name": "A tenant needs a name."})
    with transaction.atomic():
        tenant = Tenant(slug=slug, name=name.strip(), schema_name=slug.replace("-", "_"))
        tenant.save(verbosity=0)  # creates the schema (clone of the template, or migrations if it is stale)
        Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
        owner, created = get_or_create_user(owner_email, owner_password)
        Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
        Quota.objects.create(tenant=tenant)
        record_event("tenant.onboarded", actor=actor, tenant=tenant, target=slug, owner=owner.email)
        provision_bucket(tenant, actor=actor, existing=bucket or None, cost_center=cost_center)
    if created and owner_password is None:
        send_password_setup_on_commit(owner, tenant)
    return tenant


def set_tenant_status(tenant: Tenant, status: str, *, actor) -> Tenant:
    if status not in Tenant.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(status=status)
        tenant.status = status
        record_event(f"tenant.{status}", actor=actor, tenant=tenant, target=tenant.slug)
    return tenant


def get_or_create_user(email: str, password: str | None) -> tuple[User, bool]:
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


def send_password_setup_on_commit(user: User, tenant: Tenant) -> None:
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


def setup_database(verbosity: int = 1) -> None:
    """Migrate every schema, make sure the public host exists, and keep the clone template current."""
    from django.core.management import call_command

    from tenants.schema_template import refresh_template, template_is_current
    from tenants.services.billing import ensure_default_rate_card

    call_command("migrate_schemas", interactive=False, verbosity=verbosity)
    ensure_public_tenant()
    ensure_default_rate_card()
    if not template_is_current():
        refresh_template(verbosity=max(verbosity - 1, 0))
