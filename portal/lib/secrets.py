"""Where a connector's secret lives: a settings dict keyed by tenant slug, an environment variable, or AWS
Secrets Manager (a plain SecretString, or one field of a JSON one).

Used by the ISS and HWA connectors and the chat model providers; each maps ``SecretError`` to its own typed
error and message. No error here ever carries the secret itself. boto3 and Django's settings are imported
when first needed, so ``analysis.iss.client`` stays free of Django.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable


class SecretError(Exception):
    """The secret could not be had; the message names the secret id, never its value."""


class SecretUnavailable(SecretError):
    """Secrets Manager refused (``code`` is its error code), or the JSON secret lacks ``field``."""

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


class SecretUnreachable(SecretError):
    """Secrets Manager never answered (no network, no credentials, a bad endpoint)."""

    def __init__(self, message: str, *, cause: Exception):
        super().__init__(message)
        self.cause = cause


def read_aws_secret(
    secret_id: str, *, region: str, endpoint_url: str | None = None, field: str, allow_empty: bool = True
) -> str:
    """The SecretString of ``secret_id``, or its ``field`` when it is a JSON object.

    ``allow_empty=False`` counts a JSON field holding an empty value as missing.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise SecretUnavailable(f"could not read the secret {secret_id!r} ({code})", code=code) from None
    except BotoCoreError as error:
        raise SecretUnreachable(
            f"could not reach Secrets Manager for {secret_id!r}: {error}", cause=error
        ) from None
    return _field_of(value, field, allow_empty=allow_empty)


def aws_secret_source(
    secret_id: str,
    *,
    region: str,
    endpoint_url: str | None,
    field: str,
    name: str,
    unreachable: type[Exception],
    refused: type[Exception],
) -> Callable[[], str]:
    """A connector's secret source: reads ``secret_id`` (its ``field`` when JSON) at every call, and turns
    failures into the connector's own ``unreachable`` / ``refused`` errors, naming its secret ``name``."""

    def fetch() -> str:
        try:
            return read_aws_secret(secret_id, region=region, endpoint_url=endpoint_url, field=field)
        except SecretUnreachable as error:
            raise unreachable(f"Could not reach Secrets Manager for {secret_id!r}: {error.cause}") from None
        except SecretUnavailable as error:
            if error.field is not None:
                raise refused(f"The {name} has no {field!r} field") from None
            raise refused(f"Could not read the {name} {secret_id!r} ({error.code})") from None

    return fetch


def _field_of(value: str, field: str, *, allow_empty: bool) -> str:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if not isinstance(parsed, dict):
        return value
    if field not in parsed or not (allow_empty or parsed[field]):
        raise SecretUnavailable(f"the secret has no {field!r} field", field=field)
    return str(parsed[field])


def secret_from_settings(setting_name: str, prefix: str, slug: str) -> str | None:
    """``settings.<setting_name>[slug]``, else the environment variable ``<prefix>_<SLUG>``, else None.

    Read at every call, so a secret changed in the settings or the environment is picked up.
    """
    from django.conf import settings

    secret = (getattr(settings, setting_name, None) or {}).get(slug) or os.environ.get(
        env_variable(prefix, slug)
    )
    return str(secret) if secret else None


def env_variable(prefix: str, slug: str) -> str:
    """``<PREFIX>_<SLUG>``, the slug upper-cased with anything but letters and digits as ``_``."""
    return f"{prefix}_" + re.sub(r"[^A-Z0-9]", "_", slug.upper())


def aws_location_errors(row, *, uses_aws: bool, source: str = "source") -> dict[str, str]:
    """The field error of a row (``aws_secret_id``, ``aws_region``) that chose AWS Secrets Manager without
    saying which secret and where; empty when there is nothing to say."""
    if uses_aws and not (row.aws_secret_id and row.aws_region):
        return {"aws_secret_id": f"The AWS {source} needs the secret id and its region."}
    return {}
