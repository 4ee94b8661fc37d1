"""Savings advice computed from the tenant's own jobs and rates, each figure traceable to its rows.

Inputs: ``daily`` (``proration.daily_costs`` rows: one per job and UTC day, with ``rate``/``cost``
NaN when the day has no rate), ``jobs`` (``proration.jobs_frame`` columns), ``rates`` (``day,
provider, gpu_type, rate`` in US dollars per GPU-hour) and ``now`` (the end of running jobs). No
constant price is ever assumed: a figure that would need a missing rate is left out, never guessed.

Kinds
-----
``cheaper_provider``
    A job-day paid more than the cheapest rate offered that same day for its GPU type by any provider
    in ``rates``. Savings = Σ gpu_hours × (rate − cheapest rate of that day and GPU type), per team and
    GPU type.
``cheaper_days``
    A closed job's day paid more than the cheapest rate of the same (provider, gpu_type) within the
    same ISO week (Monday..Sunday, days with a known rate only). Savings = Σ gpu_hours × (rate − weekly
    minimum), per team: what the same GPU-hours would have cost on the week's cheapest day, if the
    work could wait.
``long_running``
    A job that has run more than 24 h (severity: > 72 h high, > 48 h medium, else low). The figure is
    the cost of its hours beyond the first 24 h at each day's rate, given in ``evidence`` as
    ``cost_beyond_24h_usd``. Its ``savings_usd`` is None: a long run is not waste in itself, so that
    money is at stake (worth checking for a hang or a missing early stop), not a certain saving.
``under_used_capacity``
    Per (provider, gpu_type) and UTC day: the peak number of GPUs in use at once (from the jobs'
    intervals and gpu_count) against the GPU-hours used. Utilisation = used / (peak × 24); days under
    30 % are flagged, and savings = Σ idle GPU-hours (peak × 24 − used) × that day's rate. This applies
    only if that capacity is reserved (billed whether busy or not); on-demand GPUs are billed only
    while jobs run, and then there is nothing to save.

Severity of the kinds with savings: ``high`` when they are ≥ 25 % of what the rows concerned cost,
``medium`` ≥ 10 %, else ``low``; for ``under_used_capacity``, utilisation < 10 % high, < 20 % medium.
The kinds overlap (a job-day can be both on a dear provider and on a dear day): their savings are
alternatives, not to be added up. Within a kind, groups are disjoint, so their savings sum to the
kind's total. A group saving less than half a cent gives no recommendation. The list is sorted by
savings, largest first; recommendations without a certain saving follow, by the amount at stake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from analysis.costs.capacity import daily_capacity, run_ends
from analysis.costs.records import OPEN_STATUSES

MIN_SAVING_USD = 0.005
UNDER_USED = 0.30
LONG_HOURS = 24
_DAY_EVIDENCE = {"day": "day", "peak_gpus": "peak_gpus", "gpu_hours": "used_gpu_hours",
                 "utilisation": "utilisation", "idle": "idle_gpu_hours", "rate": "rate",
                 "idle_cost": "idle_usd"}  # fmt: skip


@dataclass(frozen=True)
class Recommendation:
    kind: str
    severity: str  # "high", "medium" or "low"
    title: str
    reason: str  # the figures, in words
    savings_usd: float | None  # None when the figure is at stake rather than saved
    team_name: str | None  # None for advice about shared capacity
    job_ids: tuple[str, ...]
    evidence: dict = field(default_factory=dict)


def _share_severity(saving: float, paid: float) -> str:
    share = saving / paid if paid else 0.0
    return "high" if share >= 0.25 else "medium" if share >= 0.10 else "low"


def _days(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(day=pd.to_datetime(frame["day"]).astype("datetime64[ns]"))


def _priced(daily: pd.DataFrame) -> pd.DataFrame:
    return _days(daily.loc[daily["rate"].notna() & (daily["gpu_hours"] > 0)])


def _ids(rows: pd.DataFrame) -> tuple[str, ...]:
    return tuple(sorted(set(rows["job_id"])))


def _money(value: float) -> str:
    return f"${value:,.2f}"


def cheaper_provider(daily: pd.DataFrame, rates: pd.DataFrame) -> list[Recommendation]:
    """Job-days that another provider offered cheaper that day, per team and GPU type."""
    rates = _days(rates)
    cheapest = rates.groupby(["day", "gpu_type"], as_index=False)["rate"].min()
    rows = _priced(daily).merge(cheapest.rename(columns={"rate": "cheapest"}), on=["day", "gpu_type"])
    rows = rows.assign(saving=rows["gpu_hours"] * (rows["rate"] - rows["cheapest"]))
    rows = rows.loc[rows["saving"] > 0]
    offers = rates.merge(cheapest.rename(columns={"rate": "cheapest"}), on=["day", "gpu_type"])
    offers = offers.loc[offers["rate"] == offers["cheapest"]]
    return [
        _cheaper_provider(team, gpu, group, offers)
        for (team, gpu), group in rows.groupby(["team_name", "gpu_type"])
        if group["saving"].sum() >= MIN_SAVING_USD
    ]


def _cheaper_provider(team: str, gpu: str, rows: pd.DataFrame, offers: pd.DataFrame) -> Recommendation:
    saving, paid, hours = rows["saving"].sum(), rows["cost"].sum(), rows["gpu_hours"].sum()
    days = rows["day"].drop_duplicates()
    cheap = sorted(set(offers.loc[(offers["gpu_type"] == gpu) & offers["day"].isin(days), "provider"]))
    used = sorted(set(rows["provider"]))
    return Recommendation(
        "cheaper_provider",
        _share_severity(saving, paid),
        f"Run {team}'s {gpu} jobs on the cheapest provider of the day",
        f"{team} ran {hours:,.1f} {gpu} GPU-hours on {', '.join(used)} on {len(days)} day(s) when "
        f"{', '.join(cheap)} offered {gpu} for less: {_money(paid)} paid, "
        f"{_money(paid - saving)} at each day's cheapest rate.",
        float(saving),
        team,
        _ids(rows),
        {"gpu_type": gpu, "gpu_hours": float(hours), "paid_usd": float(paid), "providers": used,
         "cheapest_providers": cheap, "days": len(days)},
    )  # fmt: skip


def cheaper_days(daily: pd.DataFrame, jobs: pd.DataFrame, rates: pd.DataFrame) -> list[Recommendation]:
    """Closed jobs' days dearer than the week's cheapest day for the same provider and GPU type."""
    keys = ["week", "provider", "gpu_type"]
    rates = _days(rates)
    weekly = (
        rates.assign(week=rates["day"].dt.to_period("W-SUN").dt.start_time)
        .groupby(keys, as_index=False)["rate"]
        .min()
        .rename(columns={"rate": "weekly_min"})
    )
    still_open = jobs.loc[jobs["status"].isin(OPEN_STATUSES), "job_id"].unique()  # few: a short lookup
    rows = _priced(daily.loc[~daily["job_id"].isin(still_open)])
    rows = rows.assign(week=rows["day"].dt.to_period("W-SUN").dt.start_time).merge(weekly, on=keys)
    rows = rows.assign(saving=rows["gpu_hours"] * (rows["rate"] - rows["weekly_min"]))
    rows = rows.loc[rows["saving"] > 0]
    return [
        _cheaper_days(team, group)
        for team, group in rows.groupby("team_name")
        if group["saving"].sum() >= MIN_SAVING_USD
    ]


def _cheaper_days(team: str, rows: pd.DataFrame) -> Recommendation:
    saving, paid, hours = rows["saving"].sum(), rows["cost"].sum(), rows["gpu_hours"].sum()
    iso = (day.isocalendar() for day in rows["day"].drop_duplicates())  # pandas' isocalendar: ~4 ms a call
    weeks = sorted({f"{year}-W{week:02d}" for year, week, _ in iso})
    return Recommendation(
        "cheaper_days",
        _share_severity(saving, paid),
        f"Schedule {team}'s jobs on the cheapest day of the week",
        f"{team}'s finished jobs paid {_money(paid)} for {hours:,.1f} GPU-hours on days dearer than the "
        f"cheapest day of the same week ({', '.join(weeks)}) for the same provider and GPU type; on that "
        f"day they would have cost {_money(paid - saving)}, if the work could wait.",
        float(saving),
        team,
        _ids(rows),
        {"gpu_hours": float(hours), "paid_usd": float(paid), "weeks": weeks},
    )


def long_running(daily: pd.DataFrame, jobs: pd.DataFrame, *, now: datetime) -> list[Recommendation]:
    """Jobs run for more than 24 h, with the cost of their hours beyond the first 24 (at stake)."""
    jobs = jobs.assign(run_end=run_ends(jobs, now))
    jobs = jobs.assign(run_hours=(jobs["run_end"] - jobs["start_time"]).dt.total_seconds() / 3600)
    jobs = jobs.loc[jobs["run_hours"] > LONG_HOURS]
    beyond = _beyond(_days(daily.loc[daily["job_id"].isin(jobs["job_id"].unique())]), jobs)
    per_job = beyond.groupby("job_id")[["at_stake", "unpriced"]].sum()
    totals = dict(zip(per_job.index, zip(per_job["at_stake"], per_job["unpriced"], strict=True), strict=True))
    found = [_long_running(job, *totals[job.job_id]) for job in jobs.itertuples() if job.job_id in totals]
    return [advice for advice in found if advice is not None]


def _beyond(days: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    """Each job-day's GPU-hours after the job's first 24 h, priced (``at_stake``) or not (``unpriced``)."""
    spans = jobs[["job_id", "start_time", "run_end", "gpu_count"]]
    days = days.merge(spans, on="job_id")
    cutoff = (days["start_time"] + pd.Timedelta(hours=LONG_HOURS)).dt.tz_convert(None)
    start = days["day"].clip(lower=cutoff)
    stop = (days["day"] + pd.Timedelta(days=1)).clip(upper=days["run_end"].dt.tz_convert(None))
    hours = ((stop - start).dt.total_seconds() / 3600).clip(lower=0) * days["gpu_count"]
    priced = days["rate"].notna()
    return days.assign(at_stake=(hours * days["rate"]).where(priced, 0.0), unpriced=hours.where(~priced, 0.0))


def _long_running(job, at_stake: float, unpriced: float) -> Recommendation | None:
    at_stake, run_hours = float(at_stake), float(job.run_hours)
    if at_stake < MIN_SAVING_USD:
        return None
    severity = "high" if run_hours > 72 else "medium" if run_hours > 48 else "low"
    still = " and is still running" if job.status == "running" else ""
    return Recommendation(
        "long_running",
        severity,
        f"Job {job.job_id} ran {run_hours:,.1f} h",
        f"Job {job.job_id} ({job.team_name}) ran {run_hours:,.1f} h on {job.gpu_count} × {job.gpu_type} "
        f"({job.provider}){still}; its hours beyond 24 h cost {_money(at_stake)}. That is at stake, not a "
        f"certain saving: check it was progressing, checkpointed and stopped when done.",
        None,
        job.team_name,
        (job.job_id,),
        {"run_hours": run_hours, "cost_beyond_24h_usd": at_stake, "status": job.status,
         "unpriced_gpu_hours_beyond_24h": float(unpriced)},
    )  # fmt: skip


def under_used_capacity(
    daily: pd.DataFrame, jobs: pd.DataFrame, rates: pd.DataFrame, *, now: datetime
) -> list[Recommendation]:
    """(provider, GPU type) whose peak GPUs sat idle most of some days, if that capacity is reserved."""
    keys = ["day", "provider", "gpu_type"]
    used = _days(daily).groupby(keys, as_index=False)["gpu_hours"].sum()
    ran = jobs.loc[jobs["job_id"].isin(daily["job_id"].unique())]
    days = daily_capacity(ran.assign(end_time=run_ends(ran, now)), used[keys]).merge(used, on=keys)
    days = days.merge(_days(rates)[[*keys, "rate"]], on=keys)
    days = days.assign(capacity=days["peak_gpus"] * 24.0)
    days = days.assign(
        utilisation=days["gpu_hours"] / days["capacity"], idle=days["capacity"] - days["gpu_hours"]
    )
    days = days.loc[(days["utilisation"] < UNDER_USED) & (days["capacity"] > 0)]
    days = days.assign(idle_cost=days["idle"] * days["rate"])
    flagged = _days(daily).merge(days[keys], on=keys)
    return [
        _under_used(provider, gpu, group, flagged)
        for (provider, gpu), group in days.groupby(["provider", "gpu_type"])
        if group["idle_cost"].sum() >= MIN_SAVING_USD
    ]


def _under_used(provider: str, gpu: str, days: pd.DataFrame, flagged: pd.DataFrame) -> Recommendation:
    saving, idle = days["idle_cost"].sum(), days["idle"].sum()
    utilisation = days["gpu_hours"].sum() / days["capacity"].sum()
    severity = "high" if utilisation < 0.10 else "medium" if utilisation < 0.20 else "low"
    per_day = (
        days.sort_values("day")
        .assign(day=days["day"].dt.strftime("%Y-%m-%d"))[list(_DAY_EVIDENCE)]
        .rename(columns=_DAY_EVIDENCE)
        .to_dict("records")
    )
    return Recommendation(
        "under_used_capacity",
        severity,
        f"Under-used {gpu} capacity on {provider}",
        f"On {len(days)} day(s) the {gpu} GPUs on {provider} were busy {utilisation:.0%} of their daily "
        f"peak held for 24 h: {idle:,.1f} idle GPU-hours, worth {_money(saving)} at those days' rates. "
        f"This saving applies only if that capacity is reserved (billed whether busy or not).",
        float(saving),
        None,
        _ids(flagged.loc[(flagged["provider"] == provider) & (flagged["gpu_type"] == gpu)]),
        {"provider": provider, "gpu_type": gpu, "utilisation": float(utilisation), "days": per_day},
    )


def _order(advice: Recommendation) -> tuple:
    amount = advice.savings_usd
    if amount is None:
        return (1, -advice.evidence.get("cost_beyond_24h_usd", 0.0), advice.kind, advice.title)
    return (0, -amount, advice.kind, advice.team_name or "", advice.title)


def recommendations(
    daily: pd.DataFrame, jobs: pd.DataFrame, rates: pd.DataFrame, *, now: datetime
) -> list[Recommendation]:
    """Every kind of advice, largest savings first (see the module docstring)."""
    found = [
        *cheaper_provider(daily, rates),
        *cheaper_days(daily, jobs, rates),
        *long_running(daily, jobs, now=now),
        *under_used_capacity(daily, jobs, rates, now=now),
    ]
    return sorted(found, key=_order)
