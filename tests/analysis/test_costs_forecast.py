"""Forecast: least-squares trend + weekly seasonality + a 1.96 σ band, checked against hand figures."""

import math
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from analysis.costs.forecast import (
    FORECAST_COLUMNS,
    NotEnoughHistory,
    daily_totals,
    fit,
    forecast,
    forecast_total,
    history,
)

MONDAY = date(2026, 1, 5)
# A weekly pattern that sums to 0 and is symmetric in time, so it does not tilt the fitted trend:
# Monday +5, Wednesday -10, Friday +5.
SEASON = {0: 5.0, 2: -10.0, 4: 5.0}
# Noise that cancels per weekday, in sum and against x: +3/-3 on Mon/Tue of week 1, -3/+3 in week 2.
NOISE = {0: 3.0, 1: -3.0, 7: -3.0, 8: 3.0}


def _series(values, first=MONDAY):
    return pd.Series(values, index=[first + timedelta(days=k) for k in range(len(values))])


def _cost(x):
    day = MONDAY + timedelta(days=x)
    return 20 + 1.5 * x + SEASON.get(day.weekday(), 0.0) + NOISE.get(x, 0.0)


TWO_WEEKS = _series([_cost(x) for x in range(14)])


def test_the_fit_recovers_trend_season_and_noise():
    model = fit(TWO_WEEKS)

    assert (model.first_day, model.days) == (MONDAY, 14)
    assert model.slope == pytest.approx(1.5) and model.intercept == pytest.approx(20.0)
    assert model.seasonal == pytest.approx((5.0, 0.0, -10.0, 0.0, 5.0, 0.0, 0.0))
    # the remaining residuals are the noise: four values of +-3 and ten zeros, sample std over 13
    assert model.sigma == pytest.approx(math.sqrt(4 * 9 / 13))


def test_the_forecast_continues_trend_and_season_with_a_band():
    answer = forecast(TWO_WEEKS, horizon=3)

    band = 1.96 * math.sqrt(36 / 13)
    assert list(answer.columns) == list(FORECAST_COLUMNS)
    assert answer["day"].tolist() == [datetime(2026, 1, 19), datetime(2026, 1, 20), datetime(2026, 1, 21)]
    # x = 14 (Monday): 20 + 21 + 5; x = 15 (Tuesday): 20 + 22.5; x = 16 (Wednesday): 20 + 24 - 10
    assert answer["forecast"].tolist() == pytest.approx([46.0, 42.5, 34.0])
    assert answer["lower"].tolist() == pytest.approx([46.0 - band, 42.5 - band, 34.0 - band])
    assert answer["upper"].tolist() == pytest.approx([46.0 + band, 42.5 + band, 34.0 + band])


def test_the_total_sums_the_days_and_widens_the_band_by_the_square_root_of_the_horizon():
    total = forecast_total(TWO_WEEKS, horizon=3)

    band = 1.96 * math.sqrt(36 / 13) * math.sqrt(3)
    assert (total.start, total.end) == (date(2026, 1, 19), date(2026, 1, 21))
    assert total.total == pytest.approx(122.5)
    assert (total.lower, total.upper) == pytest.approx((122.5 - band, 122.5 + band))
    assert "weekly seasonality" in total.method


def test_today_is_left_out_of_the_history_and_the_forecast_starts_with_it():
    partial = pd.concat([TWO_WEEKS, _series([1.0, 999.0], first=date(2026, 1, 19))])

    answer = forecast(partial, horizon=2, today=date(2026, 1, 19))

    assert answer["day"].tolist() == [datetime(2026, 1, 19), datetime(2026, 1, 20)]
    assert answer["forecast"].tolist() == pytest.approx([46.0, 42.5])


def test_a_falling_trend_is_floored_at_zero():
    falling = _series([130.0 - 10 * x for x in range(14)])  # 130 down to 0, no noise

    answer = forecast(falling, horizon=2)

    assert answer[["forecast", "lower", "upper"]].values.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert forecast_total(falling, horizon=2)[2:5] == (0.0, 0.0, 0.0)


def test_days_given_as_utc_timestamps_are_the_same_days():
    aware = TWO_WEEKS.copy()
    aware.index = pd.DatetimeIndex([pd.Timestamp(day, tz="UTC") for day in TWO_WEEKS.index])

    assert forecast(aware, horizon=2, today=date(2026, 1, 19))["forecast"].tolist() == pytest.approx(
        [46.0, 42.5]
    )


def test_missing_days_inside_the_history_count_as_zero():
    sparse = pd.Series([70.0, 70.0, 0.0], index=[MONDAY, MONDAY + timedelta(7), MONDAY + timedelta(13)])

    filled = history(sparse)

    assert len(filled) == 14 and filled.sum() == 140.0
    assert filled[filled > 0].index.tolist() == [pd.Timestamp(MONDAY), pd.Timestamp(MONDAY + timedelta(7))]
    assert fit(sparse).seasonal[0] > 0  # Mondays are the expensive days


def test_fewer_than_fourteen_days_raise_with_how_many_there_are():
    with pytest.raises(NotEnoughHistory) as caught:
        forecast(TWO_WEEKS.iloc[:13])
    assert (caught.value.days, caught.value.needed) == (13, 14)
    assert "there are 13" in str(caught.value)

    with pytest.raises(NotEnoughHistory) as caught:
        forecast(TWO_WEEKS, today=MONDAY + timedelta(days=10))  # only Jan 5..14 are over
    assert caught.value.days == 10

    with pytest.raises(NotEnoughHistory) as caught:
        forecast(pd.Series(dtype="float64"))
    assert caught.value.days == 0
    with pytest.raises(ValueError, match="horizon"):
        forecast(TWO_WEEKS, horizon=0)


def test_daily_totals_sum_the_rollup_rows_of_each_day():
    rollups = pd.DataFrame(
        {
            "day": pd.to_datetime(["2026-01-05", "2026-01-05", "2026-01-06"]),
            "team_name": ["a", "b", "a"],
            "cost": [1.0, 2.5, 4.0],
        }
    )

    assert daily_totals(rollups).tolist() == [3.5, 4.0]
