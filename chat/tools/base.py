"""The assistant's tools: what they are, how one is called, and the bounds on what it may answer.

A tool is a thin, read-only (unless it says otherwise) wrapper over a service or QuerySet of the portal.
Scope is enforced here in code, never by a prompt: ``call_tool`` refuses a context whose tenant is not
the connection's schema, checks the caller's role against the tool's ``min_role``, validates the
arguments against the tool's JSON Schema, bounds the result's size, and writes a ``ToolCallRecord`` for
every call, answered or refused. Whatever the user (or a model) got wrong is a ``ToolError`` with a
message to show, never a server error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from django.urls import reverse
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from tenants.models import Role

MAX_ITEMS = 50
MAX_RESULT_BYTES = 32_000


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class ToolContext:
    """Who asks, in which tenant, and on which UTC day (injectable, so tests pin "last week")."""

    membership: Any
    user: Any
    tenant: Any
    today: date = field(default_factory=utc_today)


@dataclass(frozen=True)
class ToolResult:
    tool: str
    arguments: dict
    data: dict | list
    text: str
    links: tuple[tuple[str, str], ...] = ()
    truncated: bool = False


class ToolError(Exception):
    """A refusal to show the user: an unknown workset, no profile yet, a bad argument, a missing role."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    run: Callable[..., ToolResult]
    read_only: bool = True
    min_role: str = Role.VIEWER


REGISTRY: dict[str, Tool] = {}


def tool(name: str, description: str, parameters: dict, *, read_only: bool = True, min_role: str = "viewer"):
    """Register ``run(ctx, **arguments)`` as the tool ``name``; a schema without ``additionalProperties``
    refuses unknown arguments."""
    schema = {"type": "object", "additionalProperties": False, **parameters}
    Draft202012Validator.check_schema(schema)

    def register(run: Callable[..., ToolResult]) -> Callable[..., ToolResult]:
        REGISTRY[name] = Tool(name, description, schema, run, read_only=read_only, min_role=Role(min_role))
        return run

    return register


def call_tool(name: str, arguments: dict | None, ctx: ToolContext) -> ToolResult:
    """Run one tool for ``ctx`` in the current tenant schema; ToolError for anything refused."""
    _require_tenant(ctx)
    arguments = {} if arguments is None else arguments
    try:
        result = _checked_run(name, arguments, ctx)
    except ToolError as error:
        _audit(ctx, name, arguments, error=error.message)
        raise
    except Exception as error:
        _audit(ctx, name, arguments, error=f"{type(error).__name__}: {error}")
        raise
    data, cut = fit(result.data)
    result = replace(result, data=data, truncated=result.truncated or cut)
    _audit(ctx, name, arguments, result_bytes=size_of(data), truncated=result.truncated)
    return result


def _checked_run(name: str, arguments, ctx: ToolContext) -> ToolResult:
    found = REGISTRY.get(name)
    if found is None:
        raise ToolError(f"There is no tool {name!r}. Tools: {', '.join(sorted(REGISTRY))}.")
    if not isinstance(arguments, dict):
        raise ToolError(f"{name}: the arguments must be an object.")
    problem = best_match(Draft202012Validator(found.parameters).iter_errors(arguments))
    if problem is not None:
        where = ".".join(str(part) for part in problem.absolute_path)
        raise ToolError(f"{name}: {f'{where}: ' if where else ''}{problem.message}.")
    if not ctx.membership.allows(found.min_role):
        raise ToolError(
            f"{name} needs the {found.min_role} role or higher; you are a {ctx.membership.role} of "
            f"{ctx.tenant.name}."
        )
    result = found.run(ctx, **arguments)
    return replace(result, tool=name, arguments=arguments)


def _require_tenant(ctx: ToolContext) -> None:
    """The caller must already be in the context's tenant schema, as the context's own member."""
    membership = ctx.membership
    if connection.schema_name != ctx.tenant.schema_name:
        raise ToolError(
            f"This conversation belongs to {ctx.tenant.name}; the tools run only in its own workspace."
        )
    if (
        membership is None
        or membership.tenant_id != ctx.tenant.pk
        or membership.user_id != getattr(ctx.user, "pk", None)
    ):
        raise ToolError(f"You are not a member of {ctx.tenant.name}.")


def _audit(ctx: ToolContext, name: str, arguments, *, result_bytes: int = 0, truncated=False, error=""):
    from chat.models import ToolCallRecord

    stored = arguments if isinstance(arguments, dict) else {"value": repr(arguments)[:500]}
    ToolCallRecord.objects.create(
        user=ctx.user,
        tool=name[:64],
        arguments=json.loads(json.dumps(stored, default=str)),
        result_bytes=result_bytes,
        truncated=truncated,
        error=error[:2000],
    )


# --- size bounds ---


def size_of(data) -> int:
    return len(json.dumps(data, default=str).encode())


def fit(data) -> tuple[Any, bool]:
    """``data`` with every list cut to MAX_ITEMS, then its largest lists (or strings) halved until it
    dumps to at most MAX_RESULT_BYTES; True when anything was cut."""
    data, cut = _cap_lists(data)
    while size_of(data) > MAX_RESULT_BYTES:
        data, halved = _halve_largest(data)
        if not halved:
            break
        cut = True
    return data, cut


def _cap_lists(value) -> tuple[Any, bool]:
    if isinstance(value, dict):
        pairs = {key: _cap_lists(item) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(c for _, c in pairs.values())
    if isinstance(value, list | tuple):
        items = [_cap_lists(item) for item in value[:MAX_ITEMS]]
        return [item for item, _ in items], len(value) > MAX_ITEMS or any(c for _, c in items)
    return value, False


def _halve_largest(value) -> tuple[Any, bool]:
    """Halve the largest list (or, with no list longer than one item, the longest string) in ``value``."""
    for lists in (True, False):
        found = max(_candidates(value, (), lists=lists), default=None, key=lambda item: item[0])
        if found is not None:
            return _replace_at(value, found[1]), True
    return value, False


def _candidates(value, where: tuple, *, lists: bool):
    """(dumped size, path) of every list longer than one item, or every string over 80 characters."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _candidates(item, (*where, key), lists=lists)
    elif isinstance(value, list):
        if lists and len(value) > 1:
            yield size_of(value), where
        for index, item in enumerate(value):
            yield from _candidates(item, (*where, index), lists=lists)
    elif not lists and isinstance(value, str) and len(value) > 80:
        yield size_of(value), where


def _replace_at(value, path: tuple):
    if not path:
        return value[: len(value) // 2] if isinstance(value, list) else value[: len(value) // 2] + "…"
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {key: _replace_at(item, rest) if key == head else item for key, item in value.items()}
    return [_replace_at(item, rest) if index == head else item for index, item in enumerate(value)]


# --- helpers the tools share ---


def link(label: str, name: str, *, query: dict | None = None, **kwargs) -> tuple[str, str]:
    """(label, path on the tenant host) of a named page, with an optional query string."""
    from urllib.parse import urlencode

    path = reverse(name, kwargs=kwargs or None)
    given = {key: value for key, value in (query or {}).items() if value not in (None, "")}
    return label, f"{path}?{urlencode(given)}" if given else path


def capped(rows: list, limit: int = MAX_ITEMS) -> tuple[list, bool]:
    return rows[:limit], len(rows) > limit
