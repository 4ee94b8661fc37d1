"""The questions the cost dashboard, the API and the chat ask of a tenant's GPU jobs.

Rows come from the tenant's own schema (the request's or task's connection, never another one) as
DataFrames shaped like ``analysis.costs.rollups.rollup`` output, and the pure functions of
``analysis.costs`` answer on them, so the figures are the ones the pure tests check by hand.

Two paths give the same rows:

- **rollups** (the default): ``CostRollup`` holds closed jobs per (day, team, model, provider, GPU
  type), summed in SQL for the asked grouping; open jobs (pending, running) are added by the raw path,
  prorated to ``now`` and marked provisional. A month of cost by team at 10M jobs reads a few thousand
  rollup rows.
- **raw**: the proration of ``analysis.costs.proration`` written in SQL over ``GpuJob`` (one row per
  job and UTC day through ``generate_series``, joined to that day's rate). It serves filters a rollup
  cannot (``status``) and is what the rollups are checked against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from analysis.costs import budget, forecast, proration, recommendations, rollups
from analysis.costs.records import OPEN_STATUSES, STATUSES
from analysis.models import CostRollup, GpuJob, RateSnapshot, Team

STORED_KEYS = {"day", "team_name", "model_name", "provider", "gpu_type"}
MEASURE_COLUMNS = ["gpu_hours", "cost", "unpriced_gpu_hours", "provisional_cost", "jobs_started"]
HISTORY_DAYS = 56  # the forecast's history: eight weeks
ADVICE_MAX_JOBS = 200_000  # savings advice reads job by job; beyond this the newest are kept
ADVICE_CACHE_SECONDS = 600
ADVICE_VERSION = 1  # raise when ``analysis.costs.recommendations`` changes what it answers on the same inputs
CLOSED_STATUSES = tuple(status for status in STATUSES if status not in OPEN_STATUSES)
_SQL_COLUMN = {
    "job_id": "job_id",
    "day": "day",
    "team_id": "team_id",
    "team_name": "team_name",
    "model_name": "model_name",
    "provider": "provider",
    "gpu_type": "gpu_type",
}


@dataclass(frozen=True)
class CostQuery:
    """A period of UTC days [start, end] and filters; an empty filter tuple means all."""

    start: date
    end: date
    teams: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    gpu_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    now: datetime = field(default_factory=timezone.now)

    @property
    def needs_raw(self) -> bool:
        """Rollups do not keep a job's status: a status filter is answered from the jobs."""
        return bool(self.statuses)


def _columns(group_by: Sequence[str]) -> list[str]:
    """The stored columns a grouping needs (week and month are computed from day)."""
    columns = rollups.group_columns(group_by)
    needed = [c for c in columns if c in STORED_KEYS]
    if any(c in ("week", "month") for c in columns) and "day" not in needed:
        needed.append("day")
    return needed


def _filters(query: CostQuery, *, team: str, job: str) -> tuple[str, dict]:
    """`` AND …`` clauses for the query's filters, with their named parameters."""
    clauses, params = [], {}
    for name, values, column in (
        ("teams", query.teams, f"{team}.name"),
        ("models", query.models, f"{job}.model_name"),
        ("providers", query.providers, f"{job}.provider"),
        ("gpu_types", query.gpu_types, f"{job}.gpu_type"),
    ):
        if values:
            clauses.append(f" AND {column} = ANY(%({name})s)")
            params[name] = list(values)
    return "".join(clauses), params


