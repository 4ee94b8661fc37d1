"""API tokens: create (the key is shown once) and revoke."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.models import ApiToken, Membership, Tenant, User, hash_token_secret
from tenants.services.audit import record_event


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
