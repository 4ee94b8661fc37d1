"""Daily rollups of prorated job costs, and cost by team, model or any group over a period.

A rollup row sums the ``daily_costs`` rows (one per job and UTC day) of one
(``day``, ``team_name``, ``model_name``, ``provider``, ``gpu_type``):

``gpu_hours``           GPU-hours run that day (priced or not).
``cost``                US dollars: Σ gpu_hours × that day's rate, over the priced rows only.
``unpriced_gpu_hours``  GPU-hours of that day with no rate for its (provider, gpu_type): shown, never $0.
``provisional_cost``    the part of ``cost`` from jobs still running (it will grow).
``jobs_started``        jobs whose first day is this day, so a job spanning days is counted once.

Every job-day row lands in exactly one rollup row and every group answer is a plain sum of rollup
rows, so the cost by team, the cost by model and the total over the same period and filters are
equal, and no GPU-hour is charged to two teams (Heliox charged each team that touched a GPU type
the whole daily bill of that type, so its totals double-counted).

Rollups of disjoint sets of jobs combine by summing (``merge_rollups``); this is what lets a caller
maintain them incrementally: recompute the rows of the jobs and days that changed and replace them.

Periods are inclusive UTC days [start, end]. ``job_count`` in an answer is the number of jobs that
started in the period (a job that began before it still adds the cost it ran inside it). Group keys
are the rollup columns plus ``team``/``model`` (aliases) and ``week``/``month`` (the Monday, or the
first day of the month, of ``day``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd

ROLLUP_KEYS = ("day", "team_name", "model_name", "provider", "gpu_type")
MEASURES = ("gpu_hours", "cost", "unpriced_gpu_hours", "provisional_cost", "jobs_started")
GROUP_ALIASES = {
    "team": "team_name",
    "model": "model_name",
    **{key: key for key in ROLLUP_KEYS},
    "week": "week",
    "month": "month",
}
ANSWER_MEASURES = ("cost", "gpu_hours", "job_count", "unpriced_gpu_hours", "provisional_cost")


class CostTotal(NamedTuple):
    cost: float  # US dollars
    gpu_hours: float
    job_count: int
    unpriced_gpu_hours: float
    provisional_cost: float


def rollup(daily: pd.DataFrame) -> pd.DataFrame:
    """Sum ``daily_costs`` rows into one row per ``ROLLUP_KEYS`` with ``MEASURES``, sorted by key."""
    priced = daily["rate"].notna().to_numpy()
    cost = daily["cost"].fillna(0.0).to_numpy()
    measures = pd.DataFrame(
        {
            "gpu_hours": daily["gpu_hours"].to_numpy(),
            "cost": cost,
            "unpriced_gpu_hours": np.where(priced, 0.0, daily["gpu_hours"].to_numpy()),
            "provisional_cost": np.where(daily["provisional"].to_numpy(dtype=bool), cost, 0.0),
            "jobs_started": daily["started"].to_numpy(dtype="int64"),
        }
    )
    keyed = pd.concat([daily[list(ROLLUP_KEYS)].reset_index(drop=True), measures], axis=1)
    return _summed(keyed, list(ROLLUP_KEYS))


def merge_rollups(*rollups: pd.DataFrame) -> pd.DataFrame:
    """One rollup from rollups of disjoint sets of jobs (e.g. two ingestion batches)."""
    return _summed(pd.concat(rollups, ignore_index=True), list(ROLLUP_KEYS))


def _summed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, sort=True, observed=True, dropna=False).sum(numeric_only=True).reset_index()


def group_columns(group_by: Iterable[str]) -> list[str]:
    """The rollup columns named by ``group_by`` (aliases resolved), or ValueError naming the allowed keys."""
    columns = []
    for key in group_by:
        column = GROUP_ALIASES.get(key.strip().lower())
        if column is None:
            raise ValueError(f"cannot group by {key!r}: use one of {', '.join(GROUP_ALIASES)}")
        if column not in columns:
            columns.append(column)
    return columns


def _matching(values: pd.Series, wanted: str | Iterable[str] | None) -> np.ndarray | bool:
    if wanted is None:
        return True
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    return values.isin(wanted).to_numpy()


def select(
    rollups: pd.DataFrame,
    *,
    start: date | None = None,
    end: date | None = None,
    team: str | Iterable[str] | None = None,
    model: str | Iterable[str] | None = None,
    provider: str | Iterable[str] | None = None,
    gpu_type: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """The rollup rows of days in [start, end] (inclusive, UTC) matching every filter given."""
    keep = np.ones(len(rollups), dtype=bool)
    if start is not None:
        keep &= (rollups["day"] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (rollups["day"] <= pd.Timestamp(end)).to_numpy()
    for column, wanted in (
        ("team_name", team),
        ("model_name", model),
        ("provider", provider),
        ("gpu_type", gpu_type),
    ):
        if wanted is not None:
            keep &= _matching(rollups[column], wanted)
    return rollups.loc[keep]


def _with_periods(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    if "week" in columns:
        rows = rows.assign(week=rows["day"] - pd.to_timedelta(rows["day"].dt.day_of_week, unit="D"))
    if "month" in columns:
        rows = rows.assign(month=rows["day"].dt.to_period("M").dt.start_time.astype(rows["day"].dtype))
    return rows


def cost_by(rollups: pd.DataFrame, group_by: Sequence[str], **filters) -> pd.DataFrame:
    """Cost, GPU-hours and job count per group over a period, most expensive first.

    ``group_by`` names keys (``team``, ``model``, ``provider``, ``gpu_type``, ``day``, ``week``,
    ``month``…); an empty one gives a single total row. ``filters`` are those of ``select``.
    Columns: the group columns, then ``ANSWER_MEASURES``.
    """
    columns = group_columns(group_by)
    rows = _with_periods(select(rollups, **filters), columns)
    rows = rows.rename(columns={"jobs_started": "job_count"})
    measures = list(ANSWER_MEASURES)
    if not columns:
        return pd.DataFrame([rows[measures].sum()]).astype({"job_count": "int64"})
    answer = rows.groupby(columns, observed=True, dropna=False)[measures].sum().reset_index()
    answer = answer.sort_values(["cost", *columns], ascending=[False, *[True] * len(columns)])
    return answer.reset_index(drop=True)


def cost_by_team(rollups: pd.DataFrame, **filters) -> pd.DataFrame:
    """Heliox's ``/analytics/cost/by-team``, exact: one row per team, most expensive first."""
    return cost_by(rollups, ["team"], **filters)


def cost_by_model(rollups: pd.DataFrame, **filters) -> pd.DataFrame:
    """Heliox's ``/analytics/cost/by-model``, exact: one row per model, most expensive first."""
    return cost_by(rollups, ["model"], **filters)


def period_total(rollups: pd.DataFrame, **filters) -> CostTotal:
    """The total over a period and filters (equal to the sum of any ``cost_by`` answer on them)."""
    row = cost_by(rollups, [], **filters).iloc[0]
    return CostTotal(
        float(row["cost"]),
        float(row["gpu_hours"]),
        int(row["job_count"]),
        float(row["unpriced_gpu_hours"]),
        float(row["provisional_cost"]),
    )


def trend(
    rollups: pd.DataFrame, period: str = "day", group_by: Sequence[str] = (), **filters
) -> pd.DataFrame:
    """Cost per ``day``, ``week`` or ``month`` (optionally also per group), in time order."""
    if period not in ("day", "week", "month"):
        raise ValueError(f"period must be day, week or month, got {period!r}")
    answer = cost_by(rollups, [period, *group_by], **filters)
    return answer.sort_values(group_columns([period, *group_by])).reset_index(drop=True)
