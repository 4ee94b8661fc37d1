"""Budget burn per team: month-to-date spend against a monthly budget, and where the month will end.

Budgets are **monthly**, in US dollars: a team's ``budget_usd`` is what it may spend in one calendar
month (UTC). For ``today`` (a UTC date), with M = the 1st of today's month:

``spent``         Σ cost of the rollup rows of the team with M ≤ day ≤ today (today included, even if
                  the day is not over; running jobs' provisional cost included, as it is in rollups).
``remaining``     budget_usd − spent (negative once the budget is overspent); None without a budget.
``share_used``    spent / budget_usd (1.0 = the whole budget); None without a budget or with a $0 one.
``daily_mean``    mean daily cost of the last 7 days up to today, within the month: the window is
                  [max(M, today − 6 days), today], so on the 3rd of a month it has 3 days. Days with
                  no rows count as $0.
``days_left``     days of the month after today (0 on its last day).
``projected``     spent + daily_mean × days_left: the month-end spend if the last week's pace holds.
``status``        ``no_budget`` (budget None), else ``over`` (spent > budget), else ``at_risk``
                  (projected > budget), else ``ok``.

Rows come for every team of ``budgets`` and every team with cost this month, sorted by team name.
Each rollup row belongs to one team, so the ``spent`` column sums to the month-to-date total of all
teams (nothing double-counted). Figures are floats in US dollars, not rounded.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

OK, AT_RISK, OVER, NO_BUDGET = "ok", "at_risk", "over", "no_budget"
PACE_DAYS = 7
BUDGET_COLUMNS = (
    "team_name",
    "budget_usd",
    "spent",
    "remaining",
    "share_used",
    "daily_mean",
    "days_left",
    "projected",
    "status",
)


def month_bounds(today: date) -> tuple[date, date]:
    """The first and last day of ``today``'s month."""
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def _team_sums(rollups: pd.DataFrame, start: date, end: date) -> pd.Series:
    days = rollups["day"]
    inside = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    return rollups.loc[inside].groupby("team_name")["cost"].sum()


def status_of(budget: float | None, spent: float, projected: float) -> str:
    """The burn status of one team (see the module docstring for the rule)."""
    if budget is None:
        return NO_BUDGET
    if spent > budget:
        return OVER
    return AT_RISK if projected > budget else OK


def _row(team: str, budget: Decimal | None, spent: float, daily_mean: float, days_left: int) -> dict:
    amount = None if budget is None else float(budget)
    projected = spent + daily_mean * days_left
    return {
        "team_name": team,
        "budget_usd": amount,
        "spent": spent,
        "remaining": None if amount is None else amount - spent,
        "share_used": spent / amount if amount else None,
        "daily_mean": daily_mean,
        "days_left": days_left,
        "projected": projected,
        "status": status_of(amount, spent, projected),
    }


def budget_burn(rollups: pd.DataFrame, budgets: Mapping[str, Decimal | None], *, today: date) -> pd.DataFrame:
    """One row per team with ``BUDGET_COLUMNS``: spend this month against its monthly budget."""
    first, last = month_bounds(today)
    pace_start = max(first, today - timedelta(days=PACE_DAYS - 1))
    pace_days = (today - pace_start).days + 1
    spent = _team_sums(rollups, first, today)
    pace = _team_sums(rollups, pace_start, today)
    teams = sorted(set(budgets) | set(spent.index))
    rows = [
        _row(
            team,
            budgets.get(team),
            float(spent.get(team, 0.0)),
            float(pace.get(team, 0.0)) / pace_days,
            (last - today).days,
        )
        for team in teams
    ]
    return pd.DataFrame(rows, columns=list(BUDGET_COLUMNS))
