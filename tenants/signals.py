from allauth.account.models import EmailAddress
from allauth.account.signals import password_changed, password_reset, password_set
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connection
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django_tenants.signals import schema_pre_migration
from django_tenants.utils import get_public_schema_name


@receiver(password_reset)
def verify_email_on_password_reset(sender, request, user, **kwargs):
    """Following the emailed reset (or invite) link proves the address: no second verification mail."""
    EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)


@receiver(post_migrate)
def grant_public_tables_to_tenants(sender, **kwargs):
    """After the public schema's migrations (every app sends this; answer once): the tenants' group's
    rights on its tables."""
    from tenants.database_roles import ensure_shared_grants

    if sender.name == "tenants" and connection.schema_name == get_public_schema_name():
        ensure_shared_grants()


@receiver(schema_pre_migration)
def hand_the_schema_to_its_role(sender, schema_name, **kwargs):
    """Before a tenant schema's migrations: its role exists and owns it all (migrations then run as it)."""
    from tenants.database_roles import ensure_tenant_role, is_tenant_schema

    if is_tenant_schema(schema_name):
        connection.set_schema_to_public()  # as the login role; the executor sets the schema next
        ensure_tenant_role(schema_name)


# --- The audit trail's account events: signing in and out, failed sign-ins, passwords and second factors ---
# They happen in Django's and allauth's views, not in a service of ours, so their signals record them.


def _audited(action: str, request, *, actor=None, target: str = "", **data) -> None:
    from tenants.access import is_public
    from tenants.services.audit import record_event

    tenant = getattr(request, "tenant", None)
    record_event(action, actor=actor, tenant=None if is_public(tenant) else tenant, target=target, **data)


@receiver(user_logged_in)
def audit_sign_in(sender, request, user, **kwargs):
    _audited("account.signed_in", request, actor=user, target=user.email)


@receiver(user_logged_out)
def audit_sign_out(sender, request, user, **kwargs):
    if user is not None:
        _audited("account.signed_out", request, actor=user, target=user.email)


@receiver(user_login_failed)
def audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Only the login typed is kept (Django has already masked the password)."""
    login = str(credentials.get("email") or credentials.get("username") or "")
    _audited("account.sign_in_failed", request, target=login[:200])


@receiver(password_changed)
def audit_password_change(sender, request, user, **kwargs):
    _audited("account.password_changed", request, actor=user, target=user.email)


@receiver(password_set)
def audit_password_set(sender, request, user, **kwargs):
    _audited("account.password_set", request, actor=user, target=user.email)


@receiver(password_reset)
def audit_password_reset(sender, request, user, **kwargs):
    _audited("account.password_reset", request, actor=user, target=user.email)


@receiver(authenticator_added)
def audit_second_factor_added(sender, request, user, authenticator, **kwargs):
    _audited("account.mfa_added", request, actor=user, target=user.email, kind=authenticator.type)


@receiver(authenticator_removed)
def audit_second_factor_removed(sender, request, user, authenticator, **kwargs):
    _audited("account.mfa_removed", request, actor=user, target=user.email, kind=authenticator.type)


@receiver(authenticator_reset)
def audit_second_factor_reset(sender, request, user, authenticator, **kwargs):
    _audited("account.mfa_reset", request, actor=user, target=user.email, kind=authenticator.type)
