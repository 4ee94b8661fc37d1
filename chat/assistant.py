"""The built-in analyst as a service: a question in, an answer composed only from tool results out.

``ask`` routes the question (``chat.analyst.router``), runs each read-only call through ``call_tool`` (so the
role checks, bounds and audit apply) and composes the answer (``chat.analyst.compose``). A tool that changes
something is never run here: it comes back in ``Reply.pending`` until the user confirms it with ``confirm``.
A refusal is a sentence in the answer, and a tool that breaks is logged and said so while the others answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chat.analyst.compose import compose, title
from chat.analyst.plan import Answer, Call, Plan
from chat.analyst.router import CANNOT, knowledge_topic, route
from chat.tools import REGISTRY, ToolContext, ToolError, ToolResult, call_tool

log = logging.getLogger(__name__)

BROKEN = "something went wrong on our side (it has been logged)"
WORKSET_TOOLS = frozenset(
    {"workset_status", "workset_diagnosis", "estimate_workset", "cancel_workset", "retry_workset"}
)


@dataclass(frozen=True)
class Lookup:
    """One tool call as the "looked up …" card shows it: the call, and its result or why there is none."""

    call: Call
    result: ToolResult | None = None
    refusal: str | None = None

    @property
    def title(self) -> str:
        return title(self.call)


@dataclass(frozen=True)
class Pending:
    """A call that changes something, held back with the question to put to the user."""

    call: Call
    prompt: str


@dataclass(frozen=True)
class Reply:
    answer: Answer
    lookups: tuple[Lookup, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)
    pending: tuple[Pending, ...] = ()


def ask(question: str, ctx: ToolContext, *, context: Mapping | None = None) -> Reply:
    """Answer ``question`` for ``ctx``; ``context`` is the previous reply's, so "it" means what it meant."""
    context = dict(context or {})
    plan = route(question, today=ctx.today, context=context)
    found = _from_knowledge(question, plan, ctx)
    if found is not None:
        return _reply(question, *found, context, ())
    held = tuple(
        Pending(call, f"{title(call)}? This changes something, so confirm to go ahead.")
        for call in plan.calls
        if _changes(call)
    )
    if held:
        plan = replace(plan, needs_confirmation=True)
    lookups = tuple(Lookup(call) if _changes(call) else _run(call, ctx) for call in plan.calls)
    return _reply(question, plan, lookups, context, held)


def confirm(pending: Pending | Call, ctx: ToolContext, *, context: Mapping | None = None) -> Reply:
    """Run a call the user confirmed, once, through ``call_tool``: a viewer is refused, and it is audited."""
    call = pending.call if isinstance(pending, Pending) else pending
    plan = Plan((call,))
    return _reply(title(call), plan, (_run(call, ctx),), dict(context or {}), ())


def _from_knowledge(question: str, plan: Plan, ctx: ToolContext) -> tuple[Plan, tuple[Lookup]] | None:
    """A question no rule answers is tried against the knowledge base before giving up; None if it has
    nothing (the reply then stays "I can't answer that…", with no lookup)."""
    if plan.calls or plan.unanswered != CANNOT or not question.strip():
        return None
    call = Call("search_knowledge", {"query": knowledge_topic(question)[:500]})
    lookup = _run(call, ctx)
    if lookup.result is None or not lookup.result.data:
        return None
    return Plan((call,)), (lookup,)


def _changes(call: Call) -> bool:
    found = REGISTRY.get(call.tool)
    return found is not None and not found.read_only


def _run(call: Call, ctx: ToolContext) -> Lookup:
    try:
        return Lookup(call, result=call_tool(call.tool, dict(call.arguments), ctx))
    except ToolError as error:
        return Lookup(call, refusal=error.message)
    except Exception:
        log.exception("Chat tool %s failed with arguments %r", call.tool, dict(call.arguments))
        return Lookup(call, refusal=BROKEN)


def _reply(question: str, plan: Plan, lookups: tuple[Lookup, ...], context: dict, held) -> Reply:
    results = [lookup.result if lookup.result is not None else lookup.refusal for lookup in lookups]
    answer = compose(question, plan, results)
    return Reply(answer, lookups, _remembered(context, lookups), held)


def _remembered(context: dict, lookups: tuple[Lookup, ...]) -> dict:
    """The last workset and profile the answers were about, for the next question's "it" and "this run"."""
    context = dict(context)
    for lookup in lookups:
        data = lookup.result.data if lookup.result is not None else None
        if not isinstance(data, dict):
            continue
        if lookup.call.tool in WORKSET_TOOLS and isinstance(data.get("workset") or data.get("code"), str):
            context["workset"] = data.get("workset") or data["code"]
        elif isinstance(data.get("profile"), str):
            context["profile"] = data["profile"]
    return context
