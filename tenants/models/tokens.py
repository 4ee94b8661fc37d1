"""API tokens: bearer keys bound to one user and one tenant; only their hash is stored."""

import hashlib
import secrets
import uuid

from django.db import models
from django.utils import timezone

from tenants.models.accounts import Tenant, User

TOKEN_PREFIX = "ry"  # noqa: S105 - the visible prefix of every key, not a secret


def hash_token_secret(secret: str) -> str:
    """Tokens carry 256 bits of randomness, so one SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def visible_to(self, membership):
        """Tokens are private: each person sees only their own, in this tenant."""
        return self.filter(user_id=membership.user_id, tenant_id=membership.tenant_id)

    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token bound to one user and one tenant; only its hash is stored.

    A token with no tenant is an operator token: it works on the public host, for staff only.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="api_tokens", null=True, blank=True
    )
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}_{self.key_id}_…)"

    @staticmethod
    def new_key() -> tuple[str, str, str]:
        """Return (full key to show once, key id to look up by, secret to hash)."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        return f"{TOKEN_PREFIX}_{key_id}_{secret}", key_id, secret

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.secret_hash, hash_token_secret(secret))

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"
