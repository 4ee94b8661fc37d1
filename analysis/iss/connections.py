"""From a tenant's ``IssConnection`` (operators' configuration) to a ready ``IssClient``.

Clients are kept per connection for the life of the process (portal.lib.client_cache), so the OAuth2 token
they cache is reused by every request of the tenant instead of being fetched per page; changing the
connection in the admin builds a new client on the next call.
"""

from __future__ import annotations

from analysis.iss.client import IssAuthError, IssClient, IssConfig, IssError, secret_from_aws_secrets_manager
from portal.lib.client_cache import ClientCache
from portal.lib.secrets import env_variable, secret_from_settings
from tenants.models import IssConnection

MAX_CONNECT_TIMEOUT = 10.0
SECRET_PREFIX = "ISS_CLIENT_SECRET"  # noqa: S105 - a variable name, not a secret


class IssNotConfigured(IssError):
    """The tenant has no enabled ISS connection."""


_clients = ClientCache()


def connection_for(tenant) -> IssConnection | None:
    return IssConnection.objects.enabled().filter(tenant=tenant).first()


def iss_client_for(tenant) -> IssClient:
    """The tenant's client; raises IssNotConfigured when operators have not set ISS up (or disabled it)."""
    connection = connection_for(tenant)
    if connection is None:
        raise IssNotConfigured("ISS is not configured for this tenant; an operator sets it up in the admin.")
    return client_for_connection(connection)


def client_for_connection(connection: IssConnection) -> IssClient:
    return _clients.client_for(connection, lambda: IssClient(config_for(connection)))


def config_for(connection: IssConnection) -> IssConfig:
    return IssConfig(
        base_url=connection.base_url,
        file_service_url=connection.file_service_url,
        token_url=connection.token_url,
        client_id=connection.client_id,
        client_secret=_secret_source(connection),
        scope=connection.scope,
        proxy=connection.proxy or None,
        timeout=connection.timeout,
        connect_timeout=min(connection.timeout, MAX_CONNECT_TIMEOUT),
    )


def check_connection(connection: IssConnection) -> str:
    """What the admin's "test connection" reports: one job listed, or the typed error's message."""
    try:
        with IssClient(config_for(connection)) as client:
            page = client.list_jobs(limit=1)
    except IssError as error:
        return f"{type(error).__name__}: {error}"
    listed = len(page.jobs)
    return f"OK, ISS listed {listed} job{'' if listed == 1 else 's'} (asked for one)."


def _secret_source(connection: IssConnection):
    if connection.secret_source == IssConnection.SecretSource.AWS:
        return secret_from_aws_secrets_manager(
            connection.aws_secret_id,
            connection.aws_region,
            connection.aws_endpoint_url or None,
            key=connection.aws_secret_key or "client_secret",
        )
    slug = connection.tenant.slug

    def from_settings() -> str:
        """Read at every token fetch, so a secret changed in the settings or environment is picked up."""
        secret = secret_from_settings("ISS_CLIENT_SECRETS", SECRET_PREFIX, slug)
        if not secret:
            raise IssAuthError(
                f"No ISS client secret for tenant {slug!r}: set ISS_CLIENT_SECRETS[{slug!r}] or "
                f"{secret_variable(slug)}"
            )
        return secret

    return from_settings


def secret_variable(slug: str) -> str:
    """The environment variable holding a tenant's ISS client secret: ``ISS_CLIENT_SECRET_<SLUG>``."""
    return env_variable(SECRET_PREFIX, slug)
