"""GPU costs for the assistant: cost by any grouping over a period, this month's budget burn per team,
and the next 30 days' forecast. The same ``analysis.cost_analytics`` calls and rounding (half-up cents)
as ``/api/v1/analytics/…``; parameters are checked by the API's own serializer."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from analysis.api.cost_serializers import GROUP_KEYS, GroupedQuerySerializer
from analysis.cost_answers import budget_answer, cost_answer, forecast_answer
from chat.tools.base import MAX_ITEMS, ToolContext, ToolError, ToolResult, link, tool

DATE = {"type": ["string", "null"], "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
DEFAULT_DAYS = 7


def money(value) -> str:
    return "—" if value is None else f"${value:,.2f}"


@tool(
    "cost_by",
    "What the tenant's GPU jobs cost (US dollars, prorated per UTC day at the tenant's rates), GPU-hours "
    "and jobs, per team, model, provider, GPU type, day, week or month. Default: the last 7 full days.",
    {
        "properties": {
            "group_by": {
                "type": "array",
                "items": {"enum": list(GROUP_KEYS)},
                "uniqueItems": True,
                "maxItems": 3,
                "default": ["team"],
            },
            "start": {**DATE, "description": "First UTC day, YYYY-MM-DD."},
            "end": {**DATE, "description": "Last UTC day, inclusive."},
            "provider": {"type": ["string", "null"], "maxLength": 40},
            "gpu_type": {"type": ["string", "null"], "maxLength": 40},
        }
    },
)
def cost_by(ctx: ToolContext, group_by=("team",), start=None, end=None, provider=None, gpu_type=None):
    group_by = list(group_by)
    end = end or (None if start else f"{ctx.today - timedelta(days=1)}")
    start = start or f"{(pd.Timestamp(end) - pd.Timedelta(days=DEFAULT_DAYS - 1)).date()}"
    given = {
        "start": start,
        "end": end,
        "group_by": ",".join(group_by),
        "provider": provider,
        "gpu_type": gpu_type,
    }
    serializer = GroupedQuerySerializer(data={key: value for key, value in given.items() if value})
    if not serializer.is_valid():
        raise ToolError(_problems(serializer.errors))
    query = serializer.query()
    answer = cost_answer(query, group_by)
    groups, total = answer["groups"], answer["total"]
    data = {
        **answer,
        "period": {"start": f"{query.start}", "end": f"{query.end}"},
        "groups": groups[:MAX_ITEMS],
    }
    lines = [
        f"GPU cost {query.start} to {query.end} (UTC days, prorated per day): **{money(total['cost'])}**, "
        f"{total['gpu_hours']:,} GPU-hours, {total['job_count']} jobs started."
    ]
    for group in groups[:20]:
        name = ", ".join(group["group"].values()) or "all"
        lines.append(
            f"- {name}: {money(group['cost'])}, {group['gpu_hours']:,} GPU-hours, {group['job_count']} jobs"
        )
    if total["provisional_cost"]:
        lines.append(f"{money(total['provisional_cost'])} of it is provisional (jobs still running).")
    if total["unpriced_gpu_hours"]:
        lines.append(f"{total['unpriced_gpu_hours']:,} GPU-hours had no rate and are not in the cost.")
    if not groups:
        lines = [f"No GPU jobs ran from {query.start} to {query.end}."]
    filters = {"start": f"{query.start}", "end": f"{query.end}", "provider": provider, "gpu_type": gpu_type}
    return ToolResult(
        "cost_by",
        {},
        data,
        "\n".join(lines),
        (link("Costs", "costs", query=filters),),
        len(groups) > MAX_ITEMS,
    )


@tool(
    "budget_burn",
    "Each team's GPU spend this month against its monthly budget, and the month-end projection.",
    {},
)
def budget_burn(ctx: ToolContext):
    answer = budget_answer(ctx.today)
    teams = answer["teams"]
    data = {**answer, "today": f"{ctx.today}"}
    lines = [
        f"Budgets of {ctx.today:%B %Y} up to {ctx.today} (projection estimated at the last 7 days' pace):"
    ]
    lines += [
        f"- {t['team_name']}: spent {money(t['spent'])} of {money(t['budget_usd'])}"
        + (f" ({t['share_used'] * 100:.1f} %)" if t["share_used"] is not None else "")
        + f", projected {money(t['projected'])} by month end — {t['status'].replace('_', ' ')}"
        for t in teams
    ]
    if not teams:
        lines = ["No teams have GPU costs or budgets yet."]
    first = ctx.today.replace(day=1)
    page = link("Costs this month", "costs", query={"start": f"{first}", "end": f"{ctx.today}"})
    return ToolResult("budget_burn", {}, data, "\n".join(lines), (page,))


@tool("cost_forecast", "The forecast GPU cost of the next 30 days with an approximate 95 % band.", {})
def cost_forecast(ctx: ToolContext):
    answer = forecast_answer(ctx.today)
    data = {
        **{key: value for key, value in answer.items() if key != "days"},
        "days": [{**day, "day": f"{day['day']}"} for day in answer["days"]],
    }
    if data["total"]:
        data["total"] = {
            **data["total"],
            "start": f"{data['total']['start']}",
            "end": f"{data['total']['end']}",
        }
    if not answer["available"]:
        text = f"No forecast yet: {answer['reason']}"
    else:
        total = answer["total"]
        text = (
            f"Forecast GPU cost {total['start']} to {total['end']}: **{money(total['total'])}** "
            f"(95 % band {money(total['lower'])} – {money(total['upper'])}), from {answer['history_days']} "
            f"days of history ({answer['method']})."
        )
    return ToolResult("cost_forecast", {}, data, text, (link("Costs", "costs"),))


def _problems(errors: dict) -> str:
    return " ".join(f"{field}: {' '.join(str(p) for p in problems)}" for field, problems in errors.items())
