"""Cost dashboard pages: the tenant's GPU spend over a period (cards, cost per day by team, cost by
model, budget burn, the forecast and savings advice) and one team in depth, with downloads.

Every member reads (the middleware already answers 404 to anyone else). The filters are validated by
the API's ``CostQuerySerializer``, so the page and ``/api/v1/analytics/cost…`` accept the same
parameters and refuse the same ones; every figure comes from ``analysis.cost_analytics`` (the
functions the API calls), rounded to cents half up as the API rounds them.

Budgets and the forecast are about the whole tenant, as of the period's last day (today at most):
the month of that day for budgets, and the 30 days after it for the forecast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from django.db.models import Max
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from analysis import cost_analytics, cost_exports
from analysis.api.cost_serializers import CostQuerySerializer
from analysis.cost_analytics import CostQuery
from analysis.cost_answers import forecast_answer
from analysis.costs import records, rollups
from analysis.costs.forecast import daily_totals
from analysis.costs.records import OPEN_STATUSES
from analysis.models import GpuJob, Team
from tenants.services.usage_summary import month_summary

FILTERS = ("start", "end", "provider", "gpu_type")
DEFAULT_DAYS = 30
JOBS_SHOWN = 500
STATUS_LABELS = {"ok": "On track", "at_risk": "At risk", "over": "Over budget", "no_budget": "No budget"}
TABLE_NAMES = {  # URL name → sheet name
    "by-team": "Cost by team",
    "by-model": "Cost by model",
    "by-day": "Cost by day and team",
    "budgets": "Budgets",
    "forecast": "Forecast",
    "recommendations": "Recommendations",
}


@dataclass
class Filters:
    """The form's values and errors, and the query they make when they are valid."""

    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    query: CostQuery | None = None

    @property
    def querystring(self) -> str:
        return urlencode({key: value for key, value in self.values.items() if value})


def read_filters(request) -> Filters:
    given = {key: request.GET[key].strip() for key in FILTERS if request.GET.get(key, "").strip()}
    serializer = CostQuerySerializer(data=given)
    if not serializer.is_valid():
        errors = {key: [str(problem) for problem in problems] for key, problems in serializer.errors.items()}
        return Filters(values=given, errors=errors)
    query = serializer.query()
    return Filters(values={**given, "start": f"{query.start}", "end": f"{query.end}"}, query=query)


def as_of(query: CostQuery) -> date:
    """The day budgets are read on: the period's last day, today at most."""
    return min(query.end, timezone.now().date())


def forecast_from(query: CostQuery) -> date:
    """The forecast's first day: the day after the period, today at most (today is not over)."""
    return min(query.end + timedelta(days=1), timezone.now().date())


def money(value) -> str:
    amount = cost_exports.cents(value)
    return "—" if amount is None else f"${amount:,.2f}"


def hours(value) -> str:
    return f"{float(value):,.2f}"


# -- the tables ---------------------------------------------------------------------------------------


TABLES: dict[str, Callable[[CostQuery], pd.DataFrame]] = {  # each dashboard table, read on its own
    "by-team": lambda query: cost_analytics.cost_by(query, ["team"]),
    "by-model": lambda query: cost_analytics.cost_by(query, ["model"]),
    "by-day": lambda query: cost_analytics.trend(query, "day", ["team"]),
    "budgets": lambda query: cost_analytics.budget_burn(as_of(query)),
    "forecast": lambda query: cost_exports.forecast_frame(forecast_answer(forecast_from(query))),
    "recommendations": lambda query: cost_exports.recommendations_frame(
        cost_analytics.savings_advice(query)[0]
    ),
}


@dataclass
class Dashboard:
    """What one view of the dashboard reads, each once: every table by ``TABLE_NAMES`` key (what the
    page draws and the files carry), the period's total, the forecast as the API answers it with the
    daily costs it was fitted on, and whether the advice read only the newest jobs."""

    tables: dict[str, pd.DataFrame]
    total: pd.Series
    forecast: dict
    forecast_history: pd.Series
    advice_cut: bool


