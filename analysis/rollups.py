"""Keeping ``CostRollup`` equal to the rollup of the stored closed jobs, incrementally.

``CostRollup`` holds, per (day, team, model, provider, GPU type), the prorated GPU-hours and cost of the
closed jobs (completed, failed, cancelled) that ran that day; open jobs never enter it (see
``analysis.models.costs``). Three ways in, all in the current tenant's schema, on Django's connection,
under the tenant's cost lock (a transaction-scoped advisory lock, so ingests and rate changes apply one
at a time and never interleave their deltas):

``apply_job_changes(old, new)``
    After a batch of jobs changed: adds ``rollup(new closed) − rollup(old closed)``. Each delta row is
    priced in SQL at the current ``RateSnapshot`` of its (day, provider, GPU type), or added to
    ``unpriced_gpu_hours`` when there is none. Rows left with no GPU-hours and no jobs are deleted.
``reprice(keys)``
    After rates of some (day, provider, GPU type) changed: every rollup row of those keys is priced
    again at the current rate (a deleted rate makes its hours unpriced again).
``rebuild_rollups()``
    Repair: recomputes the whole table from ``GpuJob`` and ``RateSnapshot`` in one SQL statement (the
    raw path of ``analysis.cost_analytics``). ``computed_rollups()`` gives the same rows by the pure
    pandas path (``analysis.costs.proration.daily_costs`` and ``analysis.costs.rollups.rollup``),
    independent of both SQL paths; the tests check all three agree.

``gpu_hours`` counts every GPU-hour of the row; ``unpriced_gpu_hours`` is the part with no rate (a row
is one day and one GPU type, so it is either wholly priced or wholly unpriced).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import pandas as pd
from django.db import connection, transaction

from analysis.costs.proration import daily_costs, rates_frame
from analysis.costs.rollups import rollup
from analysis.models import CostRollup, GpuJob, RateSnapshot

CLOSED = ("completed", "failed", "cancelled")
ZERO_HOURS = 1e-10  # float residue of adding and taking away the same hours; a microsecond is 2.8e-10
KEY = ["day", "team_id", "model_name", "provider", "gpu_type"]
REBUILD_CHUNK = 200_000
_NO_RATES = pd.DataFrame({"day": [], "provider": [], "gpu_type": [], "rate": []})


def array_cursor():
    """A cursor on Django's own connection (same transaction, same tenant schema) that sends parameters
    bound on the server: a 5 000-item array goes as binary, not quoted into the SQL text in Python."""
    import psycopg

    with connection.cursor():  # django-tenants sets the tenant's search_path when a cursor is made
        pass
    return psycopg.Cursor(connection.connection)


def lock_costs() -> None:
    """Serialise writers of this tenant's cost tables until the transaction ends (re-entrant)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}.costs"])


def _hours_by_key(jobs: pd.DataFrame) -> pd.DataFrame:
    """GPU-hours and jobs started per rollup key of the closed jobs among ``jobs`` (unpriced)."""
    closed = jobs[jobs["status"].isin(CLOSED)] if len(jobs) else jobs
    if not len(closed):
        return pd.DataFrame(columns=[*KEY, "gpu_hours", "jobs_started"])
    daily = daily_costs(closed.assign(team_name=closed["team_id"]), _NO_RATES, now=datetime.now(UTC))
    daily = daily.rename(columns={"team_name": "team_id"}).assign(
        jobs_started=daily["started"].astype("int64")
    )
    return daily.groupby(KEY, sort=False)[["gpu_hours", "jobs_started"]].sum().reset_index()