def _frame(sql: str, params: dict, columns: list[str]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        frame = pd.DataFrame(cursor.fetchall(), columns=[*columns, *MEASURE_COLUMNS])
    for column in MEASURE_COLUMNS:
        frame[column] = frame[column].astype("int64" if column == "jobs_started" else "float64")
    if "day" in columns:
        frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
    return frame


def _select_list(columns: list[str], alias: str) -> str:
    return ", ".join(f"{alias}.{_SQL_COLUMN[c]}" for c in columns)


def stored_rows(query: CostQuery, columns: list[str]) -> pd.DataFrame:
    """Closed jobs' figures from ``CostRollup``, summed in SQL by ``columns``."""
    filters, params = _filters(query, team="t", job="r")
    keys = _select_list(columns, "k")
    # Only whitelisted column names and model table names are formatted in; values are parameters.
    sql = f"""
        SELECT {keys + "," if keys else ""} SUM(k.gpu_hours), SUM(k.cost), SUM(k.unpriced_gpu_hours), 0.0,
               SUM(k.jobs_started)
        FROM (SELECT r.day, t.name AS team_name, r.model_name, r.provider, r.gpu_type, r.gpu_hours, r.cost,
                     r.unpriced_gpu_hours, r.jobs_started
              FROM {CostRollup._meta.db_table} r JOIN {Team._meta.db_table} t ON t.id = r.team_id
              WHERE r.day BETWEEN %(start)s AND %(end)s {filters}) k
        {"GROUP BY " + keys if keys else ""}
        {"HAVING COUNT(*) > 0" if not keys else ""}
    """  # noqa: S608
    return _frame(sql, {"start": query.start, "end": query.end, **params}, columns)


# One row per (job, UTC day it ran), as proration.run_interval and proration.daily_costs define them.
_JOB_DAYS = """
    WITH jobs AS (
        SELECT j.job_id, j.team_id, t.name AS team_name, j.model_name, j.provider, j.gpu_type, j.gpu_count,
               j.status IN ('pending', 'running') AS provisional,
               j.start_time AT TIME ZONE 'UTC' AS s,
               CASE j.status
                   WHEN 'pending' THEN j.start_time
                   WHEN 'running' THEN GREATEST(LEAST(COALESCE(j.end_time, %(now)s), %(now)s), j.start_time)
                   ELSE j.end_time
               END AT TIME ZONE 'UTC' AS e
        FROM {jobs} j JOIN {teams} t ON t.id = j.team_id
        WHERE j.start_time < %(until)s AND (j.end_time IS NULL OR j.end_time > %(since)s) {filters}
    ),
    job_days AS (
        SELECT jobs.*, d::date AS day, d = date_trunc('day', s) AS started,
               -- date_part is float8 (EXTRACT is numeric since PostgreSQL 14: ten times slower to sum)
               date_part('epoch', LEAST(e, d + INTERVAL '1 day') - GREATEST(s, d)) / 3600.0 * gpu_count
                   AS gpu_hours
        FROM jobs CROSS JOIN LATERAL generate_series(  -- the job's days inside the period only
            GREATEST(date_trunc('day', s), %(start)s::timestamp),
            LEAST(e, %(end)s::timestamp + INTERVAL '1 day') - INTERVAL '1 microsecond',
            INTERVAL '1 day') AS d
        WHERE e > s
    )
    SELECT {keys} SUM(x.gpu_hours),
           COALESCE(SUM(x.gpu_hours * x.rate) FILTER (WHERE x.rate IS NOT NULL), 0),
           COALESCE(SUM(x.gpu_hours) FILTER (WHERE x.rate IS NULL), 0),
           COALESCE(SUM(x.gpu_hours * x.rate) FILTER (WHERE x.rate IS NOT NULL AND x.provisional), 0),
           COUNT(*) FILTER (WHERE x.started)
    FROM (SELECT job_days.*, r.usd_per_gpu_hour::float8 AS rate
          FROM job_days LEFT JOIN {rates} r
            ON r.day = job_days.day AND r.provider = job_days.provider AND r.gpu_type = job_days.gpu_type
          WHERE job_days.day BETWEEN %(start)s AND %(end)s) x
    {group}
"""


def raw_sql(
    query: CostQuery, columns: list[str], *, statuses: Sequence[str] = (), job_ids: Sequence[str] = ()
) -> tuple[str, dict]:
    """The raw path's statement and parameters: per ``columns``, Σ gpu_hours, cost, unpriced_gpu_hours,
    provisional_cost and jobs started (``analysis.rollups.rebuild_rollups`` inserts it as it is)."""
    filters, params = _filters(query, team="t", job="j")
    if job_ids:
        filters += " AND j.job_id = ANY(%(job_ids)s)"
        params["job_ids"] = list(job_ids)
    wanted = tuple(statuses) or query.statuses
    if wanted:
        filters += " AND j.status = ANY(%(statuses)s)"
        params["statuses"] = list(wanted)
    keys = _select_list(columns, "x")
    sql = _JOB_DAYS.format(
        jobs=GpuJob._meta.db_table,
        teams=Team._meta.db_table,
        rates=RateSnapshot._meta.db_table,
        filters=filters,
        keys=keys + "," if keys else "",
        group=f"GROUP BY {keys} HAVING COUNT(*) > 0" if keys else "HAVING COUNT(*) > 0",
    )
    return sql, params | {
        "now": query.now,
        "since": datetime.combine(query.start, time(), UTC),
        "until": datetime.combine(query.end + timedelta(days=1), time(), UTC),
        "start": query.start,
        "end": query.end,
    }


def raw_rows(
    query: CostQuery, columns: list[str], *, statuses: Sequence[str] = (), job_ids: Sequence[str] = ()
) -> pd.DataFrame:
    """Figures prorated in SQL straight from the jobs (every status or only ``statuses``; every job or
    only ``job_ids``)."""
    return _frame(*raw_sql(query, columns, statuses=statuses, job_ids=job_ids), columns)


def rows(query: CostQuery, group_by: Sequence[str]) -> pd.DataFrame:
    """Rollup-shaped rows grouped as ``group_by`` needs: stored closed jobs plus open jobs to now,
    or all from the jobs when a filter needs them."""
    columns = _columns(group_by)
    if query.needs_raw:
        return raw_rows(query, columns)
    return pd.concat(
        [stored_rows(query, columns), raw_rows(query, columns, statuses=OPEN_STATUSES)], ignore_index=True
    )


def cost_by(query: CostQuery, group_by: Sequence[str]) -> pd.DataFrame:
    """Cost, GPU-hours and job count per group over the query's period, most expensive first."""
    return rollups.cost_by(rows(query, group_by), group_by)


def total(query: CostQuery) -> rollups.CostTotal:
    return rollups.period_total(rows(query, []))


def trend(query: CostQuery, period: str = "day", group_by: Sequence[str] = ()) -> pd.DataFrame:
    return rollups.trend(rows(query, [period, *group_by]), period, group_by)


def team_budgets() -> dict[str, Decimal | None]:
    return dict(Team.objects.values_list("name", "budget_usd"))


def budget_burn(today: date) -> pd.DataFrame:
    """``budget.budget_burn`` for every team this month (monthly budgets, see its docstring)."""
    first, _ = budget.month_bounds(today)
    return budget.budget_burn(rows(CostQuery(first, today), ["day", "team"]), team_budgets(), today=today)


def forecast_history(today: date) -> pd.DataFrame:
    """The rows the forecast from ``today`` is fitted on: the ``HISTORY_DAYS`` days before it, by day."""
    return rows(CostQuery(today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1)), ["day"])