def dashboard_tables(query: CostQuery) -> Dashboard:
    """The period's rows are read once, by day, team and model, and every grouping of them is summed
    from that frame (as ``cost_analytics.cost_by`` would sum them from the rows it reads itself)."""
    period = cost_analytics.rows(query, ["day", "team", "model"])
    advice, cut = cost_analytics.savings_advice(query)
    start = forecast_from(query)
    history = cost_analytics.forecast_history(start)
    answer = forecast_answer(start, history=history)
    tables = {
        "by-team": rollups.cost_by(period, ["team"]),
        "by-model": rollups.cost_by(period, ["model"]),
        "by-day": rollups.trend(period, "day", ["team"]),
        "budgets": TABLES["budgets"](query),
        "forecast": cost_exports.forecast_frame(answer),
        "recommendations": cost_exports.recommendations_frame(advice),
    }
    return Dashboard(tables, rollups.cost_by(period, []).iloc[0], answer, daily_totals(history), cut)


def _figures(row) -> dict[str, Any]:
    return {
        "cost": money(row["cost"]),
        "gpu_hours": hours(row["gpu_hours"]),
        "job_count": int(row["job_count"]),
        "provisional_cost": money(row["provisional_cost"])
        if cost_exports.cents(row["provisional_cost"])
        else "",
        "unpriced_gpu_hours": hours(row["unpriced_gpu_hours"]) if round(row["unpriced_gpu_hours"], 2) else "",
    }


def _grouped_rows(frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    return [{"name": row[column], **_figures(row)} for _, row in frame.iterrows()]


def _budget_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for row in frame.itertuples():
        share = None if pd.isna(row.share_used) else float(row.share_used)
        budget = None if pd.isna(row.budget_usd) else float(row.budget_usd)
        projected_share = row.projected / budget if budget else None
        rows.append(
            {
                "team_name": row.team_name,
                "budget": money(budget),
                "has_budget": budget is not None,
                "spent": money(row.spent),
                "remaining": money(row.remaining),
                "share": f"{share:.1%}" if share is not None else "—",
                "gauge": min(round(share * 100, 1), 100) if share is not None else 0,
                "projected": money(row.projected),
                "projected_share": f"{projected_share:.1%}" if projected_share is not None else "",
                "daily_mean": money(row.daily_mean),
                "days_left": int(row.days_left),
                "status": row.status,
                "status_label": STATUS_LABELS.get(row.status, row.status),
            }
        )
    return rows


def _advice_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "team_name": row["team_name"] if isinstance(row["team_name"], str) else None,  # shared capacity
            "savings": money(row["savings_usd"]) if pd.notna(row["savings_usd"]) else "",
            "at_stake": money(row["at_stake_usd"]) if pd.notna(row["at_stake_usd"]) else "",
        }
        for row in frame.to_dict("records")
    ]


def _days(query: CostQuery) -> list[pd.Timestamp]:
    return list(pd.date_range(query.start, query.end, freq="D"))


def _by_day(query: CostQuery, frame: pd.DataFrame) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Cost per day, one series per team (days without cost drawn as $0), and the same figures as a
    table: one row per day with a cost, one column per team, the day's total rounded once."""
    days = _days(query)
    pivot = frame.pivot_table(index="day", columns="team_name", values="cost", aggfunc="sum")
    order = list(frame.groupby("team_name")["cost"].sum().sort_values(ascending=False).index)
    pivot = pivot.reindex(index=days, columns=order).fillna(0.0)
    chart = {
        "labels": [f"{day:%Y-%m-%d}" for day in days],
        "series": [{"label": team, "values": [cost_exports.cents(v) for v in pivot[team]]} for team in order],
    }
    rows = [
        {"day": f"{day:%Y-%m-%d}", "costs": [money(v) for v in values], "total": money(sum(values))}
        for day, values in zip(days, pivot.to_numpy().tolist(), strict=True)
        if any(values)
    ]
    return chart, rows


