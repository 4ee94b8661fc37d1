"""Where a mutation came from (client IP, user agent; web/api/websocket/task/command), for the audit trail.

Services do not take a request, so the origin travels in a context variable: the HTTP middleware and the
websocket middleware set it for the request or the socket; ``tenants.services.audit.record_event`` reads it.
Context variables follow ``sync_to_async``/``database_sync_to_async`` into their worker thread, so this works
for sync and async views and for consumers alike. Outside a request or socket, a Celery task is "task" and
anything else (manage.py, the ``runyard`` CLI, a shell) is "command".
"""

import ipaddress
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings

USER_AGENT_MAX = 300


@dataclass(frozen=True)
class Origin:
    source: str  # web, api, websocket, task, command
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[Origin | None] = ContextVar("runyard_origin", default=None)


def current_origin() -> Origin:
    origin = _current.get()
    if origin is not None:
        return origin
    from celery import current_task

    return Origin(source="task" if current_task else "command")


@contextmanager
def origin_bound(origin: Origin):
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_ip(remote_addr: str | None, headers: dict[str, str]) -> str | None:
    """The peer's address, or, only when ``RUNYARD_CLIENT_IP_HEADER`` names the header the reverse proxy sets,
    the last address in that header (the one our proxy appended; earlier ones are the client's own claims)."""
    header = settings.RUNYARD_CLIENT_IP_HEADER.lower()
    if header and headers.get(header):
        forwarded = _valid_ip(headers[header].split(",")[-1])
        if forwarded:
            return forwarded
    return _valid_ip(remote_addr)


def origin_of_request(request) -> Origin:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return Origin(
        source="api" if request.path.startswith("/api/") else "web",
        ip=client_ip(request.META.get("REMOTE_ADDR"), headers),
        user_agent=headers.get("user-agent", "")[:USER_AGENT_MAX],
    )


def origin_of_scope(scope) -> Origin:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])
    }
    client = scope.get("client") or (None, None)
    return Origin(
        source="websocket",
        ip=client_ip(client[0], headers),
        user_agent=headers.get("user-agent", "")[:USER_AGENT_MAX],
    )


class RequestOriginMiddleware:
    """HTTP: every audit event a request writes carries its client IP and user agent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with origin_bound(origin_of_request(request)):
            return self.get_response(request)


class WebsocketOriginMiddleware:
    """Websockets: events written while handling a socket's messages carry the socket's client."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        with origin_bound(origin_of_scope(scope)):
            return await self.app(scope, receive, send)
