"""Peak concurrent GPUs per (UTC day, provider, gpu_type), from the jobs' run intervals.

A job holds ``gpu_count`` GPUs of its (provider, gpu_type) over [start_time, end_time): a job ending
at 14:00 and another starting at 14:00 never overlap. A day's peak is the largest number of GPUs
held at any instant inside [00:00, 24:00) UTC of that day, including those held since before
midnight. It is found with one sweep over start (+gpu_count) and end (−gpu_count) events sorted by
time, ends before starts at equal times, with a zero event at each midnight to read the level there.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

_NS_PER_DAY = 86_400 * 10**9
KEYS = ["day", "provider", "gpu_type"]


def _ns(values: pd.Series) -> np.ndarray:
    moments = pd.to_datetime(values)
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return moments.astype("datetime64[ns]").to_numpy().view("int64")


def _events(jobs: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    start, end = _ns(jobs["start_time"]), _ns(jobs["end_time"])
    ran = end > start
    gpus = jobs["gpu_count"].to_numpy(dtype="int64")[ran]
    where = jobs.loc[ran, ["provider", "gpu_type"]].reset_index(drop=True)
    starts = where.assign(time=start[ran], delta=gpus)
    ends = where.assign(time=end[ran], delta=-gpus)
    midnights = days[["provider", "gpu_type"]].reset_index(drop=True).assign(time=_ns(days["day"]), delta=0)
    return pd.concat([starts, ends, midnights], ignore_index=True)


def daily_capacity(jobs: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """``day, provider, gpu_type, peak_gpus`` for each row of ``days`` (``KEYS``; day at midnight UTC).

    ``jobs`` has ``provider, gpu_type, gpu_count, start_time, end_time``, ``end_time`` being when the
    job stopped running (fill it with now for running jobs first).
    """
    events = _events(jobs, days).sort_values(["provider", "gpu_type", "time", "delta"], kind="stable")
    events["level"] = events.groupby(["provider", "gpu_type"])["delta"].cumsum()
    events["day"] = (events["time"].to_numpy() // _NS_PER_DAY * _NS_PER_DAY).astype("datetime64[ns]")
    peaks = events.groupby(KEYS, as_index=False)["level"].max().rename(columns={"level": "peak_gpus"})
    wanted = days[KEYS].assign(day=pd.to_datetime(days["day"]).astype("datetime64[ns]")).drop_duplicates()
    return wanted.merge(peaks, on=KEYS, how="left").fillna({"peak_gpus": 0}).astype({"peak_gpus": "int64"})


def run_ends(jobs: pd.DataFrame, now: datetime) -> pd.Series:
    """When each job stopped running by ``now``, as in ``proration.run_interval`` (pending: its start)."""
    end = pd.to_datetime(jobs["end_time"], utc=True)
    now_ts = pd.Timestamp(now).tz_convert("UTC").as_unit(end.dt.unit)  # the column's unit: no cast warning
    end = end.fillna(now_ts)
    end = end.where(jobs["status"] != "running", end.clip(upper=now_ts))
    return end.where(jobs["status"] != "pending", jobs["start_time"])
