"""Prorated job cost: split at midnight UTC, each day at its own rate, missing rates reported."""

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.costs.proration import (
    DayCost,
    daily_costs,
    job_cost,
    jobs_frame,
    missing_rate_keys,
    rates_frame,
    split_by_day,
)
from analysis.costs.records import JobRecord

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
JAN1, JAN2, JAN3 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)
RATES = {
    (JAN1, "aws", "a100"): Decimal("2.50"),
    (JAN2, "aws", "a100"): Decimal("3.00"),  # the rate changes at midnight
    (JAN3, "aws", "a100"): Decimal("3.00"),
}


def _utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def _job(start, end, *, gpus=2, status="completed", job_id="job-1", gpu_type="a100"):
    return JobRecord(job_id, "ml-research", "llama-2-7b", "aws", gpu_type, gpus, start, end, status)


def test_split_by_day_cuts_exactly_at_midnight_utc():
    assert split_by_day(_utc(2026, 1, 1, 22), _utc(2026, 1, 2, 2)) == [
        (JAN1, Decimal(7200)),
        (JAN2, Decimal(7200)),
    ]
    assert split_by_day(_utc(2026, 1, 1, 0), _utc(2026, 1, 3, 0)) == [(JAN1, 86400), (JAN2, 86400)]
    assert split_by_day(_utc(2026, 1, 1, 5), _utc(2026, 1, 1, 5)) == []
    assert split_by_day(_utc(2026, 1, 1, 23, 59, 59, 500000), _utc(2026, 1, 2, 0, 0, 0, 250000)) == [
        (JAN1, Decimal("0.5")),
        (JAN2, Decimal("0.25")),
    ]


def test_split_by_day_uses_utc_days_whatever_the_zone():
    paris = datetime(2026, 1, 2, 0, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))

    assert split_by_day(_utc(2026, 1, 1, 23), paris) == [(JAN1, 3600), (JAN2, 1800)]


def test_split_by_day_refuses_naive_and_reversed_times():
    with pytest.raises(ValueError, match="time zone"):
        split_by_day(datetime(2026, 1, 1), _utc(2026, 1, 2))
    with pytest.raises(ValueError, match="before start"):
        split_by_day(_utc(2026, 1, 2), _utc(2026, 1, 1))


def test_a_job_across_midnight_pays_each_day_at_its_rate():
    # 22:00 -> 02:00 on 2 GPUs: 2 h x 2 = 4 GPU-h at $2.50 (=$10) + 4 GPU-h at $3.00 (=$12) = $22.
    cost = job_cost(_job(_utc(2026, 1, 1, 22), _utc(2026, 1, 2, 2)), RATES, now=NOW)

    assert cost.days == (
        DayCost(JAN1, Decimal(4), Decimal("2.50"), Decimal("10.00")),
        DayCost(JAN2, Decimal(4), Decimal("3.00"), Decimal("12.00")),
    )
    assert (cost.total, cost.provisional, cost.missing_rates, cost.complete) == (
        Decimal("22.00"),
        False,
        (),
        True,
    )


def test_a_missing_rate_is_reported_not_priced_at_zero():
    # Jan 3 12:00 -> Jan 4 06:00 on 1 GPU: 12 GPU-h x $3 = $36, then 6 GPU-h on Jan 4 with no rate.
    cost = job_cost(_job(_utc(2026, 1, 3, 12), _utc(2026, 1, 4, 6), gpus=1), RATES, now=NOW)

    assert cost.total == Decimal(36)
    assert cost.missing_rates == ((date(2026, 1, 4), "aws", "a100"),)
    assert cost.days[1] == DayCost(date(2026, 1, 4), Decimal(6), None, None)
    assert not cost.complete


def test_a_running_job_is_counted_to_now_and_provisional():
    now = _utc(2026, 1, 2, 1, 30)
    cost = job_cost(_job(_utc(2026, 1, 1, 23), None, status="running", gpus=4), RATES, now=now)

    # 1 h x 4 = 4 GPU-h at $2.50 + 1.5 h x 4 = 6 GPU-h at $3.00 = $10 + $18.
    assert [(d.day, d.gpu_hours) for d in cost.days] == [(JAN1, 4), (JAN2, 6)]
    assert (cost.total, cost.provisional) == (Decimal(28), True)


