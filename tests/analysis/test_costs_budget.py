"""Budget burn: month-to-date spend, remaining, pace of the last 7 days and the projected month end."""

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from analysis.costs.budget import BUDGET_COLUMNS, budget_burn


def _rollups(rows):
    """Rollup-shaped rows from (day, team, model, cost); the other measures follow from the cost."""
    return pd.DataFrame(
        [
            {
                "day": datetime.fromisoformat(day),
                "team_name": team,
                "model_name": model,
                "provider": "aws",
                "gpu_type": "a100",
                "gpu_hours": cost / 2.0,
                "cost": cost,
                "unpriced_gpu_hours": 0.0,
                "provisional_cost": 0.0,
                "jobs_started": 1,
            }
            for day, team, model, cost in rows
        ]
    )


ROLLUPS = _rollups(
    [
        ("2025-12-31", "alpha", "gpt-4", 500.0),  # last month: not spent this month
        ("2026-01-01", "alpha", "gpt-4", 100.0),
        ("2026-01-05", "alpha", "gpt-4", 40.0),
        ("2026-01-05", "alpha", "bert", 30.0),  # two models on one day: both count
        ("2026-01-10", "alpha", "gpt-4", 70.0),
        ("2026-01-11", "alpha", "gpt-4", 999.0),  # after today: not spent yet
        ("2026-01-02", "beta", "gpt-4", 50.0),
        ("2026-01-08", "beta", "bert", 140.0),
        ("2026-01-09", "gamma", "gpt-4", 150.0),
        ("2026-01-03", "delta", "bert", 30.0),
    ]
)
BUDGETS = {"alpha": Decimal("1000"), "beta": Decimal("300"), "gamma": Decimal("100"), "epsilon": None}


def _by_team(frame):
    return {row["team_name"]: row for row in frame.to_dict("records")}


def test_spent_remaining_pace_and_projection_equal_the_hand_computed_figures():
    burn = budget_burn(ROLLUPS, BUDGETS, today=date(2026, 1, 10))

    assert list(burn.columns) == list(BUDGET_COLUMNS)
    rows = _by_team(burn)
    # alpha: spent 100 + 40 + 30 + 70 = 240; the last 7 days (Jan 4..10) cost 140, so $20/day;
    # 21 days are left in January: 240 + 20 x 21 = 660 <= 1000.
    alpha = rows["alpha"]
    assert (alpha["budget_usd"], alpha["spent"], alpha["remaining"]) == (1000.0, 240.0, 760.0)
    assert alpha["share_used"] == pytest.approx(0.24)
    assert (alpha["daily_mean"], alpha["days_left"], alpha["projected"]) == (20.0, 21, 660.0)
    assert alpha["status"] == "ok"
    # beta: spent 190, Jan 8 in the window: 140 / 7 = 20/day, 190 + 420 = 610 > 300.
    beta = rows["beta"]
    assert (beta["spent"], beta["remaining"], beta["projected"], beta["status"]) == (
        190.0,
        110.0,
        610.0,
        "at_risk",
    )
    # gamma: 150 spent against 100: over, whatever the projection (150 + 150/7 x 21 = 600).
    gamma = rows["gamma"]
    assert (gamma["spent"], gamma["remaining"], gamma["share_used"], gamma["status"]) == (
        150.0,
        -50.0,
        1.5,
        "over",
    )
    assert gamma["projected"] == pytest.approx(600.0)
    # delta spends without a budget; epsilon has an explicit None budget and spends nothing.
    delta, epsilon = rows["delta"], rows["epsilon"]
    assert (delta["spent"], delta["daily_mean"], delta["projected"], delta["status"]) == (
        30.0,
        0.0,
        30.0,
        "no_budget",
    )
    assert pd.isna(delta["remaining"]) and pd.isna(delta["share_used"]) and pd.isna(delta["budget_usd"])
    assert (epsilon["spent"], epsilon["status"]) == (0.0, "no_budget")


def test_teams_are_sorted_by_name_and_their_spend_sums_to_the_month_total():
    burn = budget_burn(ROLLUPS, BUDGETS, today=date(2026, 1, 10))

    assert burn["team_name"].tolist() == ["alpha", "beta", "delta", "epsilon", "gamma"]
    january = ROLLUPS[(ROLLUPS["day"] >= "2026-01-01") & (ROLLUPS["day"] <= "2026-01-10")]
    assert burn["spent"].sum() == january["cost"].sum() == 610.0


def test_a_young_month_averages_over_the_days_it_has():
    burn = _by_team(budget_burn(ROLLUPS, BUDGETS, today=date(2026, 1, 3)))

    # Jan 1..3 is the whole window: alpha spent 100, so 100/3 a day for the 28 days left.
    alpha = burn["alpha"]
    assert (alpha["spent"], alpha["days_left"]) == (100.0, 28)
    assert alpha["daily_mean"] == pytest.approx(100 / 3)
    assert alpha["projected"] == pytest.approx(100 + 100 / 3 * 28)
    assert alpha["status"] == "at_risk"  # 1033.33 > 1000
    assert "gamma" in burn and burn["gamma"]["spent"] == 0.0 and burn["gamma"]["status"] == "ok"


def test_on_the_last_day_of_the_month_the_projection_is_the_spend():
    rollups = _rollups([("2026-02-27", "alpha", "gpt-4", 300.0), ("2026-02-28", "alpha", "gpt-4", 400.0)])

    alpha = _by_team(budget_burn(rollups, {"alpha": Decimal("650")}, today=date(2026, 2, 28)))["alpha"]

    assert (alpha["spent"], alpha["days_left"], alpha["projected"], alpha["status"]) == (
        700.0,
        0,
        700.0,
        "over",
    )
    assert alpha["daily_mean"] == pytest.approx(100.0)  # 700 over Feb 22..28


def test_a_zero_budget_has_no_share_but_is_over_once_anything_is_spent():
    rollups = _rollups([("2026-01-02", "alpha", "gpt-4", 1.0)])

    alpha = _by_team(budget_burn(rollups, {"alpha": Decimal(0)}, today=date(2026, 1, 2)))["alpha"]

    assert pd.isna(alpha["share_used"]) and alpha["status"] == "over" and alpha["remaining"] == -1.0
