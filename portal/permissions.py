"""The API's access choke point, the default permission of every API view.

On a tenant host the caller needs a membership there (else 404, as if the thing did not exist);
viewers may only read; a suspended tenant refuses writes. On the public host only operators
(staff) get in. Kept apart from ``portal.rest`` because DRF imports its default permission
classes while ``rest_framework.views`` is still loading.
"""

from rest_framework import exceptions, permissions, status

from tenants.access import is_public, membership_for
from tenants.models import Role


class TenantSuspended(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "tenant_suspended"
    default_detail = "This tenant is suspended; it is read-only."


class IsTenantMember(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        tenant = request.tenant
        if is_public(tenant):
            if request.user.is_authenticated and request.user.is_staff:
                return True
            raise (
                exceptions.NotAuthenticated() if not request.user.is_authenticated else exceptions.NotFound()
            )
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        membership = membership_for(request)
        if membership is None:
            raise exceptions.NotFound()
        request.membership = membership
        if request.method in permissions.SAFE_METHODS:
            return membership.allows(getattr(view, "read_role", Role.VIEWER))
        if not tenant.is_active:
            raise TenantSuspended()
        return membership.allows(getattr(view, "write_role", Role.MEMBER))
