"""Workload-automation tools: the tenant's HCL Workload Automation (HWA/TWS) engine, read-only.

They read through ``jobs.automation.engine`` (short cache, circuit breaker), so a dead engine costs a
question one timeout at most and nothing while the breaker is open: the answer says when the engine will
be tried again. A tenant without a connection is refused in a sentence. Figures come from the engine's own
answers; statuses keep HWA's code (ABEND, SUCC, EXEC…) next to plain words.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from chat.tools.base import MAX_ITEMS, ToolContext, ToolError, ToolResult, capped, link, tool
from jobs.automation import plan
from jobs.automation.client import HwaError
from jobs.automation.connections import connection_for
from jobs.automation.engine import Engine

EXPLAINED_JOBS = 5
LOG_TAIL_LINES = 12
ERROR_LINE = re.compile(r"error|fail|exception|abend|exit|not found|denied|killed", re.I)
NAME = {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"^[A-Za-z0-9_#.@*/-]+$"}


def _engine(ctx: ToolContext) -> Engine:
    connection = connection_for(ctx.tenant)
    if connection is None:
        raise ToolError(
            f"No workload-automation (HWA) engine is connected for {ctx.tenant.name}; an operator sets the "
            "connection up in the admin. (For a workset, name it by its code.)"
        )
    return Engine(connection)


def _read(call):
    try:
        return call()
    except HwaError as error:
        raise ToolError(str(error)) from error


@tool(
    "hwa_engine",
    "Health of the tenant's HCL Workload Automation engine: whether it answers, its version, its "
    "workstations and their link status, the current plan's jobs counted by status and its job streams.",
    {"properties": {}},
)
def hwa_engine(ctx: ToolContext) -> ToolResult:
    engine = _engine(ctx)
    info = _read(engine.info)
    workstations = [plan.workstation_row(raw) for raw in _read(engine.workstations)]
    jobs = [plan.job_row(raw) for raw in _read(engine.jobs)]
    streams = [plan.stream_row(raw, jobs) for raw in _read(engine.job_streams)]
    unlinked = [ws["name"] for ws in workstations if not ws["linked"]]
    counts = plan.by_status(jobs)
    version = info.get("engineVersion") or info.get("version")
    kind = str(info.get("engineType") or "type not given").lower()
    about = f" (version {version}, {kind})." if version else "."
    lines = [
        f"The engine {engine.connection.label} is answering{about}",
        f"Workstations: {len(workstations)}, {len(workstations) - len(unlinked)} linked"
        + (f"; not linked: {', '.join(unlinked)}." if unlinked else "; all linked."),
        f"Jobs in the current plan: {len(jobs)} — "
        + ", ".join(f"{count} {code} ({plan.words(code)})" for code, count in counts.items())
        + ".",
        f"Job streams: {len(streams)} — "
        + ", ".join(f"{s['name']} {s['status']} ({s['status_words']})" for s in streams)
        + ".",
    ]
    data = {
        "engine": engine.connection.label,
        "info": {key: value for key, value in info.items() if isinstance(value, str | int | float | bool)},
        "workstations": workstations,
        "unlinked": unlinked,
        "jobs_by_status": counts,
        "jobs_total": len(jobs),
        "job_streams": [{key: s[key] for key in ("name", "status", "jobs")} for s in streams],
    }
    return ToolResult("hwa_engine", {}, data, "\n".join(lines), (link("Workload automation", "automation"),))


@tool(
    "hwa_jobs",
    "Jobs in the current plan of the tenant's HWA engine, filtered by status (e.g. ABEND, FAILED, RUNNING, "
    "HOLD, SUCC), name pattern (* wildcard), workstation and since a time (tonight, today, yesterday, "
    "last-hour or an ISO date-time); with explain, the last lines of each failed job's log say why.",
    {
        "properties": {
            "status": {"type": "string", "minLength": 2, "maxLength": 20},
            "name": NAME,
            "workstation": NAME,
            "since": {"type": "string", "minLength": 3, "maxLength": 40},
            "explain": {"type": "boolean"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS},
        }
    },
)
def hwa_jobs(
    ctx: ToolContext,
    status: str | None = None,
    name: str | None = None,
    workstation: str | None = None,
    since: str | None = None,
    explain: bool = False,
    limit: int = MAX_ITEMS,
) -> ToolResult:
    codes, window = _checked_filters(ctx, status, since)
    engine = _engine(ctx)
    rows = [plan.job_row(raw) for raw in _read(lambda: engine.jobs(job_name=name, workstation=workstation))]
    after = window.start if window else None
    wanted = {"codes": codes, "pattern": name, "workstation": workstation, "after": after}
    found = [row for row in rows if plan.matches(row, **wanted)]
    found.sort(key=lambda row: (plan.when(row) or datetime.min.replace(tzinfo=UTC), plan.full_name(row)))
    shown, cut = capped(found, limit)
    if explain:
        for row in [row for row in shown if row["category"] == "failed"][:EXPLAINED_JOBS]:
            row["log_tail"] = plan.tail(_read(lambda row=row: engine.job_log(row["id"])), LOG_TAIL_LINES)
            row["why"] = _why(row["log_tail"])
    described = _described(status, name, workstation, window)
    data = {"engine": engine.connection.label, "filters": described, "count": len(found), "jobs": shown}
    text = _jobs_text(engine, found, shown, described, explain)
    links = [link("Workload automation", "automation", query={"status": (status or "").upper() or None})]
    links += [link(f"Job {plan.full_name(row)}", "automation_job", job_id=row["id"]) for row in shown[:5]]
    return ToolResult("hwa_jobs", {}, data, text, tuple(links), truncated=cut)


@tool(
    "hwa_job",
    "One job in the current plan of the tenant's HWA engine, by name (JOB, STREAM.JOB or "
    "WORKSTATION#STREAM.JOB): its status in plain words, times, return code, dependencies and the tail of "
    "its job log.",
    {"properties": {"job": NAME}, "required": ["job"]},
)
def hwa_job(ctx: ToolContext, job: str) -> ToolResult:
    workstation, stream, name = _parts(job)
    engine = _engine(ctx)
    rows = [plan.job_row(raw) for raw in _read(lambda: engine.jobs(job_name=name, workstation=workstation))]
    rows = [row for row in rows if not stream or row["job_stream"].upper() == stream.upper()]
    if not rows:
        raise ToolError(f"There is no job {job} in the current plan of {engine.connection.label}.")
    rows.sort(key=lambda row: plan.when(row) or datetime.min.replace(tzinfo=UTC), reverse=True)
    row = dict(rows[0])
    raw = _read(lambda: engine.job(row["id"]))
    row["dependencies"] = [plan.dependency_row(dep) for dep in raw.get("dependencies") or []]
    row["log_tail"] = plan.tail(_read(lambda: engine.job_log(row["id"])), LOG_TAIL_LINES)
    keys = ("id", "name", "job_stream", "workstation", "status")
    others = [{key: other[key] for key in keys} for other in rows[1:]]
    data = {"engine": engine.connection.label, "job": row, "other_instances": others}
    links = (link(f"Job {plan.full_name(row)}", "automation_job", job_id=row["id"]),)
    return ToolResult("hwa_job", {}, data, _job_text(row, others), links)


def _checked_filters(ctx: ToolContext, status: str | None, since: str | None):
    try:
        codes = plan.status_codes(status) if status else None
        window = plan.since(since, today=ctx.today, now=datetime.now(UTC)) if since else None
    except ValueError as error:
        raise ToolError(str(error)) from error
    return codes, window


def _parts(job: str) -> tuple[str | None, str | None, str]:
    workstation, _, rest = job.rpartition("#")
    stream, _, name = rest.rpartition(".")
    return workstation or None, stream or None, name


def _why(log_tail: str) -> str:
    """The log lines that say what went wrong (errors, exit status), else the last line."""
    lines = [" ".join(line.strip(" =").split()) for line in log_tail.splitlines() if ERROR_LINE.search(line)]
    return "; ".join(dict.fromkeys(line for line in lines if line)) or (log_tail.splitlines() or [""])[-1]


def _described(status, name, workstation, window) -> str:
    parts = [f"status {status.upper()}" if status else "", f"named {name}" if name else ""]
    parts += [f"on {workstation}" if workstation else "", window.label if window else ""]
    return ", ".join(part for part in parts if part) or "all jobs"


def _jobs_text(engine: Engine, found: list, shown: list, described: str, explain: bool) -> str:
    label = engine.connection.label
    if not found:
        return f"No jobs in the current plan of {label} match ({described})."
    plural = "s" if len(found) != 1 else ""
    lines = [f"{len(found)} job{plural} in the current plan of {label} ({described}):"]
    for row in shown:
        lines.append(
            f"- `{plan.full_name(row)}`: {row['status']} — {row['status_words']}"
            + _times(row)
            + (f", return code {row['return_code']}" if row["return_code"] is not None else "")
        )
        if explain and row.get("why"):
            lines.append(f"  - Why: {row['why']}")
    if len(shown) < len(found):
        lines.append(f"(showing {len(shown)} of {len(found)})")
    return "\n".join(lines)


def _times(row: dict[str, Any]) -> str:
    started, ended = plan.parse_time(row["started"]), plan.parse_time(row["ended"])
    if ended:
        return f", ended {ended:%Y-%m-%d %H:%M} UTC"
    if started:
        return f", started {started:%Y-%m-%d %H:%M} UTC"
    return ""


def _job_text(row: dict[str, Any], others: list) -> str:
    rc = f", return code {row['return_code']}" if row["return_code"] is not None else ""
    lines = [f"Job `{plan.full_name(row)}` is {row['status']} — {row['status_words']}{_times(row)}{rc}."]
    if row["dependencies"]:
        deps = ", ".join(
            f"{dep['on']} ({'satisfied' if dep['satisfied'] else 'not satisfied'})"
            for dep in row["dependencies"]
        )
        lines.append(f"It follows: {deps}.")
    else:
        lines.append("It has no dependencies.")
    if row["log_tail"]:
        lines.append(f"Last lines of its job log:\n```\n{row['log_tail']}\n```")
    if others:
        listed = ", ".join(f"{plan.full_name(o)} ({o['status']})" for o in others)
        lines.append(f"Other instances in the plan: {listed}.")
    return "\n\n".join(lines)
