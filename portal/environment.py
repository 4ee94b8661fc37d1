"""Typed readers for environment variables, used by ``portal.settings`` only.

Each reader fails loudly (``ImproperlyConfigured``) on a value it cannot parse, so a typo
in a deployment stops the process at start instead of surfacing as odd behaviour later.
"""

import os
import re
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set")
        return default
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_url(name: str, *, schemes: tuple[str, ...]) -> str:
    """An optional URL: empty string when unset, else checked for one of ``schemes``."""
    value = env_str(name, "")
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL with scheme {' or '.join(schemes)}, got {parsed.scheme or value!r}"
        )
    return value


def env_list(name: str, default: tuple[str, ...] = ()) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")


def env_rate(name: str, default: str) -> str:
    """A rate limit such as ``20/5m`` (20 per 5 minutes; units s, m, h, d), the form allauth and
    django-ratelimit both read."""
    value = env_str(name, default).replace(" ", "")
    match = _RATE.match(value)
    if not match or int(match[1]) < 1 or match[2] == "0":
        raise ImproperlyConfigured(f"{name} must be a rate such as 20/5m (count/[n]s|m|h|d), got {value!r}")
    return value
