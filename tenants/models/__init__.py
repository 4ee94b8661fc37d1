"""Public-schema models, one module per noun; everything is importable from ``tenants.models``."""

from tenants.models.accounts import Domain, Membership, Role, Tenant, TenantQuerySet, User, UserManager
from tenants.models.assistant import AssistantSettings
from tenants.models.audit import AuditEvent
from tenants.models.billing import (
    BudgetAlert,
    GpuRate,
    Invoice,
    InvoiceLine,
    Quota,
    RateCard,
    UsageRecord,
)
from tenants.models.iss import IssConnection
from tenants.models.signup import Signup
from tenants.models.storage import GB, Bucket
from tenants.models.tokens import TOKEN_PREFIX, ApiToken, hash_token_secret

__all__ = [
    "GB",
    "TOKEN_PREFIX",
    "ApiToken",
    "AssistantSettings",
    "AuditEvent",
    "Bucket",
    "BudgetAlert",
    "Domain",
    "GpuRate",
    "Invoice",
    "InvoiceLine",
    "IssConnection",
    "Membership",
    "Quota",
    "RateCard",
    "Role",
    "Signup",
    "Tenant",
    "TenantQuerySet",
    "UsageRecord",
    "User",
    "UserManager",
    "hash_token_secret",
]
