"""Worksets for the assistant: find them, their status, why one failed, the queue, an estimate, cancel.

Every figure is what ``/api/v1/worksets`` and ``/api/v1/queue/stats`` answer: the same QuerySets,
serializers and services (``jobs``)."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q

from chat.tools.base import ToolContext, ToolError, ToolResult, capped, link, tool
from jobs import services
from jobs.api.serializers import StepSerializer, WorksetSerializer
from jobs.catalog.models import Cluster
from jobs.estimates import estimate_workset as estimate_spec
from jobs.execution import diagnosis_report
from jobs.models import CANCELLABLE, RETRYABLE, IllegalTransition, State, Workset
from jobs.stats import queue_stats

WORKSET = {
    "type": "string",
    "minLength": 1,
    "maxLength": 100,
    "description": "A workset's code or exact name.",
}
SHOWN_HISTORY = 10


def plain(data):
    """JSON-safe (Decimals as strings, datetimes ISO), as the API renders them."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def find_workset(ctx: ToolContext, given: str) -> Workset:
    """By code, else by exact name (the newest of that name); ToolError when there is none."""
    worksets = Workset.objects.visible_to(ctx.membership).select_related("submitted_by")
    found = worksets.filter(code=given.strip()).first() or worksets.filter(name=given.strip()).first()
    if found is None:
        raise ToolError(f"There is no workset {given!r} in {ctx.tenant.name} (give its code or exact name).")
    return found


def workset_link(workset: Workset) -> tuple[str, str]:
    return link(f"Workset {workset.name}", "workset", code=workset.code)


