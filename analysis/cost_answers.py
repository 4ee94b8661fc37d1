"""The cost answers as people read them, shared by the API, the pages and the chat tools: money in cents
(half up), GPU-hours to 4 places, groups most expensive first, budgets and the forecast labelled."""

from __future__ import annotations

import pandas as pd

from analysis import cost_analytics, cost_exports
from analysis.costs import forecast, rollups
from analysis.costs.export import cents


def figures(row) -> dict:
    return {
        "cost": cents(row["cost"]),
        "gpu_hours": round(float(row["gpu_hours"]), 4),
        "job_count": int(row["job_count"]),
        "unpriced_gpu_hours": round(float(row["unpriced_gpu_hours"]), 4),
        "provisional_cost": cents(row["provisional_cost"]),
    }


def label(value) -> str:
    return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value)


def period(query) -> dict:
    return {"start": query.start, "end": query.end}


def cost_answer(query, group_by: list[str], answer: pd.DataFrame | None = None) -> dict:
    """Cost per group as the API and the chat show it: each group's keys and figures, most expensive
    first, and their total (``answer``: ``cost_analytics.cost_by`` already read, if the caller has it)."""
    answer = cost_analytics.cost_by(query, group_by) if answer is None else answer
    columns = rollups.group_columns(group_by)
    groups = [
        {
            "group": {key: label(row[col]) for key, col in zip(group_by, columns, strict=True)},
            **figures(row),
        }
        for _, row in answer.iterrows()
    ]
    total = rollups.cost_by(answer.rename(columns={"job_count": "jobs_started"}), [])
    return {
        "period": period(query),
        "currency": "USD",
        "group_by": group_by,
        "source": "jobs" if query.needs_raw else "rollups",
        "total": figures(total.iloc[0]),
        "groups": groups,
    }


def budget_answer(today) -> dict:
    """Budget burn as the API, the chat and the pages show it: money in cents, shares to 4 places."""
    teams = [
        {
            "team_name": row.team_name,
            "budget_usd": cost_exports.cents(row.budget_usd),
            "spent": cents(row.spent),
            "remaining": cost_exports.cents(row.remaining),
            "share_used": None if pd.isna(row.share_used) else round(float(row.share_used), 4),
            "daily_mean": cents(row.daily_mean),
            "days_left": int(row.days_left),
            "projected": cents(row.projected),
            "status": row.status,
        }
        for row in cost_analytics.budget_burn(today).itertuples()
    ]
    return {"month": f"{today:%Y-%m}", "today": today, "currency": "USD", "teams": teams}


def forecast_answer(today, history: pd.DataFrame | None = None) -> dict:
    """The forecast as the API, the page and exports show it (``available`` False with the reason;
    ``history``: ``cost_analytics.forecast_history(today)`` already read, if the caller has it)."""
    answer = {"label": "forecast", "method": forecast.METHOD, "history_days": 0, "total": None, "days": []}
    try:
        days, total, history_days = cost_analytics.cost_forecast(today, history=history)
    except forecast.NotEnoughHistory as exc:
        return {**answer, "available": False, "reason": str(exc)}
    points = [
        {
            "day": row.day.date(),
            "forecast": cents(row.forecast),
            "lower": cents(row.lower),
            "upper": cents(row.upper),
        }
        for row in days.itertuples()
    ]
    summary = {
        "start": total.start,
        "end": total.end,
        "total": cents(total.total),
        "lower": cents(total.lower),
        "upper": cents(total.upper),
    }
    return {
        **answer,
        "available": True,
        "reason": "",
        "history_days": history_days,
        "total": summary,
        "days": points,
    }