def test_a_pending_job_costs_nothing_yet():
    cost = job_cost(_job(_utc(2026, 1, 1, 1), None, status="pending"), RATES, now=NOW)

    assert (cost.days, cost.total, cost.provisional) == ((), Decimal(0), True)


def test_daily_costs_matches_the_hand_computed_rows():
    jobs = jobs_frame(
        [
            _job(_utc(2026, 1, 1, 22), _utc(2026, 1, 2, 2)),
            _job(_utc(2026, 1, 3, 12), _utc(2026, 1, 4, 6), gpus=1, job_id="job-2"),
        ]
    )

    daily = daily_costs(jobs, rates_frame(RATES), now=NOW)

    assert daily[["job_id", "gpu_hours", "cost", "started"]].values.tolist()[:3] == [
        ["job-1", 4.0, 10.0, True],
        ["job-1", 4.0, 12.0, False],
        ["job-2", 12.0, 36.0, True],
    ]
    assert math.isnan(daily["cost"].iloc[3]) and daily["gpu_hours"].iloc[3] == 6.0
    assert missing_rate_keys(daily).values.tolist() == [[datetime(2026, 1, 4), "aws", "a100"]]


def test_daily_costs_refuses_duplicate_rates_that_would_charge_twice():
    rates = rates_frame(RATES)
    jobs = jobs_frame([_job(_utc(2026, 1, 1, 22), _utc(2026, 1, 2, 2))])

    with pytest.raises(Exception, match="many-to-one"):
        daily_costs(jobs, rates.iloc[[0, 0, 1]], now=NOW)


BASE = datetime(2026, 1, 1, tzinfo=UTC)
_moments = st.integers(min_value=0, max_value=6 * 86400 * 1000).map(
    lambda ms: BASE + timedelta(milliseconds=ms)
)
_jobs = st.builds(
    lambda start, hours, gpus, status, gpu, open_end: _job(
        start,
        None if open_end and status in ("pending", "running") else start + timedelta(seconds=hours),
        gpus=gpus,
        status=status,
        gpu_type=gpu,
    ),
    _moments,
    st.integers(min_value=0, max_value=4 * 86400),
    st.integers(min_value=1, max_value=16),
    st.sampled_from(["pending", "running", "completed", "failed", "cancelled"]),
    st.sampled_from(["a100", "h100"]),
    st.booleans(),
)
_rates = st.dictionaries(
    st.tuples(
        st.dates(date(2026, 1, 1), date(2026, 1, 11)), st.just("aws"), st.sampled_from(["a100", "h100"])
    ),
    st.decimals(min_value=Decimal("0.5"), max_value=Decimal("9.99"), places=2),
    max_size=22,
)


@settings(max_examples=60, deadline=None)
@given(jobs=st.lists(_jobs, min_size=1, max_size=8), rates=_rates, now=_moments)
def test_daily_costs_equals_the_scalar_job_cost(jobs, rates, now):
    jobs = [_renamed(job, n) for n, job in enumerate(jobs)]  # distinct ids

    daily = daily_costs(jobs_frame(jobs), rates_frame(rates), now=now)

    expected = []
    for job in jobs:
        cost = job_cost(job, rates, now=now)
        for day in cost.days:
            expected.append((job.job_id, day.day, float(day.gpu_hours), day.cost, cost.provisional))
    got = list(
        zip(
            daily["job_id"],
            daily["day"].dt.date,
            daily["gpu_hours"],
            daily["cost"],
            daily["provisional"],
            strict=True,
        )
    )
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for (_, _, hours, money, provisional), (_, _, want_hours, want_money, want_provisional) in zip(
        got, expected, strict=True
    ):
        assert hours == pytest.approx(want_hours, rel=1e-12, abs=1e-9)
        assert provisional == want_provisional
        if want_money is None:
            assert math.isnan(money)
        else:
            assert money == pytest.approx(float(want_money), rel=1e-12, abs=1e-9)


def _renamed(job, n):
    return JobRecord(f"j{n}", *[getattr(job, f) for f in JobRecord.__slots__[1:]])