@tool(
    "list_worksets",
    "The tenant's worksets, newest first, optionally of one state or matching a name or code.",
    {
        "properties": {
            "state": {"enum": [*State.values, None], "description": "Only worksets in this state."},
            "query": {"type": ["string", "null"], "maxLength": 100, "description": "Part of a name or code."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        }
    },
)
def list_worksets(ctx: ToolContext, state: str | None = None, query: str | None = None, limit: int = 10):
    worksets = Workset.objects.visible_to(ctx.membership).select_related("submitted_by").defer("spec")
    worksets = worksets.filter(state=state) if state else worksets.not_archived()
    if query:
        worksets = worksets.filter(Q(name__icontains=query) | Q(code__icontains=query))
    rows, more = capped(list(worksets[: limit + 1]), limit)
    data = plain(WorksetSerializer(rows, many=True).data)
    lines = [f"- **{w.name}** (`{w.code}`): {w.state}, {w.progress} % done" for w in rows]
    which = f"{state} worksets" if state else "worksets"
    text = f"{len(rows)}{'+' if more else ''} {which}" + (f" matching “{query}”" if query else "")
    return ToolResult(
        "list_worksets",
        {},
        data,
        "\n".join([f"{text}:" if rows else f"No {which} found.", *lines]),
        links=(link("Worksets", "worksets", query={"state": state}), *map(workset_link, rows[:5])),
        truncated=more,
    )


@tool(
    "workset_status",
    "One workset's state, progress, steps, cluster and timestamps.",
    {"properties": {"workset": WORKSET}, "required": ["workset"]},
)
def workset_status(ctx: ToolContext, workset: str):
    found = find_workset(ctx, workset)
    data = plain(WorksetSerializer(found).data)
    steps = plain(StepSerializer(found.steps.all(), many=True).data)
    history = list(found.transitions.order_by("-at", "-id")[:SHOWN_HISTORY])
    data |= {
        "started_at": plain(found.started_at),
        "finished_at": plain(found.finished_at),
        "failed_step": found.failed_step,
        "failure_code": found.failure_code,
        "steps": steps,
        "history": [
            {"from_state": t.from_state, "to_state": t.to_state, "at": plain(t.at), "reason": t.reason}
            for t in reversed(history)
        ],
    }
    lines = [
        f"**{found.name}** (`{found.code}`) is **{found.state}** (since "
        f"{found.state_changed_at:%Y-%m-%d %H:%M} UTC), {found.progress} % of its steps done"
        + (f", now at {found.current_step}" if found.current_step else "")
        + (f", on cluster {found.cluster}" if found.cluster else "")
        + "."
    ]
    lines += [f"- step {s['name']}: {s['status']}" for s in steps]
    if found.state == State.FAILED and found.failed_step:
        lines += ["", f"It failed at {found.failed_step} ({found.failure_code or 'no code'})."]
    return ToolResult("workset_status", {}, data, "\n".join(lines), links=(workset_link(found),))


@tool(
    "workset_diagnosis",
    "Why a workset's last run failed: the diagnostics report's cause, matched log lines and what to do.",
    {"properties": {"workset": WORKSET}, "required": ["workset"]},
)
def workset_diagnosis(ctx: ToolContext, workset: str):
    found = find_workset(ctx, workset)
    report = diagnosis_report(found)
    links = (workset_link(found),)
    if report is None:
        text = f"**{found.name}** is {found.state} and has no failure diagnosed."
        return ToolResult("workset_diagnosis", {}, {"workset": found.code, "diagnosis": None}, text, links)
    report = {key: value for key, value in report.items() if key not in ("html", "excerpt")}
    lines = [
        f"**{found.name}** failed at step {report['step'] or '?'}: **{report['code']} {report['name']}** "
        f"({report['severity']}, {report['failure_class']}, "
        f"{'retryable' if report['retryable'] else 'not retryable'}).",
        report["description"],
        "What to do:",
        *[f"- {step}" for step in report["remediation"]],
    ]
    if report.get("lines"):
        lines += [
            "Log lines:",
            *[f"- line {line['number']}: `{line['text']}`" for line in report["lines"][:5]],
        ]
    data = {"workset": found.code, "diagnosis": plain(report)}
    return ToolResult("workset_diagnosis", {}, data, "\n".join(lines), links)


@tool("queue_status", "Queued and running worksets of the tenant, and the clusters with their health.", {})
def queue_status(ctx: ToolContext):
    stats = plain(queue_stats())
    clusters = [
        {
            "name": c.name,
            "health": c.health,
            "health_checked_at": plain(c.health_checked_at),
            "health_message": c.health_message,
            "active_worksets": stats["by_cluster"].get(c.name, 0),
        }
        for c in Cluster.objects.enabled()
    ]
    by_state = stats["by_state"]
    running = by_state["dispatched"] + by_state["running"]
    queued = by_state["queued"] + by_state["retry_wait"]
    lines = [f"{queued} worksets queued (retry waits included), {running} dispatched or running."]
    if stats["oldest_queued_age_seconds"] is not None:
        lines.append(f"The oldest has waited {stats['oldest_queued_age_seconds'] // 60} minutes.")
    lines += [
        f"- cluster {c['name']}: {c['health']}, {c['active_worksets']} of yours active" for c in clusters
    ]
    data = {**stats, "queued": queued, "running": running, "clusters": clusters}
    return ToolResult("queue_status", {}, data, "\n".join(lines), links=(link("Worksets", "worksets"),))


@tool(
    "estimate_workset",
    "A workset's estimated cost, duration, vCPU-hours and storage (from catalogue constants or past runs).",
    {"properties": {"workset": WORKSET}, "required": ["workset"]},
)
def estimate_workset(ctx: ToolContext, workset: str):
    found = find_workset(ctx, workset)
    estimate = estimate_spec(found.spec, today=ctx.today).as_dict()
    cost = f"${estimate['cost_usd']}" if estimate["cost_usd"] is not None else "no price (no rate card)"
    text = (
        f"**{found.name}** ({found.sample_count} samples, {found.pipeline}), estimated {estimate['basis']}: "
        f"{cost}, {estimate['duration_hours']} hours, {estimate['vcpu_hours']} vCPU-hours, "
        f"{estimate['storage_gb']} GB of storage."
    )
    if found.measured_cost_usd is not None:
        text += f" Measured so far: ${found.measured_cost_usd}."
    data = {"workset": found.code, "estimate": estimate, "measured_cost_usd": plain(found.measured_cost_usd)}
    return ToolResult("estimate_workset", {}, data, text, links=(workset_link(found),))


@tool(
    "cancel_workset",
    "Cancel a queued or running workset (stops its run on the cluster). Changes data: confirm first.",
    {"properties": {"workset": WORKSET}, "required": ["workset"]},
    read_only=False,
    min_role="member",
)
def cancel_workset(ctx: ToolContext, workset: str):
    found = find_workset(ctx, workset)
    if found.state not in CANCELLABLE:
        raise ToolError(
            f"{found.name} is {found.state}; only {', '.join(sorted(CANCELLABLE))} worksets cancel."
        )
    try:
        services.cancel_workset(ctx.tenant, found, actor=ctx.user, reason="Cancelled from the chat")
    except (IllegalTransition, PermissionDenied) as error:
        raise ToolError(str(error)) from error
    data = {"workset": found.code, "state": found.state}
    return ToolResult("cancel_workset", {}, data, f"**{found.name}** is cancelled.", (workset_link(found),))


@tool(
    "retry_workset",
    "Retry a failed, dead-lettered or cancelled workset: a new workset cloned from it is validated again and "
    "queued (the original keeps its state). Changes data: confirm first.",
    {"properties": {"workset": WORKSET}, "required": ["workset"]},
    read_only=False,
    min_role="member",
)
def retry_workset(ctx: ToolContext, workset: str):
    found = find_workset(ctx, workset)
    if found.state not in RETRYABLE:
        raise ToolError(
            f"{found.name} is {found.state}; only {', '.join(sorted(RETRYABLE))} worksets are retried."
        )
    try:
        retry = services.retry_workset(ctx.tenant, found, actor=ctx.user)
    except services.WorksetInvalid as error:
        raise ToolError(f"{found.name} cannot be retried as it is: {' '.join(error.messages)}") from error
    except (IllegalTransition, PermissionDenied) as error:
        raise ToolError(str(error)) from error
    data = {"workset": found.code, "retry": retry.code, "state": retry.state, "attempt": retry.attempt}
    text = f"**{found.name}** is retried as `{retry.code}` (attempt {retry.attempt}), now {retry.state}."
    return ToolResult("retry_workset", {}, data, text, (workset_link(retry),))