def cost_forecast(today: date, horizon: int = forecast.HORIZON_DAYS, history: pd.DataFrame | None = None):
    """The next ``horizon`` days' forecast from up to ``HISTORY_DAYS`` days before today: (days, total,
    days of history used). Raises ``forecast.NotEnoughHistory`` with fewer than 14 days of history.
    ``history``: ``forecast_history(today)`` already read, if the caller has it."""
    totals = forecast.daily_totals(forecast_history(today) if history is None else history)
    return (
        forecast.forecast(totals, horizon=horizon, today=today),
        forecast.forecast_total(totals, horizon=horizon, today=today),
        len(forecast.history(totals, today=today)),
    )


def _jobs_frame(query: CostQuery, *, limit: int) -> pd.DataFrame:
    """The jobs that ran in the period (newest first, at most ``limit``), as ``proration.jobs_frame``."""
    since = datetime.combine(query.start, time(), UTC)
    until = datetime.combine(query.end + timedelta(days=1), time(), UTC)
    jobs = GpuJob.objects.filter(start_time__lt=until).exclude(end_time__lte=since)
    for lookup, values in (
        ("team__name__in", query.teams),
        ("model_name__in", query.models),
        ("provider__in", query.providers),
        ("gpu_type__in", query.gpu_types),
        ("status__in", query.statuses),
    ):
        if values:
            jobs = jobs.filter(**{lookup: values})
    fields = ["job_id", "team__name", "model_name", "provider", "gpu_type", "gpu_count"]
    values = jobs.order_by("-start_time").values_list(*fields, "start_time", "end_time", "status")[:limit]
    frame = pd.DataFrame(list(values), columns=[*proration.JOB_COLUMNS])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"gpu_count": "int64"})


