"""A job's cost, prorated over the UTC days it ran at each day's rate.

Formula
-------
For a job on ``gpu_count`` GPUs of one (provider, gpu_type), running over [start, end):

    gpu_hours(d) = seconds of [start, end) inside UTC day d × gpu_count / 3600        (GPU-hours)
    cost(d)      = gpu_hours(d) × rate(d, provider, gpu_type)                         (US dollars)
    cost         = Σ_d cost(d)

``rate`` is in US dollars per GPU-hour. A day is split exactly at 00:00 UTC, so a job from 22:00 to
02:00 pays two hours at the first day's rate and two at the next day's. Each job is charged only its
own GPU-hours: summing jobs never counts one GPU-hour twice (Heliox charged every team the whole daily
bill of each GPU type it touched).

Which interval a job ran (``run_interval``):

- ``completed``/``failed``/``cancelled``: [start_time, end_time); final.
- ``running``: [start_time, min(end_time or now, now)); provisional (it grows until the job ends).
- ``pending``: nothing yet (it has not run); provisional.

A day with no rate for the job's (provider, gpu_type) is never priced as 0: ``job_cost`` lists it in
``missing_rates`` and gives that day ``rate``/``cost`` None, and its ``total`` is the sum of the priced
days only. ``daily_costs`` gives such rows NaN ``rate`` and ``cost``.

The scalar path (``split_by_day``, ``job_cost``) uses ``Decimal`` throughout and is exact; the
vectorised path (``daily_costs``, for millions of jobs) uses int64 nanoseconds for the split and
float64 for hours and dollars (relative error ~1e-15, far below a cent), and is tested equal to the
scalar one on random jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.costs.records import JOB_FIELDS, OPEN_STATUSES, JobRecord

RateKey = tuple[date, str, str]  # (UTC day, provider, gpu_type)
SECONDS_PER_HOUR = Decimal(3600)
_NS_PER_DAY = 86_400 * 10**9
_DAY = timedelta(days=1)

JOB_COLUMNS = JOB_FIELDS  # what jobs_frame gives and daily_costs reads: the record fields
DAILY_COLUMNS = (
    "job_id",
    "team_name",
    "model_name",
    "provider",
    "gpu_type",
    "day",
    "gpu_hours",
    "rate",
    "cost",
    "provisional",
    "started",
)


class DayCost(NamedTuple):
    day: date
    gpu_hours: Decimal
    rate: Decimal | None  # US dollars per GPU-hour; None when missing
    cost: Decimal | None  # US dollars; None when the rate is missing


class JobCost(NamedTuple):
    days: tuple[DayCost, ...]
    total: Decimal  # sum of the priced days
    provisional: bool  # the job is still pending/running: the figure will change
    missing_rates: tuple[RateKey, ...]  # days that could not be priced

    @property
    def complete(self) -> bool:
        return not self.missing_rates


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86_400 + span.seconds) + Decimal(span.microseconds) / Decimal(10**6)


def split_by_day(start: datetime, end: datetime) -> list[tuple[date, Decimal]]:
    """Seconds of [start, end) in each UTC day it touches, in day order (exact, Decimal seconds)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    pieces = []
    cursor = start
    while cursor < end:
        next_midnight = datetime.combine(cursor.date() + _DAY, time(), UTC)
        pieces.append((cursor.date(), _seconds(min(end, next_midnight) - cursor)))
        cursor = next_midnight
    return pieces


def run_interval(job: JobRecord, *, now: datetime) -> tuple[datetime, datetime, bool]:
    """(start, end, provisional): the part of the job that has run and so costs money by ``now``."""
    now = _utc(now, "now")
    if job.status == "pending":
        return job.start_time, job.start_time, True
    if job.status == "running":
        end = min(job.end_time or now, now)
        return job.start_time, max(end, job.start_time), True
    if job.end_time is None:
        raise ValueError(f"job {job.job_id} is {job.status} but has no end_time")
    return job.start_time, job.end_time, False


def job_cost(job: JobRecord, rates: Mapping[RateKey, Decimal], *, now: datetime) -> JobCost:
    """The job's GPU-hours and cost per UTC day, its total, and the days lacking a rate."""
    start, end, provisional = run_interval(job, now=now)
    days, missing = [], []
    for day, seconds in split_by_day(start, end):
        gpu_hours = seconds * job.gpu_count / SECONDS_PER_HOUR
        rate = rates.get((day, job.provider, job.gpu_type))
        if rate is None:
            missing.append((day, job.provider, job.gpu_type))
        days.append(DayCost(day, gpu_hours, rate, None if rate is None else gpu_hours * Decimal(rate)))
    total = sum((d.cost for d in days if d.cost is not None), Decimal(0))
    return JobCost(tuple(days), total, provisional, tuple(missing))


