"""Savings advice: every figure from the tenant's own rates, checked against hand-computed values."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.costs.capacity import daily_capacity
from analysis.costs.proration import daily_costs, job_cost, jobs_frame, rates_frame
from analysis.costs.recommendations import (
    cheaper_days,
    cheaper_provider,
    long_running,
    recommendations,
    under_used_capacity,
)
from analysis.costs.records import JobRecord

NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)
# The week of Monday Jan 5: A100 on aws 3.00 / 2.00 / 3.00, on gcp 2.50 / 2.00 / 3.00; H100 only on aws.
RATE_TABLE = {
    ("aws", "a100"): ("3.00", "2.00", "3.00"),
    ("gcp", "a100"): ("2.50", "2.00", "3.00"),
    ("aws", "h100"): ("4.00", "4.00", "4.00"),
}
RATES = {
    (date(2026, 1, 5 + k), provider, gpu): Decimal(rate)
    for (provider, gpu), rates in RATE_TABLE.items()
    for k, rate in enumerate(rates)
}


def _at(day, hour=0):
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _job(job_id, team, provider, gpu, gpus, start, end, status="completed"):
    return JobRecord(job_id, team, "llama-2-7b", provider, gpu, gpus, start, end, status)


# GPU-hours x rate, by hand:
#   j1 ml   aws a100 x2  Jan 5 10-14           8 GPU-h x 3.00 = 24
#   j2 ml   aws a100 x1  Jan 6 00-04           4 GPU-h x 2.00 =  8
#   j3 data aws a100 x4  Jan 7 00-02           8 GPU-h x 3.00 = 24
#   j4 data gcp a100 x1  Jan 5 00 - Jan 7 04   24 x 2.50 + 24 x 2.00 + 4 x 3.00 = 120  (52 h)
#   j5 ml   aws h100 x8  Jan 7 10 - now 12     16 GPU-h x 4.00 = 64, running
#   j6 data aws a100 x1  Jan 5 20 - Jan 6 02   4 x 3.00 + 2 x 2.00 = 16
JOBS = [
    _job("j1", "ml", "aws", "a100", 2, _at(5, 10), _at(5, 14)),
    _job("j2", "ml", "aws", "a100", 1, _at(6), _at(6, 4)),
    _job("j3", "data", "aws", "a100", 4, _at(7), _at(7, 2)),
    _job("j4", "data", "gcp", "a100", 1, _at(5), _at(7, 4)),
    _job("j5", "ml", "aws", "h100", 8, _at(7, 10), None, status="running"),
    _job("j6", "data", "aws", "a100", 1, _at(5, 20), _at(6, 2)),
]


def _inputs(jobs=JOBS, rates=RATES):
    jobs_table, rates_table = jobs_frame(jobs), rates_frame(rates)
    return daily_costs(jobs_table, rates_table, now=NOW), jobs_table, rates_table


def _summary(found):
    return [(r.kind, r.team_name, r.severity, r.savings_usd, r.job_ids) for r in found]


def test_cheaper_provider_prices_each_job_day_at_that_days_cheapest_rate():
    daily, _, rates = _inputs()

    found = cheaper_provider(daily, rates)

    # j1: 8 GPU-h at aws 3.00 when gcp asked 2.50 -> 4.00; j6: 4 GPU-h on Jan 5 -> 2.00. j2 (2.00
    # everywhere), j3 (3.00 everywhere), j4 (already the cheapest) and j5 (no other H100) save nothing.
    assert _summary(found) == [
        ("cheaper_provider", "data", "medium", 2.0, ("j6",)),  # 2 / 12 paid = 17 %
        ("cheaper_provider", "ml", "medium", 4.0, ("j1",)),  # 4 / 24 paid
    ]
    ml = found[1]
    assert ml.evidence == {
        "gpu_type": "a100",
        "gpu_hours": 8.0,
        "paid_usd": 24.0,
        "providers": ["aws"],
        "cheapest_providers": ["gcp"],
        "days": 1,
    }
    assert "8.0 a100 GPU-hours" in ml.reason and "$24.00 paid, $20.00" in ml.reason
    row_savings = 8 * (3.0 - 2.5) + 4 * (3.0 - 2.5)
    assert sum(r.savings_usd for r in found) == row_savings


def test_cheaper_days_compares_closed_jobs_with_the_cheapest_day_of_their_week():
    daily, jobs, rates = _inputs()

    found = cheaper_days(daily, jobs, rates)

    # Weekly minimum 2.00 for aws a100 and gcp a100. data: j3 8 x 1.00 + j4 (24 x 0.50 + 4 x 1.00)
    # + j6 4 x 1.00 = 28 of 24 + 72 + 12 = 108 paid (26 %); ml: j1 8 x 1.00 = 8 of 24. j5 runs still.
    assert _summary(found) == [
        ("cheaper_days", "data", "high", 28.0, ("j3", "j4", "j6")),
        ("cheaper_days", "ml", "high", 8.0, ("j1",)),
    ]
    assert found[0].evidence == {"gpu_hours": 40.0, "paid_usd": 108.0, "weeks": ["2026-W02"]}
    assert "$108.00" in found[0].reason and "$80.00" in found[0].reason


def test_long_running_jobs_show_the_cost_beyond_24_hours_as_at_stake_not_saved():
    daily, jobs, _ = _inputs()

    found = long_running(daily, jobs, now=NOW)

    # j4 ran 52 h; its hours after Jan 6 00:00 are 24 x 2.00 + 4 x 3.00 = 60.
    assert _summary(found) == [("long_running", "data", "medium", None, ("j4",))]
    assert found[0].evidence == {
        "run_hours": 52.0,
        "cost_beyond_24h_usd": 60.0,
        "status": "completed",
        "unpriced_gpu_hours_beyond_24h": 0.0,
    }
    assert "beyond 24 h cost $60.00" in found[0].reason and "not a certain saving" in found[0].reason


def test_long_running_severity_follows_48_and_72_hours_and_counts_running_jobs_to_now():
    now = _at(9, 1)  # j7 has run 73 h by then
    jobs = [
        _job("j7", "ml", "aws", "h100", 1, _at(6), None, status="running"),
        _job("j8", "ml", "aws", "h100", 1, _at(5), _at(6, 1)),
    ]
    rates = {(date(2026, 1, d), "aws", "h100"): Decimal(2) for d in range(5, 10)}
    daily = daily_costs(jobs_frame(jobs), rates_frame(rates), now=now)

    found = long_running(daily, jobs_frame(jobs), now=now)

    assert [(r.job_ids, r.severity, r.evidence["cost_beyond_24h_usd"]) for r in found] == [
        (("j7",), "high", 49 * 2.0),
        (("j8",), "low", 1 * 2.0),
    ]


def test_under_used_capacity_compares_used_gpu_hours_with_the_daily_peak():
    daily, jobs, rates = _inputs()

    found = under_used_capacity(daily, jobs, rates, now=NOW)

    # aws h100 Jan 7: peak 8, used 16 of 192: 176 idle x 4.00 = 704 (8 % busy)
    # aws a100 Jan 5: peak 2 (j1), used 8 + 4 of 48 -> 36 idle x 3.00 = 108
    #          Jan 6: peak 2 (j2 and j6 at 00:00), used 4 + 2 of 48 -> 42 x 2.00 = 84
    #          Jan 7: peak 4 (j3), used 8 of 96 -> 88 x 3.00 = 264; 26 of 192 busy overall (14 %)
    # gcp a100 Jan 5 and 6 fully used; Jan 7: 4 of 24 -> 20 x 3.00 = 60 (17 %)
    assert _summary(found) == [
        ("under_used_capacity", None, "medium", 108.0 + 84.0 + 264.0, ("j1", "j2", "j3", "j6")),
        ("under_used_capacity", None, "high", 704.0, ("j5",)),
        ("under_used_capacity", None, "medium", 60.0, ("j4",)),
    ]
    aws_a100 = found[0]
    assert [
        (d["day"], d["peak_gpus"], d["used_gpu_hours"], d["idle_usd"]) for d in aws_a100.evidence["days"]
    ] == [
        ("2026-01-05", 2, 12.0, 108.0),
        ("2026-01-06", 2, 6.0, 84.0),
        ("2026-01-07", 4, 8.0, 264.0),
    ]
    assert aws_a100.evidence["utilisation"] == pytest.approx(26 / 192)
    assert "only if that capacity is reserved" in aws_a100.reason


def test_all_advice_is_sorted_by_savings_with_the_at_stake_figures_last():
    daily, jobs, rates = _inputs()

    found = recommendations(daily, jobs, rates, now=NOW)

    assert [(r.kind, r.savings_usd) for r in found] == [
        ("under_used_capacity", 704.0),
        ("under_used_capacity", 456.0),
        ("under_used_capacity", 60.0),
        ("cheaper_days", 28.0),
        ("cheaper_days", 8.0),
        ("cheaper_provider", 4.0),
        ("cheaper_provider", 2.0),
        ("long_running", None),
    ]


def test_savings_follow_the_tenants_rates_and_are_never_invented():
    daily, jobs, rates = _inputs()
    doubled = {key: rate * 2 for key, rate in RATES.items()}

    base = recommendations(daily, jobs, rates, now=NOW)
    dear_daily, _, dear_rates = _inputs(rates=doubled)
    dear = recommendations(dear_daily, jobs, dear_rates, now=NOW)
    unpriced_daily, _, no_rates = _inputs(rates={})

    assert [r.savings_usd and r.savings_usd * 2 for r in base] == [r.savings_usd for r in dear]
    assert recommendations(unpriced_daily, jobs, no_rates, now=NOW) == []


def test_one_provider_at_one_rate_all_week_gives_no_price_advice():
    rates = {(date(2026, 1, d), "aws", "a100"): Decimal("3.00") for d in (5, 6, 7)}
    daily, jobs, rates_table = _inputs(JOBS[:3], rates)

    assert cheaper_provider(daily, rates_table) == [] and cheaper_days(daily, jobs, rates_table) == []


def test_peak_concurrency_does_not_overlap_back_to_back_jobs_and_carries_over_midnight():
    jobs = jobs_frame(
        [
            _job("a", "ml", "aws", "a100", 2, _at(5, 10), _at(5, 14)),
            _job("b", "ml", "aws", "a100", 2, _at(5, 14), _at(6, 1)),  # starts as a ends
            _job("c", "ml", "aws", "a100", 3, _at(6), _at(6, 1)),  # beside b after midnight
        ]
    )
    days = pd.DataFrame(
        {"day": pd.to_datetime(["2026-01-05", "2026-01-06"]), "provider": "aws", "gpu_type": "a100"}
    )

    peaks = daily_capacity(jobs, days)

    assert peaks["peak_gpus"].tolist() == [2, 5]


_random_jobs = st.lists(
    st.builds(
        lambda n, team, provider, start, minutes, gpus: _job(
            f"r{n}", team, provider, "a100", gpus, _at(5) + timedelta(minutes=start),
            _at(5) + timedelta(minutes=start + minutes),
        ),
        st.integers(0, 10**6), st.sampled_from(["ml", "data"]), st.sampled_from(["aws", "gcp"]),
        st.integers(0, 5 * 24 * 60), st.integers(1, 2 * 24 * 60), st.integers(1, 8),
    ),
    min_size=1, max_size=8, unique_by=lambda job: job.job_id,
)  # fmt: skip
_random_rates = st.lists(st.sampled_from(["1.50", "2.00", "2.75", "3.10"]), min_size=14, max_size=14)


@settings(max_examples=15, deadline=None)
@given(jobs=_random_jobs, prices=_random_rates)
def test_group_savings_add_up_to_the_savings_of_every_job_day(jobs, prices):
    rates = {
        (date(2026, 1, 5 + k), provider, "a100"): Decimal(prices[2 * k + p])
        for k in range(7)
        for p, provider in enumerate(("aws", "gcp"))
    }
    daily, jobs_table, rates_table = _inputs(jobs, rates)

    by_day, by_week = {}, {}
    for job in jobs:
        for day in job_cost(job, rates, now=NOW).days:
            if day.rate is None:
                continue
            cheapest = min(rate for (d, _, _), rate in rates.items() if d == day.day)
            week = min(rate for (d, p, _), rate in rates.items() if p == job.provider)  # one ISO week
            by_day[job.team_name] = by_day.get(job.team_name, 0) + day.gpu_hours * (day.rate - cheapest)
            by_week[job.team_name] = by_week.get(job.team_name, 0) + day.gpu_hours * (day.rate - week)

    provider_advice = {r.team_name: r.savings_usd for r in cheaper_provider(daily, rates_table)}
    day_advice = {r.team_name: r.savings_usd for r in cheaper_days(daily, jobs_table, rates_table)}
    assert provider_advice == pytest.approx({t: float(v) for t, v in by_day.items() if v >= Decimal("0.005")})
    assert day_advice == pytest.approx({t: float(v) for t, v in by_week.items() if v >= Decimal("0.005")})
