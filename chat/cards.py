"""A tool call as the chat shows it (a "looked up …" card), and how an answer in progress runs a tool.

Both answerers, the built-in analyst and a model, produce the same cards, so the page, the stored message and
the tests see one shape: ``{"tool", "title", "arguments", "text", "links": [[label, url], …], "refusal",
"truncated"}`` with ``refusal`` empty when the tool answered.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from django_tenants.utils import tenant_context

from chat.analyst.compose import title
from chat.analyst.plan import Call
from chat.tools import ToolContext, ToolError, ToolResult, call_tool

log = logging.getLogger(__name__)

BROKEN = "something went wrong on our side (it has been logged)"


def card(tool: str, arguments: dict, *, result: ToolResult | None = None, refusal: str | None = None) -> dict:
    return {
        "tool": tool,
        "title": title(Call(tool, dict(arguments))),
        "arguments": dict(arguments),
        "text": result.text if result is not None else "",
        "links": [[label, url] for label, url in (result.links if result is not None else ())],
        "refusal": refusal or "",
        "truncated": bool(result is not None and result.truncated),
    }


def run_tool_sync(name: str, arguments: dict, ctx: ToolContext) -> tuple[dict, ToolResult | None]:
    """Run one tool in the context's tenant schema: its card, and its result (None when refused)."""
    with tenant_context(ctx.tenant):
        try:
            result = call_tool(name, arguments, ctx)
        except ToolError as error:
            return card(name, arguments if isinstance(arguments, dict) else {}, refusal=error.message), None
        except Exception:
            log.exception("Chat tool %s failed with arguments %r", name, arguments)
            return card(name, arguments if isinstance(arguments, dict) else {}, refusal=BROKEN), None
    return card(name, arguments, result=result), result


run_tool = database_sync_to_async(run_tool_sync)
run_tool.__doc__ = "``run_tool_sync`` from async code (a consumer or a model's tool round), on a DB thread."
