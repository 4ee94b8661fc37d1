"""From a tenant's ``HwaConnection`` (operators' configuration) to a ready ``HwaClient``.

Clients are kept per connection for the life of the process (portal.lib.client_cache), so their connection
pool is reused; changing the connection in the admin builds a new client on the next call.
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.automation.client import HwaAuthError, HwaClient, HwaConfig, HwaError, HwaUnreachable
from jobs.automation.models import HwaConnection
from portal.lib.client_cache import ClientCache
from portal.lib.secrets import aws_secret_source, env_variable, secret_from_settings

MAX_CONNECT_TIMEOUT = 3.0
SECRET_PREFIX = "HWA_PASSWORD"  # noqa: S105 - a variable name, not a secret


class HwaNotConfigured(HwaError):
    """The tenant has no enabled HWA connection."""


_clients = ClientCache()


def connection_for(tenant) -> HwaConnection | None:
    return HwaConnection.objects.enabled().select_related("tenant").filter(tenant=tenant).first()


def client_for_connection(connection: HwaConnection) -> HwaClient:
    return _clients.client_for(connection, lambda: HwaClient(config_for(connection)))


def config_for(connection: HwaConnection) -> HwaConfig:
    return HwaConfig(
        base_url=connection.base_url,
        username=connection.username,
        secret=_secret_source(connection),
        timeout=connection.timeout,
        connect_timeout=min(connection.timeout, MAX_CONNECT_TIMEOUT),
    )


def check_connection(connection: HwaConnection) -> str:
    """What the admin's "test connection" reports: the engine's info and workstation count, or the error."""
    try:
        with HwaClient(config_for(connection)) as client:
            info = client.engine_info()
            workstations = client.workstations()
    except HwaError as error:
        return f"{type(error).__name__}: {error}"
    version = info.get("engineVersion") or info.get("version") or "unknown version"
    listed = len(workstations)
    return f"OK, engine {version} answered; {listed} workstation{'' if listed == 1 else 's'} in the plan."


def secret_variable(slug: str) -> str:
    """The environment variable holding a tenant's HWA password or API key: ``HWA_PASSWORD_<SLUG>``."""
    return env_variable(SECRET_PREFIX, slug)


def _secret_source(connection: HwaConnection) -> Callable[[], str]:
    if connection.secret_source == HwaConnection.SecretSource.AWS:
        return _from_aws(connection)
    slug = connection.tenant.slug

    def from_settings() -> str:
        """Read at every request, so a secret changed in the settings or environment is picked up."""
        secret = secret_from_settings("HWA_PASSWORDS", SECRET_PREFIX, slug)
        if not secret:
            raise HwaAuthError(
                f"No HWA password for tenant {slug!r}: set HWA_PASSWORDS[{slug!r}] or {secret_variable(slug)}"
            )
        return secret

    return from_settings


def _from_aws(connection: HwaConnection) -> Callable[[], str]:
    return aws_secret_source(
        connection.aws_secret_id,
        region=connection.aws_region,
        endpoint_url=connection.aws_endpoint_url or None,
        field=connection.aws_secret_key or "password",
        name="HWA secret",
        unreachable=HwaUnreachable,
        refused=HwaAuthError,
    )
