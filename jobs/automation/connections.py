"""From a tenant's ``HwaConnection`` (operators' configuration) to a ready ``HwaClient``.

Clients are kept per connection for the life of the process, so their connection pool is reused; changing
the connection in the admin (``updated`` moves) builds a new client on the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from jobs.automation.client import HwaAuthError, HwaClient, HwaConfig, HwaError, HwaUnreachable
from jobs.automation.models import HwaConnection
from portal.lib.secrets import (
    SecretUnavailable,
    SecretUnreachable,
    env_variable,
    read_aws_secret,
    secret_from_settings,
)

MAX_CONNECT_TIMEOUT = 3.0
SECRET_PREFIX = "HWA_PASSWORD"  # noqa: S105 - a variable name, not a secret


class HwaNotConfigured(HwaError):
    """The tenant has no enabled HWA connection."""


_clients: dict[int, tuple[object, HwaClient]] = {}
_lock = threading.Lock()


def connection_for(tenant) -> HwaConnection | None:
    return HwaConnection.objects.enabled().select_related("tenant").filter(tenant=tenant).first()


def client_for_connection(connection: HwaConnection) -> HwaClient:
    version = (connection.updated, connection.tenant.slug)
    with _lock:
        cached = _clients.get(connection.pk)
        if cached and cached[0] == version:
            return cached[1]
        client = HwaClient(config_for(connection))
        _clients[connection.pk] = (version, client)
    if cached:
        cached[1].close()
    return client


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
    secret_id, region = connection.aws_secret_id, connection.aws_region
    endpoint, key = connection.aws_endpoint_url or None, connection.aws_secret_key or "password"

    def fetch() -> str:
        try:
            return read_aws_secret(secret_id, region=region, endpoint_url=endpoint, field=key)
        except SecretUnreachable as error:
            raise HwaUnreachable(
                f"Could not reach Secrets Manager for {secret_id!r}: {error.cause}"
            ) from None
        except SecretUnavailable as error:
            if error.field is not None:
                raise HwaAuthError(f"The HWA secret has no {key!r} field") from None
            raise HwaAuthError(f"Could not read the HWA secret {secret_id!r} ({error.code})") from None

    return fetch
