"""The workload-automation panel: the tenant's HWA engine, its workstations and the current plan's jobs by
status, and one job with its log tail and dependencies.

Every member reads. Answers come from the engine through ``jobs.automation.engine`` (short cache, circuit
breaker), so a slow or dead engine costs a page at most one timeout, and nothing while the breaker is open:
the page then says when the engine will be tried again. A tenant without a connection gets 404.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import render

from jobs.automation import plan
from jobs.automation.client import HwaError, HwaNotFound, HwaUnreachable
from jobs.automation.connections import HwaNotConfigured
from jobs.automation.engine import Engine, HwaEngineDown, engine_for

INFO_KEYS = ("engineVersion", "engineType", "masterDomainManager", "planStartTime", "planEndTime")
LOG_LINES = 40


def dashboard(request):
    engine = _engine(request)
    context: dict[str, Any] = {"connection": engine.connection}
    wanted = (request.GET.get("status") or "").strip()
    try:
        codes = plan.status_codes(wanted) if wanted else None
    except ValueError as error:
        return render(request, "automation/dashboard.html", {**context, "bad_status": str(error)}, status=400)
    try:
        info = engine.info()
        workstations = [plan.workstation_row(raw) for raw in engine.workstations()]
        jobs = [plan.job_row(raw) for raw in engine.jobs()]
        streams = [plan.stream_row(raw, jobs) for raw in engine.job_streams()]
    except HwaError as error:
        return _failed(request, "automation/dashboard.html", context, error)
    shown = [row for row in jobs if plan.matches(row, codes=codes)]
    context.update(
        info=[(key, info[key]) for key in INFO_KEYS if info.get(key) not in (None, "")],
        workstations=workstations,
        streams=streams,
        unlinked=[ws["name"] for ws in workstations if not ws["linked"]],
        jobs=sorted(shown, key=lambda row: (row["category"] != "failed", plan.full_name(row))),
        by_category=plan.by_category(jobs),
        by_status=[(code, plan.words(code), n) for code, n in plan.by_status(jobs).items()],
        total=len(jobs),
        status=wanted.upper(),
        chart={"labels": list(plan.by_category(jobs)), "values": list(plan.by_category(jobs).values())},
    )
    return render(request, "automation/dashboard.html", context)


def job(request, job_id: str):
    engine = _engine(request)
    context: dict[str, Any] = {"connection": engine.connection, "job_id": job_id}
    try:
        raw = engine.job(job_id)
        row = plan.job_row(raw)
        log = engine.job_log(job_id)
    except HwaError as error:
        return _failed(request, "automation/job.html", context, error)
    context.update(
        job=row,
        full_name=plan.full_name(row),
        dependencies=[plan.dependency_row(dep) for dep in raw.get("dependencies") or []],
        log_tail=plan.tail(log, LOG_LINES),
        log_lines=LOG_LINES,
    )
    return render(request, "automation/job.html", context)


def _engine(request) -> Engine:
    try:
        return engine_for(request.tenant)
    except HwaNotConfigured as error:
        raise Http404(str(error)) from error


def _failed(request, template: str, context: dict, error: HwaError):
    if isinstance(error, HwaNotFound):
        raise Http404(str(error))
    status = 503 if isinstance(error, HwaEngineDown | HwaUnreachable) else 502
    context.update(error=str(error), engine_down=isinstance(error, HwaEngineDown))
    return render(request, template, context, status=status)