def job_deltas(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``rollup(new closed) − rollup(old closed)`` in GPU-hours and jobs started, non-zero rows only."""
    before, after = _hours_by_key(old), _hours_by_key(new)
    before[["gpu_hours", "jobs_started"]] *= -1
    delta = pd.concat([after, before], ignore_index=True)
    if not len(delta):
        return delta
    delta = delta.groupby(KEY, sort=True)[["gpu_hours", "jobs_started"]].sum().reset_index()
    return delta[(delta["gpu_hours"] != 0) | (delta["jobs_started"] != 0)]


def apply_job_changes(old: pd.DataFrame, new: pd.DataFrame) -> int:
    """Add the rollup of ``new`` minus the rollup of ``old`` (``jobs_frame`` columns plus ``team_id``:
    the previous and the new versions of the same jobs; a new job has no old row, a job whose team
    changed moves its hours). Returns the number of rollup keys touched."""
    delta = job_deltas(old, new)
    if not len(delta):
        return 0
    shrinking = delta[(delta["gpu_hours"] < 0) | (delta["jobs_started"] < 0)]
    with transaction.atomic():
        lock_costs()
        _add_deltas(_sql_columns(delta))
        if len(shrinking):  # only a row that lost hours or jobs can have become empty
            _delete_empty(_sql_columns(shrinking)[:5])
    return len(delta)


def _add_deltas(columns: list[list]) -> None:
    table, rates = CostRollup._meta.db_table, RateSnapshot._meta.db_table
    with array_cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS c
                (day, team_id, model_name, provider, gpu_type,
                 gpu_hours, cost, unpriced_gpu_hours, jobs_started)
            SELECT d.day, d.team_id, d.model_name, d.provider, d.gpu_type, d.gpu_hours,
                   COALESCE(d.gpu_hours * r.usd_per_gpu_hour::float8, 0),
                   CASE WHEN r.id IS NULL THEN d.gpu_hours ELSE 0 END,
                   d.jobs_started
            FROM unnest(%b::date[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::float8[], %b::int[])
                 AS d(day, team_id, model_name, provider, gpu_type, gpu_hours, jobs_started)
            LEFT JOIN {rates} r ON r.day = d.day AND r.provider = d.provider AND r.gpu_type = d.gpu_type
            ON CONFLICT (day, team_id, model_name, provider, gpu_type) DO UPDATE SET
                gpu_hours = c.gpu_hours + EXCLUDED.gpu_hours,
                cost = c.cost + EXCLUDED.cost,
                unpriced_gpu_hours = c.unpriced_gpu_hours + EXCLUDED.unpriced_gpu_hours,
                jobs_started = c.jobs_started + EXCLUDED.jobs_started
            """,  # noqa: S608 - table names come from the models; values are bound
            columns,
        )