# --- vectorised --------------------------------------------------------------------------------------


def jobs_frame(jobs: Iterable[JobRecord]) -> pd.DataFrame:
    """A DataFrame of job records with the columns ``daily_costs`` reads."""
    rows = [
        (
            j.job_id,
            j.team_name,
            j.model_name,
            j.provider,
            j.gpu_type,
            j.gpu_count,
            j.start_time,
            j.end_time,
            j.status,
        )
        for j in jobs
    ]
    frame = pd.DataFrame(rows, columns=list(JOB_COLUMNS))
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["gpu_count"] = frame["gpu_count"].astype("int64")
    return frame


def rates_frame(rates: Mapping[RateKey, Decimal]) -> pd.DataFrame:
    """``day, provider, gpu_type, rate`` (float US dollars per GPU-hour) from a rate mapping."""
    frame = pd.DataFrame(
        [(day, provider, gpu, float(rate)) for (day, provider, gpu), rate in rates.items()],
        columns=["day", "provider", "gpu_type", "rate"],
    )
    frame["day"] = pd.to_datetime(frame["day"]).astype("datetime64[ns]")
    return frame


def _ns(column: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch; NaT becomes -1 (checked through isna by the caller)."""
    values = pd.to_datetime(column, utc=True).dt.tz_localize(None).astype("datetime64[ns]")
    return values.to_numpy().view("int64")


def _intervals(jobs: pd.DataFrame, now_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised ``run_interval``: start and end in ns, and whether each job is provisional."""
    start = _ns(jobs["start_time"])
    end = np.where(jobs["end_time"].isna().to_numpy(), now_ns, _ns(jobs["end_time"]))
    status = jobs["status"].to_numpy()
    running = status == "running"
    end = np.where(running, np.minimum(end, now_ns), end)
    end = np.where(status == "pending", start, np.maximum(end, start))
    return start, end, np.isin(status, OPEN_STATUSES)


def daily_costs(jobs: pd.DataFrame, rates: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """One row per (job, UTC day it ran): ``DAILY_COLUMNS``.

    ``jobs`` has the columns of ``jobs_frame`` (timestamps tz-aware or UTC); ``rates`` has ``day``
    (a date, midnight UTC), ``provider``, ``gpu_type``, ``rate`` and at most one row per key (a
    duplicate rate would charge a day twice, so it raises). ``day`` in the result is a naive
    ``datetime64[ns]`` at midnight UTC; ``started`` marks the job's first day (count jobs by summing
    it: a job spanning days is counted once).
    """
    now_ns = pd.Timestamp(_utc(now, "now")).as_unit("ns").value
    start, end, provisional = _intervals(jobs, now_ns)
    first_day = start // _NS_PER_DAY
    count = np.where(end > start, (end - 1) // _NS_PER_DAY - first_day + 1, 0)
    index = np.repeat(np.arange(len(jobs)), count)
    offset = np.arange(len(index)) - np.repeat(np.cumsum(count) - count, count)
    day_ns = (first_day[index] + offset) * _NS_PER_DAY
    seconds = (np.minimum(end[index], day_ns + _NS_PER_DAY) - np.maximum(start[index], day_ns)) / 1e9
    daily = (
        jobs[["job_id", "team_name", "model_name", "provider", "gpu_type"]].iloc[index].reset_index(drop=True)
    )
    daily["day"] = day_ns.astype("datetime64[ns]")
    daily["gpu_hours"] = seconds * jobs["gpu_count"].to_numpy()[index] / 3600.0
    keyed = rates[["day", "provider", "gpu_type", "rate"]].astype(
        {"day": "datetime64[ns]", "rate": "float64"}
    )
    daily = daily.merge(keyed, on=["day", "provider", "gpu_type"], how="left", validate="many_to_one")
    daily["cost"] = daily["gpu_hours"] * daily["rate"]
    daily["provisional"] = provisional[index]
    daily["started"] = offset == 0
    return daily[list(DAILY_COLUMNS)]


def missing_rate_keys(daily: pd.DataFrame) -> pd.DataFrame:
    """The distinct (day, provider, gpu_type) that ``daily_costs`` could not price, sorted."""
    missing = daily.loc[daily["rate"].isna(), ["day", "provider", "gpu_type"]]
    return missing.drop_duplicates().sort_values(["day", "provider", "gpu_type"]).reset_index(drop=True)