def _forecast_chart(answer: dict, start: date, history: pd.Series) -> dict[str, Any]:
    """The history the forecast was fitted on (a line), then the forecast with its band (``history``:
    the cost per day the forecast read)."""
    if not answer["available"]:
        return {}
    history_start = start - timedelta(days=answer["history_days"])
    by_day = history.to_dict()
    past = list(pd.date_range(history_start, start - timedelta(days=1), freq="D"))
    ahead = [point["day"] for point in answer["days"]]
    gap = [None] * len(ahead)
    return {
        "labels": [f"{day:%Y-%m-%d}" for day in past] + [f"{day}" for day in ahead],
        "history": [cost_exports.cents(by_day.get(day, 0.0)) for day in past] + gap,
        "forecast": [None] * len(past) + [point["forecast"] for point in answer["days"]],
        "lower": [None] * len(past) + [point["lower"] for point in answer["days"]],
        "upper": [None] * len(past) + [point["upper"] for point in answer["days"]],
    }


# -- the pages ----------------------------------------------------------------------------------------


def _form_context(filters: Filters) -> dict[str, Any]:
    return {
        "filters": filters,
        "providers": records.PROVIDERS,
        "gpu_types": records.GPU_TYPES,
    }


def _latest_period(query: CostQuery, membership) -> dict[str, str] | None:
    """The last ``DEFAULT_DAYS`` days with jobs, offered when the asked period has none."""
    latest = GpuJob.objects.visible_to(membership).aggregate(start=Max("start_time"), end=Max("end_time"))
    moments = [moment for moment in latest.values() if moment is not None]
    if not moments:
        return None
    last = min(max(moments).date(), timezone.now().date())
    start = last - timedelta(days=DEFAULT_DAYS - 1)
    if start == query.start and last == query.end:
        return None
    return {"start": f"{start}", "end": f"{last}"}


def dashboard(request):
    filters = read_filters(request)
    context = _form_context(filters)
    if not GpuJob.objects.visible_to(request.membership).exists():
        return render(request, "analysis/costs/dashboard.html", {**context, "no_jobs": True})
    if filters.query is None:
        return render(request, "analysis/costs/dashboard.html", context, status=400)
    context.update(_dashboard(filters.query), runyard_usage=_runyard_usage(request.tenant, filters.query))
    if not context["total"]["job_count"] and not context["total"]["gpu_hours"]:
        latest = _latest_period(filters.query, request.membership)
        if latest:
            values = {**filters.values, **latest}
            context["latest"] = {**latest, "querystring": urlencode(values)}
    return render(request, "analysis/costs/dashboard.html", context)


def _runyard_usage(tenant, query: CostQuery) -> dict[str, Any]:
    """Runyard's own bill for the month of the period's end (worksets, storage, …; the usage ledger,
    measured or estimated per line), shown beside the external GPU jobs."""
    summary = month_summary(tenant, as_of(query))
    bases = {category.basis for category in summary.categories}
    basis = bases.pop() if len(bases) == 1 else ("mixed" if bases else "measured")
    return {
        "month": summary.month,
        "total": money(summary.total),
        "basis": basis,
        "error": summary.pricing_error,
    }


def _dashboard(query: CostQuery) -> dict[str, Any]:
    read = dashboard_tables(query)
    tables, answer, total = read.tables, read.forecast, read.total
    by_day, by_day_rows = _by_day(query, tables["by-day"])
    chart_data = {
        "by_day": by_day,
        "by_model": {
            "labels": list(tables["by-model"]["model_name"]),
            "values": [cost_exports.cents(v) for v in tables["by-model"]["cost"]],
        },
        "forecast": _forecast_chart(answer, forecast_from(query), read.forecast_history),
    }
    return {
        "query": query,
        "total": total,
        "total_text": _figures(total),
        "by_team": _grouped_rows(tables["by-team"], "team_name"),
        "by_model": _grouped_rows(tables["by-model"], "model_name"),
        "by_day_teams": [series["label"] for series in by_day["series"]],
        "by_day": by_day_rows,
        "budgets": _budget_rows(tables["budgets"]),
        "as_of": as_of(query),
        "forecast": answer,
        "forecast_rows": [
            {**point, "text": [money(point[k]) for k in ("forecast", "lower", "upper")]}
            for point in answer["days"]
        ],
        "forecast_total": {
            key: money((answer["total"] or {}).get(key)) for key in ("total", "lower", "upper")
        },
        "advice": _advice_rows(tables["recommendations"]),
        "advice_cut": read.advice_cut,
        "chart_data": chart_data,
    }


def get_team_for_user(request, name: str) -> Team:
    return get_object_or_404(Team.objects.visible_to(request.membership), name=name)


