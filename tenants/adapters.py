"""allauth adapter: on a tenant host only its members may sign in; sign-up is not open there."""

from allauth.account.adapter import DefaultAccountAdapter

from portal.ratelimits import client_address
from tenants.access import is_public
from tenants.models import Membership


class TenantAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False  # workspaces come from operators or the public host's sign-up (tenants.views.signup)

    def authenticate(self, request, **credentials):
        """A non-member's right password fails like a wrong one: strangers learn nothing."""
        user = super().authenticate(request, **credentials)
        tenant = getattr(request, "tenant", None)
        if user is not None and not is_public(tenant) and Membership.objects.of(user, tenant) is None:
            self.authentication_failed(request, **credentials)
            return None
        return user

    def get_client_ip(self, request) -> str:
        """Sign-in limits count per client, not per reverse proxy (``portal.ratelimits.client_address``)."""
        return client_address(request)
