"""Cost forecast for the coming days: a linear trend plus weekly seasonality, with an interval.

Method
------
History: the daily totals (US dollars per UTC day) from the first day of the series up to the day
before ``today`` (today is not over, so it is left out); without ``today``, up to the series' last
day, and the forecast starts the day after it. Days without a total inside the history (also those
between the last total and today) count as $0: no row means no job ran. At least
``MIN_HISTORY_DAYS`` (14) days are needed, so each weekday is seen at least twice; fewer raise
``NotEnoughHistory`` carrying how many there are.

1. Trend: ordinary least squares of cost on the day number x = 0, 1, …, n − 1:
   slope b = Σ (x − x̄)(y − ȳ) / Σ (x − x̄)², intercept a = ȳ − b·x̄.
2. Weekly seasonality: the residuals r = y − (a + b·x) are averaged per weekday (Monday … Sunday),
   and the seven means are shifted to sum to zero: s(w) = mean r of weekday w − mean of the seven.
3. Noise: σ = sample standard deviation (divisor n − 1) of the remaining residuals e = r − s(weekday).
4. Day x ahead: forecast = a + b·x + s(weekday); lower/upper = forecast ∓ 1.96·σ. This is an
   approximate 95 % interval that assumes independent, normally distributed errors and ignores the
   uncertainty of the fitted trend itself, so it is narrower than the truth far ahead. Costs cannot be
   negative: forecast, lower and upper are each floored at $0.

Summary (``forecast_total``): the total over the horizon is the sum of the daily forecasts, and its
interval is total ∓ 1.96·σ·√horizon (the day errors taken as independent), the lower bound floored at 0.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd

MIN_HISTORY_DAYS = 14
HORIZON_DAYS = 30
Z_95 = 1.96
METHOD = "linear trend + weekly seasonality (least squares), ± 1.96 σ"
FORECAST_COLUMNS = ("day", "forecast", "lower", "upper")


class NotEnoughHistory(ValueError):
    """Fewer days of history than the method needs; ``days`` says how many there are."""

    def __init__(self, days: int, needed: int = MIN_HISTORY_DAYS):
        super().__init__(f"a forecast needs {needed} days of history, there are {days}")
        self.days = days
        self.needed = needed


class Fit(NamedTuple):
    first_day: date  # day number 0
    days: int  # n, the number of history days
    intercept: float
    slope: float  # US dollars per day, per day
    seasonal: tuple[float, ...]  # s(w) for Monday (0) … Sunday (6), summing to 0
    sigma: float

    def point(self, day: date) -> float:
        """The unfloored forecast for ``day``."""
        x = (day - self.first_day).days
        return self.intercept + self.slope * x + self.seasonal[day.weekday()]


class ForecastTotal(NamedTuple):
    start: date
    end: date  # inclusive
    total: float
    lower: float
    upper: float
    sigma: float
    method: str = METHOD


def history(daily_totals: pd.Series, *, today: date | None = None) -> pd.Series:
    """The totals as one value per day, first day .. the day before ``today``, gaps filled with 0."""
    days = pd.to_datetime(pd.Index(daily_totals.index))
    if days.tz is not None:
        days = days.tz_convert("UTC").tz_localize(None)
    days = days.normalize()
    values = pd.Series(np.asarray(daily_totals, dtype="float64"), index=days).fillna(0.0)
    values = values.groupby(level=0).sum()
    last = values.index.max() if today is None else pd.Timestamp(today) - pd.Timedelta(days=1)
    if values.empty or pd.isna(last):
        return pd.Series(dtype="float64")
    values = values[values.index <= last]
    if values.empty:
        return values
    return values.reindex(pd.date_range(values.index.min(), last, freq="D"), fill_value=0.0)


def fit(daily_totals: pd.Series, *, today: date | None = None) -> Fit:
    """Trend, weekly seasonality and σ of the history (see the module docstring)."""
    y = history(daily_totals, today=today)
    if len(y) < MIN_HISTORY_DAYS:
        raise NotEnoughHistory(len(y))
    x = np.arange(len(y), dtype="float64")
    values = y.to_numpy()
    slope = float(np.sum((x - x.mean()) * (values - values.mean())) / np.sum((x - x.mean()) ** 2))
    intercept = float(values.mean() - slope * x.mean())
    residuals = values - (intercept + slope * x)
    weekdays = y.index.day_of_week.to_numpy()
    means = np.array([residuals[weekdays == w].mean() for w in range(7)])
    seasonal = means - means.mean()
    sigma = float(np.std(residuals - seasonal[weekdays], ddof=1))
    first = y.index[0].date()
    return Fit(first, len(y), intercept, slope, tuple(float(s) for s in seasonal), sigma)


def _start(model: Fit) -> date:
    return model.first_day + timedelta(days=model.days)


def forecast(
    daily_totals: pd.Series, *, horizon: int = HORIZON_DAYS, today: date | None = None
) -> pd.DataFrame:
    """``FORECAST_COLUMNS`` for the ``horizon`` days from ``today`` (or after the last history day)."""
    return _frame(fit(daily_totals, today=today), horizon)


def _frame(model: Fit, horizon: int) -> pd.DataFrame:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    days = [_start(model) + timedelta(days=k) for k in range(horizon)]
    points = np.array([model.point(day) for day in days], dtype="float64")
    band = Z_95 * model.sigma
    return pd.DataFrame(
        {
            "day": pd.to_datetime(days).astype("datetime64[ns]"),
            "forecast": np.maximum(points, 0.0),
            "lower": np.maximum(points - band, 0.0),
            "upper": np.maximum(points + band, 0.0),
        }
    )


def forecast_total(
    daily_totals: pd.Series, *, horizon: int = HORIZON_DAYS, today: date | None = None
) -> ForecastTotal:
    """The total forecast cost of the next ``horizon`` days, with its approximate 95 % interval."""
    model = fit(daily_totals, today=today)
    total = float(_frame(model, horizon)["forecast"].sum())
    band = Z_95 * model.sigma * math.sqrt(horizon)
    start = _start(model)
    return ForecastTotal(
        start, start + timedelta(days=horizon - 1), total, max(total - band, 0.0), total + band, model.sigma
    )


def daily_totals(rollups: pd.DataFrame) -> pd.Series:
    """Total cost per day of rollup rows (filter them first, e.g. with ``rollups.select``)."""
    return rollups.groupby("day")["cost"].sum()
