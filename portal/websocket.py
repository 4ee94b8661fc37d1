"""ASGI middleware that resolves a websocket's tenant from its Host header, as HTTP does."""

from channels.db import database_sync_to_async
from django_tenants.utils import get_tenant_domain_model, remove_www, tenant_context


@database_sync_to_async
def tenant_for_host(host: str):
    domain = (
        get_tenant_domain_model().objects.select_related("tenant").filter(domain=remove_www(host)).first()
    )
    return domain.tenant if domain else None


def host_of(scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return value.decode("latin-1").split(":")[0].lower()
    return ""


class TenantHostMiddleware:
    """Put ``scope["tenant"]`` (or None for an unknown host). Consumers refuse a None tenant."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        tenant = await tenant_for_host(host_of(scope))
        return await self.app({**scope, "tenant": tenant}, receive, send)


async def in_tenant(tenant, function, *args, **kwargs):
    """``function(*args, **kwargs)`` (sync, e.g. the ORM) in ``tenant``'s schema on a database thread: a
    schema set in async code does not follow into the thread pool."""

    def run():
        with tenant_context(tenant):
            return function(*args, **kwargs)

    return await database_sync_to_async(run)()