def _rates_frame(start: date, end: date) -> pd.DataFrame:
    rates = RateSnapshot.objects.filter(day__range=(start, end))
    frame = pd.DataFrame(
        list(rates.values_list("day", "provider", "gpu_type", "usd_per_gpu_hour")),
        columns=["day", "provider", "gpu_type", "rate"],
    )
    return frame.astype({"day": "datetime64[ns]", "rate": "float64"})


def savings_advice(query: CostQuery) -> tuple[list[recommendations.Recommendation], bool]:
    """``recommendations.recommendations`` over the period's jobs: (advice, whether the jobs were cut
    at ``ADVICE_MAX_JOBS``, the newest kept). Rates of the weeks around the period are read, so the
    cheapest day of a week is known at its edges.

    The jobs and rates are read on every call; the advice computed from them (hundreds of small pandas
    steps, most of the dashboard's time) is cached under a digest of exactly those inputs, so an
    ingest or a rate change that touches them gives a new key: a cached answer is never stale."""
    jobs = _jobs_frame(query, limit=ADVICE_MAX_JOBS + 1)
    cut = len(jobs) > ADVICE_MAX_JOBS
    jobs = jobs.iloc[:ADVICE_MAX_JOBS]
    rates = _rates_frame(query.start - timedelta(days=6), query.end + timedelta(days=6))
    key = _advice_key(query, jobs, rates)
    advice = cache.get(key)
    if advice is None:
        daily = proration.daily_costs(jobs, rates, now=query.now)
        inside = (daily["day"] >= pd.Timestamp(query.start)) & (daily["day"] <= pd.Timestamp(query.end))
        advice = recommendations.recommendations(daily[inside], jobs, rates, now=query.now)
        cache.set(key, advice, ADVICE_CACHE_SECONDS)
    return advice, cut


def _advice_key(query: CostQuery, jobs: pd.DataFrame, rates: pd.DataFrame) -> str:
    """A digest of everything the advice is computed from: the period, the jobs and rates as read, and
    ``now`` when a job is still open or has no end (the only jobs whose figures depend on it)."""
    depends_on_now = bool(jobs["status"].isin(OPEN_STATUSES).any() or jobs["end_time"].isna().any())
    digest = hashlib.sha256(f"{ADVICE_VERSION}|{query.start}|{query.end}".encode())
    if depends_on_now:
        digest.update(query.now.isoformat().encode())
    for frame in (jobs, rates):
        digest.update(f"{list(frame.columns)}|{len(frame)}".encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return f"cost-advice:{digest.hexdigest()}"


def job_costs(query: CostQuery, *, limit: int = 500) -> pd.DataFrame:
    """The period's jobs (newest first, at most ``limit``) with what each cost inside the period."""
    jobs = _jobs_frame(query, limit=limit)
    figures = raw_rows(query, ["job_id"], job_ids=list(jobs["job_id"]))
    return jobs.merge(figures, on="job_id", how="left").fillna({c: 0 for c in MEASURE_COLUMNS})


def last_days(today: date, days: int, **filters) -> CostQuery:
    """A query of the ``days`` UTC days ending with ``today``."""
    return CostQuery(start=today - timedelta(days=days - 1), end=today, **filters)


def with_period(query: CostQuery, start: date, end: date) -> CostQuery:
    return replace(query, start=start, end=end)
