"""Use cases, one function per mutation, one module per noun. The names are re-exported here so that
callers write ``from tenants import services; services.onboard_tenant(...)``."""

from tenants.services.audit import record_event
from tenants.services.buckets import (
    apply_bucket_settings,
    bucket_name_for,
    delete_tenant,
    measure_bucket,
    provision_bucket,
    read_bucket_settings,
    restore_deleted_file,
)
from tenants.services.members import add_member, change_role, remove_member
from tenants.services.onboarding import (
    ensure_public_tenant,
    onboard_tenant,
    set_tenant_status,
    setup_database,
    tenant_address,
    tenant_host,
    validate_slug,
)
from tenants.services.quotas import ApprovalRequired, QuotaExceeded, check_quota, quota_of
from tenants.services.tokens import create_api_token, revoke_api_token

__all__ = [
    "apply_bucket_settings",
    "bucket_name_for",
    "delete_tenant",
    "measure_bucket",
    "provision_bucket",
    "read_bucket_settings",
    "restore_deleted_file",
    "ApprovalRequired",
    "QuotaExceeded",
    "check_quota",
    "quota_of",
    "add_member",
    "change_role",
    "create_api_token",
    "ensure_public_tenant",
    "onboard_tenant",
    "record_event",
    "remove_member",
    "revoke_api_token",
    "set_tenant_status",
    "setup_database",
    "tenant_address",
    "tenant_host",
    "validate_slug",
]