def _delete_empty(keys: list[list]) -> None:
    with array_cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM {CostRollup._meta.db_table} c
            USING unnest(%b::date[], %b::bigint[], %b::text[], %b::text[], %b::text[])
                  AS d(day, team_id, model_name, provider, gpu_type)
            WHERE c.day = d.day AND c.team_id = d.team_id AND c.model_name = d.model_name
              AND c.provider = d.provider AND c.gpu_type = d.gpu_type
              AND abs(c.gpu_hours) < %s AND c.jobs_started = 0
            """,  # noqa: S608
            [*keys, ZERO_HOURS],
        )


def _sql_columns(delta: pd.DataFrame) -> list[list]:
    return [
        pd.to_datetime(delta["day"]).dt.date.tolist(),
        delta["team_id"].astype("int64").tolist(),
        delta["model_name"].tolist(),
        delta["provider"].tolist(),
        delta["gpu_type"].tolist(),
        delta["gpu_hours"].astype("float64").tolist(),
        delta["jobs_started"].astype("int64").tolist(),
    ]


def reprice(keys: Iterable[tuple[date, str, str]]) -> int:
    """Price the rollup rows of these (day, provider, gpu_type) again at the current rates; a key whose
    rate is gone makes its hours unpriced. One UPDATE; returns the number of rows repriced."""
    keys = sorted(set(keys))
    if not keys:
        return 0
    days, providers, gpus = ([key[i] for key in keys] for i in range(3))
    table, rates = CostRollup._meta.db_table, RateSnapshot._meta.db_table
    with transaction.atomic(), array_cursor() as cursor:
        lock_costs()
        cursor.execute(
            f"""
            UPDATE {table} c SET
                cost = COALESCE(c.gpu_hours * k.rate, 0),
                unpriced_gpu_hours = CASE WHEN k.rate IS NULL THEN c.gpu_hours ELSE 0 END
            FROM (
                SELECT u.day, u.provider, u.gpu_type, r.usd_per_gpu_hour::float8 AS rate
                FROM unnest(%b::date[], %b::text[], %b::text[]) AS u(day, provider, gpu_type)
                LEFT JOIN {rates} r ON r.day = u.day AND r.provider = u.provider AND r.gpu_type = u.gpu_type
            ) k
            WHERE c.day = k.day AND c.provider = k.provider AND c.gpu_type = k.gpu_type
            """,  # noqa: S608
            [days, providers, gpus],
        )
        return cursor.rowcount


# -- rebuild -----------------------------------------------------------------------------------------------

JOB_COLUMNS = ["job_id", "team_id", "model_name", "provider", "gpu_type", "gpu_count", "start_time"]


def stored_jobs_frame(queryset) -> pd.DataFrame:
    """``jobs_frame`` columns plus ``team_id`` for stored jobs (one query)."""
    rows = list(queryset.values_list(*JOB_COLUMNS, "end_time", "status"))
    frame = pd.DataFrame(rows, columns=[*JOB_COLUMNS, "end_time", "status"])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"gpu_count": "int64"}).assign(team_name=frame["team_id"])


def computed_rollups() -> pd.DataFrame:
    """What ``CostRollup`` must hold, computed from the stored jobs and rates by the pure pandas path."""
    rates = rates_frame(
        {
            (day, provider, gpu): rate
            for day, provider, gpu, rate in RateSnapshot.objects.values_list(
                "day", "provider", "gpu_type", "usd_per_gpu_hour"
            )
        }
    )
    parts, last_id = [], 0
    closed = GpuJob.objects.filter(status__in=CLOSED).order_by("id")
    while True:
        ids = list(closed.filter(id__gt=last_id).values_list("id", flat=True)[:REBUILD_CHUNK])
        if not ids:
            break
        last_id = ids[-1]
        jobs = stored_jobs_frame(GpuJob.objects.filter(id__in=ids))
        parts.append(rollup(daily_costs(jobs, rates, now=datetime.now(UTC))))
    if not parts:
        return pd.DataFrame(columns=["day", "team_name", "model_name", "provider", "gpu_type"])
    table = pd.concat(parts, ignore_index=True)
    table = table.groupby(["day", "team_name", "model_name", "provider", "gpu_type"]).sum(numeric_only=True)
    return table.reset_index().rename(columns={"team_name": "team_id"})


def rebuild_rollups() -> int:
    """Replace the whole table by the closed jobs' figures prorated in SQL: the raw path of
    ``analysis.cost_analytics`` grouped by rollup key, inserted in one statement (10M jobs in minutes,
    where ``computed_rollups`` would hold every job-day in memory). Returns the rows written."""
    from analysis.cost_analytics import CostQuery, raw_sql

    select, params = raw_sql(CostQuery(date(1970, 1, 1), date(9999, 12, 30)), KEY, statuses=CLOSED)
    table = CostRollup._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        lock_costs()
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        cursor.execute(
            f"""INSERT INTO {table} ({", ".join(KEY)}, gpu_hours, cost, unpriced_gpu_hours, jobs_started)
                SELECT {", ".join(KEY)}, gpu_hours, cost, unpriced, started
                FROM ({select}) AS x({", ".join(KEY)}, gpu_hours, cost, unpriced, provisional, started)""",  # noqa: S608
            params,
        )
        return cursor.rowcount
