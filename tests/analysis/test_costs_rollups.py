"""Rollups and cost by group: exact, hand-computed, and never double-counted."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.costs.proration import daily_costs, job_cost, jobs_frame, rates_frame
from analysis.costs.records import JobRecord
from analysis.costs.rollups import (
    CostTotal,
    cost_by,
    cost_by_model,
    cost_by_team,
    merge_rollups,
    period_total,
    rollup,
    trend,
)

NOW = datetime(2026, 1, 20, tzinfo=UTC)
JAN = [date(2026, 1, d) for d in range(1, 15)]
# A100 costs $2.50 then $3.00 from Jan 2; H100 $4.00 every day; no rate at all on Jan 14.
RATES = {
    **{(d, "aws", "a100"): Decimal("2.50") if d == JAN[0] else Decimal("3.00") for d in JAN[:13]},
    **{(d, "aws", "h100"): Decimal("4.00") for d in JAN[:13]},
}


def _utc(day, hour=0):
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def _job(job_id, team, model, gpu, gpus, start, end, status="completed"):
    return JobRecord(job_id, team, model, "aws", gpu, gpus, start, end, status)


# Hand-computed costs (GPU-hours x rate):
#   j1 ml-research  llama-2-7b a100 x2  Jan 1 22:00 -> Jan 2 02:00: 4 x 2.50 + 4 x 3.00 = 22
#   j2 ml-research  gpt-4      h100 x1  Jan 3 00:00 -> Jan 3 10:00: 10 x 4.00          = 40
#   j3 data-science llama-2-7b a100 x4  Jan 3 06:00 -> Jan 3 11:00: 20 x 3.00          = 60
#   j4 ai-platform  gpt-4      h100 x8  Jan 5 12:00 -> Jan 5 12:30:  4 x 4.00          = 16
#   j5 ai-platform  bert-base  a100 x1  Jan 13 20:00 -> Jan 14 02:00: 4 x 3.00 = 12, and 2 GPU-h unpriced
SAMPLE = [
    _job("j1", "ml-research", "llama-2-7b", "a100", 2, _utc(1, 22), _utc(2, 2)),
    _job("j2", "ml-research", "gpt-4", "h100", 1, _utc(3), _utc(3, 10)),
    _job("j3", "data-science", "llama-2-7b", "a100", 4, _utc(3, 6), _utc(3, 11)),
    _job("j4", "ai-platform", "gpt-4", "h100", 8, _utc(5, 12), _utc(5, 12) + timedelta(minutes=30)),
    _job("j5", "ai-platform", "bert-base", "a100", 1, _utc(13, 20), _utc(14, 2)),
]


def _rollups(jobs, rates=RATES, now=NOW):
    return rollup(daily_costs(jobs_frame(jobs), rates_frame(rates), now=now))


def _as_dict(answer, key):
    return {row[key]: (row["cost"], row["gpu_hours"], row["job_count"]) for _, row in answer.iterrows()}


def test_cost_by_team_and_by_model_equal_the_hand_computed_figures():
    rollups = _rollups(SAMPLE)

    by_team = cost_by_team(rollups)
    by_model = cost_by_model(rollups)

    assert by_team["team_name"].tolist() == [
        "ml-research",
        "data-science",
        "ai-platform",
    ]  # most expensive first
    assert _as_dict(by_team, "team_name") == {
        "ml-research": (62.0, 18.0, 2),
        "data-science": (60.0, 20.0, 1),
        "ai-platform": (28.0, 10.0, 2),
    }
    assert _as_dict(by_model, "model_name") == {
        "llama-2-7b": (82.0, 28.0, 2),
        "gpt-4": (56.0, 14.0, 2),
        "bert-base": (12.0, 6.0, 1),
    }
    assert period_total(rollups) == CostTotal(150.0, 48.0, 5, 2.0, 0.0)
    assert by_team["cost"].sum() == by_model["cost"].sum() == period_total(rollups).cost
    assert by_team["unpriced_gpu_hours"].tolist() == [0.0, 0.0, 2.0]


def test_two_teams_sharing_a_gpu_type_are_each_charged_only_their_own_hours():
    # Heliox charged every team that touched A100 on Jan 3 the whole A100 bill of the day ($36 each,
    # $72 in all). Prorated: team-a ran 5 h x 2 GPUs = 10 GPU-h ($30), team-b 2 h x 1 GPU ($6).
    jobs = [
        _job("a1", "team-a", "llama-2-7b", "a100", 2, _utc(3, 8), _utc(3, 13)),
        _job("b1", "team-b", "gpt-4", "a100", 1, _utc(3, 9), _utc(3, 11)),
    ]
    rollups = _rollups(jobs)

    by_team = _as_dict(cost_by_team(rollups), "team_name")

    assert by_team == {"team-a": (30.0, 10.0, 1), "team-b": (6.0, 2.0, 1)}
    daily_bill = 12 * 3.0  # all A100 GPU-hours of Jan 3 at its rate
    assert sum(cost for cost, _, _ in by_team.values()) == daily_bill == period_total(rollups).cost


def test_a_period_takes_only_the_days_inside_it():
    rollups = _rollups(SAMPLE)

    jan2_3 = cost_by_team(rollups, start=date(2026, 1, 2), end=date(2026, 1, 3))

    # j1 adds only its Jan 2 share (4 GPU-h x 3.00) and, having started on Jan 1, is not counted.
    assert _as_dict(jan2_3, "team_name") == {"ml-research": (52.0, 14.0, 1), "data-science": (60.0, 20.0, 1)}


def test_filters_and_multi_key_groups():
    rollups = _rollups(SAMPLE)

    answer = cost_by(rollups, ["team", "model"], gpu_type="a100", provider=["aws"])

    assert answer[["team_name", "model_name", "cost"]].values.tolist() == [
        ["data-science", "llama-2-7b", 60.0],
        ["ml-research", "llama-2-7b", 22.0],
        ["ai-platform", "bert-base", 12.0],
    ]
    with pytest.raises(ValueError, match="team, model"):
        cost_by(rollups, ["customer"])


def test_trend_per_day_and_week_in_time_order():
    rollups = _rollups(SAMPLE)

    per_day = trend(rollups, "day")
    per_week = trend(rollups, "week")

    assert per_day["cost"].tolist() == [10.0, 12.0, 100.0, 16.0, 12.0, 0.0]
    assert per_day["unpriced_gpu_hours"].tolist()[-1] == 2.0
    # ISO weeks: Mon Dec 29 - Sun Jan 4, Mon Jan 5 - Sun Jan 11, Mon Jan 12 - ...
    assert per_week[["week", "cost"]].values.tolist() == [
        [datetime(2025, 12, 29), 122.0],
        [datetime(2026, 1, 5), 16.0],
        [datetime(2026, 1, 12), 12.0],
    ]


def test_running_jobs_cost_is_marked_provisional():
    running = _job("r1", "team-a", "gpt-4", "h100", 2, _utc(4, 6), None, status="running")

    total = period_total(_rollups([*SAMPLE, running], now=_utc(4, 9)))

    assert (total.cost, total.provisional_cost) == (150.0 + 6 * 4.0, 24.0)


def test_rollups_of_two_batches_merge_into_the_rollup_of_all():
    whole = _rollups(SAMPLE)

    merged = merge_rollups(_rollups(SAMPLE[:2]), _rollups(SAMPLE[2:]))

    assert merged.equals(whole)


BASE = datetime(2026, 1, 1, tzinfo=UTC)
_jobs = st.builds(
    lambda n, start_min, minutes, gpus, team, model, gpu: _job(
        f"j{n}",
        team,
        model,
        gpu,
        gpus,
        BASE + timedelta(minutes=start_min),
        BASE + timedelta(minutes=start_min + minutes),
    ),
    st.integers(0, 10**6),
    st.integers(0, 12 * 24 * 60),
    st.integers(0, 3 * 24 * 60),
    st.integers(1, 8),
    st.sampled_from(["t1", "t2", "t3"]),
    st.sampled_from(["m1", "m2"]),
    st.sampled_from(["a100", "h100"]),
)


@settings(max_examples=40, deadline=None)
@given(jobs=st.lists(_jobs, min_size=1, max_size=12, unique_by=lambda j: j.job_id))
def test_sum_over_teams_equals_sum_over_models_equals_the_sum_of_job_costs(jobs):
    rollups = _rollups(jobs)

    total = period_total(rollups)

    expected = float(sum(job_cost(job, RATES, now=NOW).total for job in jobs))
    assert cost_by_team(rollups)["cost"].sum() == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert cost_by_model(rollups)["cost"].sum() == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert total.cost == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert total.job_count == len(jobs) - sum(job.end_time == job.start_time for job in jobs)


def test_a_job_across_a_month_end_is_split_between_months():
    job = _job(
        "m1",
        "team-a",
        "gpt-4",
        "h100",
        1,
        datetime(2026, 1, 31, 23, tzinfo=UTC),
        _utc(1, 1) + timedelta(days=31),
    )
    rates = {(date(2026, 1, 31), "aws", "h100"): Decimal(2), (date(2026, 2, 1), "aws", "h100"): Decimal(3)}

    per_month = trend(_rollups([job], rates=rates, now=datetime(2026, 3, 1, tzinfo=UTC)), "month")

    assert per_month[["month", "cost", "gpu_hours", "job_count"]].values.tolist() == [
        [datetime(2026, 1, 1), 2.0, 1.0, 1],
        [datetime(2026, 2, 1), 3.0, 1.0, 0],
    ]


def test_no_jobs_give_zero_totals_and_empty_groups():
    rollups = _rollups([])

    assert period_total(rollups) == CostTotal(0.0, 0.0, 0, 0.0, 0.0)
    assert cost_by_team(rollups).empty and list(cost_by_team(rollups).columns)[:2] == ["team_name", "cost"]