def team_tables(query: CostQuery, team: Team) -> dict[str, pd.DataFrame]:
    """The team page's tables: its cost by model, its budget row and its jobs in the period."""
    mine = replace(query, teams=(team.name,))
    budgets = cost_analytics.budget_burn(as_of(query))
    jobs = cost_analytics.job_costs(mine, limit=JOBS_SHOWN)
    jobs = jobs.assign(provisional=jobs["status"].isin(OPEN_STATUSES))
    columns = [
        "job_id", "model_name", "provider", "gpu_type", "gpu_count", "start_time", "end_time", "status",
        "gpu_hours", "cost", "provisional", "provisional_cost", "unpriced_gpu_hours",
    ]  # fmt: skip
    return {
        "by-model": cost_analytics.cost_by(mine, ["model"]),
        "budget": budgets.loc[budgets["team_name"] == team.name],
        "jobs": jobs[columns],
    }


def _job_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "start": row["start_time"],
            "end": row["end_time"] if pd.notna(row["end_time"]) else None,
            "gpu_hours_text": hours(row["gpu_hours"]),
            "cost_text": money(row["cost"]),
        }
        for row in frame.to_dict("records")
    ]


def team(request, name: str):
    item = get_team_for_user(request, name)
    filters = read_filters(request)
    context = {**_form_context(filters), "team": item}
    if filters.query is None:
        return render(request, "analysis/costs/team.html", context, status=400)
    query = replace(filters.query, teams=(item.name,))
    tables = team_tables(filters.query, item)
    context.update(
        {
            "query": query,
            "total_text": _figures(cost_analytics.cost_by(query, []).iloc[0]),
            "by_model": _grouped_rows(tables["by-model"], "model_name"),
            "budgets": _budget_rows(tables["budget"]),
            "as_of": as_of(query),
            "jobs": _job_rows(tables["jobs"]),
            "jobs_cut": len(tables["jobs"]) >= JOBS_SHOWN,
            "chart_data": {
                "by_model": {
                    "labels": list(tables["by-model"]["model_name"]),
                    "values": [cost_exports.cents(v) for v in tables["by-model"]["cost"]],
                }
            },
        }
    )
    return render(request, "analysis/costs/team.html", context)


# -- downloads ----------------------------------------------------------------------------------------


class BadFilters(Exception):
    """A download's filters are not valid: there is no form to show the errors on, so they are said."""


def _valid_query(request) -> CostQuery:
    filters = read_filters(request)
    if filters.query is None:
        raise BadFilters(
            "; ".join(f"{key}: {' '.join(problems)}" for key, problems in filters.errors.items())
        )
    return filters.query


def _download(view):
    """Answer 400 with the filters' problems in plain text when a download's filters are bad."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadFilters as error:
            return HttpResponseBadRequest(f"Bad filters: {error}", content_type="text/plain; charset=utf-8")

    return wraps(view)(wrapped)


def _stem(query: CostQuery, what: str) -> str:
    """A file name safe in a header and on any disk."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"costs-{what}-{query.start}-{query.end}")


@_download
def export_workbook(request):
    query = _valid_query(request)
    tables = dashboard_tables(query).tables
    sheets = {TABLE_NAMES[key]: frame for key, frame in tables.items()}
    return cost_exports.attachment(sheets, "xlsx", _stem(query, "dashboard"))


@_download
def export_table(request, table: str):
    if table not in TABLE_NAMES:
        raise Http404("No such table.")
    query = _valid_query(request)
    frame = TABLES[table](query)
    return cost_exports.attachment({TABLE_NAMES[table]: frame}, "csv", _stem(query, table))


@_download
def export_team(request, name: str, fmt: str):
    item = get_team_for_user(request, name)
    if fmt not in cost_exports.FORMATS:
        raise Http404("Use .csv or .xlsx.")
    query = _valid_query(request)
    tables = team_tables(query, item)
    stem = _stem(query, f"team-{item.name}")
    if fmt == "csv":
        return cost_exports.attachment({"Jobs": tables["jobs"]}, "csv", stem + "-jobs")
    sheets = {"Cost by model": tables["by-model"], "Budget": tables["budget"], "Jobs": tables["jobs"]}
    return cost_exports.attachment(sheets, "xlsx", stem)
