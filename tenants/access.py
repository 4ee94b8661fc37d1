"""Who may enter which tenant: the one place that answers it for pages, the API and websockets."""

from django.db import connection
from django.http import Http404
from django_tenants.utils import get_public_schema_name

from tenants.models import Membership, Tenant


def is_public(tenant) -> bool:
    return tenant is None or tenant.schema_name == get_public_schema_name()


def current_tenant() -> Tenant:
    """The tenant whose schema the connection is in. Requests and tenant-aware tasks set the tenant
    itself; ``schema_context`` (commands, the demo) sets only a placeholder, so look it up then."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)


def membership_for(request) -> Membership | None:
    """The caller's membership in the request's tenant, looked up once per request."""
    if not hasattr(request, "_membership_cache"):
        request._membership_cache = Membership.objects.of(request.user, getattr(request, "tenant", None))
    return request._membership_cache


def require_membership(request) -> Membership:
    membership = membership_for(request)
    if membership is None:
        raise Http404
    return membership
