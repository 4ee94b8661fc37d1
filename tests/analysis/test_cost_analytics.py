"""``/api/v1/analytics/cost…`` on the Heliox-shaped sample (3 teams, 30 GPU jobs on AWS A100/H100,
2026-01-01 → 01-14, 14 days of rates): every figure equals a ground truth computed by hand.

How the figures were computed (outside Runyard, with plain datetime and Decimal): each job was cut at
each midnight UTC; a piece's GPU-hours are its seconds × gpu_count / 3600, its cost those GPU-hours ×
that day's rate for the job's GPU type; sums rounded to cents at the end, half up (many sums here
end in exactly half a cent: rates have two decimals and jobs start on quarter hours).

For example job-004 (8 H100, 2026-01-11 23:30 → 01-12 05:45): 0.5 h × 8 = 4 GPU-hours × $7.28 = $29.12
on the 11th, 5.75 h × 8 = 46 GPU-hours × $7.88 = $362.48 on the 12th, $391.60 in all.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from tests.builders import load_cost_rows

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "analysis" / "demo_costs"
PERIOD = {"start": "2026-01-01", "end": "2026-01-14"}

TOTAL = 14257.58
GPU_HOURS = 2715.5
BY_TEAM = {  # team: (cost, GPU-hours, jobs)
    "ai-platform": (9979.69, 1671.0, 10),
    "ml-research": (2194.00, 486.75, 10),
    "data-science": (2083.89, 557.75, 10),
}
BY_MODEL = {
    "gpt-3.5-turbo": 4750.81,
    "llama-2-7b": 2528.20,
    "claude-2": 2400.44,
    "llama-2-70b": 1333.58,
    "bert-base": 1113.23,
    "gpt-4": 766.66,
    "whisper-large-v3": 617.50,
    "bert-large": 353.17,
    "stable-diffusion-xl": 300.24,
    "llama-2-13b": 93.77,
}
BY_DAY = {
    "2026-01-01": 382.13,
    "2026-01-02": 1891.66,
    "2026-01-03": 1995.44,
    "2026-01-04": 1728.99,
    "2026-01-05": 854.19,
    "2026-01-06": 207.64,
    "2026-01-07": 772.05,
    "2026-01-08": 509.20,
    "2026-01-09": 1036.95,
    "2026-01-10": 2082.85,
    "2026-01-11": 1830.57,
    "2026-01-12": 836.26,
    "2026-01-13": 129.68,
}
BY_WEEK = {"2025-12-29": 5998.21, "2026-01-05": 7293.44, "2026-01-12": 965.94}  # Mondays


@pytest.fixture
def sample(world):
    with tenant_context(world.tenant):
        load_cost_rows((SAMPLE / "heliox-jobs.json").read_text(), (SAMPLE / "rates.csv").read_text())


@pytest.fixture
def alice(api_for, world):
    return api_for(world.alice)


def cost(client, **params):
    response = client.get("/api/v1/analytics/cost", {**PERIOD, **params})
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_total_and_the_cost_by_team_equal_the_hand_computed_figures(alice, sample):
    answer = cost(alice, group_by="team")
    assert answer["total"] == {
        "cost": TOTAL,
        "gpu_hours": GPU_HOURS,
        "job_count": 30,
        "unpriced_gpu_hours": 0.0,
        "provisional_cost": 0.0,
    }
    assert answer["period"] == PERIOD and answer["currency"] == "USD" and answer["source"] == "rollups"
    teams = [(g["group"]["team"], g["cost"], g["gpu_hours"], g["job_count"]) for g in answer["groups"]]
    assert teams == [(team, *figures) for team, figures in BY_TEAM.items()]  # most expensive first


def test_sum_over_teams_equals_sum_over_models_equals_the_total(alice, sample):
    by_team = cost(alice, group_by="team")["groups"]
    by_model = cost(alice, group_by="model")["groups"]
    assert {g["group"]["model"]: g["cost"] for g in by_model} == BY_MODEL
    cents = lambda groups: sum(Decimal(str(g["cost"])) for g in groups)  # noqa: E731
    # Each group is rounded to cents on its own, so the sums may differ from the total by < 1 cent per group.
    assert abs(cents(by_team) - Decimal(str(TOTAL))) < Decimal("0.01") * len(by_team)
    assert abs(cents(by_model) - Decimal(str(TOTAL))) < Decimal("0.01") * len(by_model)
    by_both = cost(alice, group_by="team,model")["groups"]
    assert sum(g["gpu_hours"] for g in by_both) == pytest.approx(GPU_HOURS)
    assert len(by_both) == 10  # each model belongs to one team in the sample


def test_the_trend_splits_jobs_at_midnight_utc(alice, sample):
    days = alice.get("/api/v1/analytics/cost/trend", PERIOD).json()
    assert {p["period_start"]: p["cost"] for p in days["points"]} == BY_DAY  # 01-14 ran nothing
    weeks = alice.get("/api/v1/analytics/cost/trend", {**PERIOD, "period": "week"}).json()
    assert {p["period_start"]: p["cost"] for p in weeks["points"]} == BY_WEEK
    one_job = cost(alice, team="ml-research", model="gpt-4", start="2026-01-11", end="2026-01-12")
    assert one_job["total"]["gpu_hours"] == 50.0 and one_job["total"]["cost"] == 391.60  # job-004
    eleventh = cost(alice, team="ml-research", model="gpt-4", start="2026-01-11", end="2026-01-11")
    assert eleventh["total"]["cost"] == 29.12 and eleventh["total"]["job_count"] == 1


def test_heliox_by_team_and_by_model_shapes_carry_the_prorated_figures(alice, sample):
    by_team = alice.get("/api/v1/analytics/cost/by-team", PERIOD).json()
    assert by_team[0] == {
        "team_name": "ai-platform",
        "total_cost_usd": 9979.69,
        "gpu_hours": 1671.0,
        "job_count": 10,
    }
    assert [row["team_name"] for row in by_team] == list(BY_TEAM)
    by_model = alice.get("/api/v1/analytics/cost/by-model", PERIOD).json()
    assert {row["model_name"]: row["total_cost_usd"] for row in by_model} == BY_MODEL


def test_a_status_filter_is_answered_from_the_jobs_and_agrees_with_the_rollups(alice, sample):
    completed = cost(alice, status="completed")
    assert completed["source"] == "jobs"
    assert (completed["total"]["cost"], completed["total"]["gpu_hours"], completed["total"]["job_count"]) == (
        9718.87,
        1943.5,
        27,
    )
    every = cost(alice, status="pending,running,completed,failed,cancelled", group_by="team")
    assert every["total"] == cost(alice)["total"]
    assert every["groups"] == cost(alice, group_by="team")["groups"]


def test_filters_by_provider_and_gpu_type_are_normalised(alice, sample):
    h100 = cost(alice, gpu_type="H100 ", provider="AWS")
    a100 = cost(alice, gpu_type="a100")
    assert h100["total"]["cost"] + a100["total"]["cost"] == pytest.approx(TOTAL, abs=0.011)
    assert cost(alice, provider="gcp")["total"]["cost"] == 0.0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "start"),
        ({"group_by": "team,colour"}, "group_by"),
        ({"gpu_type": "h100,tpu"}, "gpu_type"),
        ({"status": "done"}, "status"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(alice, params, field):
    response = alice.get("/api/v1/analytics/cost", params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()


def test_another_tenants_member_cannot_read_the_costs(api_for, client_for, world, sample):
    mallory = api_for(world.mallory, tenant=world.tenant, token_tenant=world.other)
    assert mallory.get("/api/v1/analytics/cost", PERIOD).status_code in (401, 404)
    page = client_for(world.mallory, world.tenant)
    assert page.get("/api/v1/analytics/cost/by-team", PERIOD).status_code == 404
    own = api_for(world.mallory, tenant=world.other)
    assert own.get("/api/v1/analytics/cost", PERIOD).json()["total"]["cost"] == 0.0  # her schema: no jobs


def test_budget_burn_as_of_the_14th_projects_the_month_end_at_the_last_weeks_pace(alice, sample):
    answer = alice.get("/api/v1/analytics/budgets", {"today": "2026-01-14"}).json()
    assert (answer["month"], answer["currency"]) == ("2026-01", "USD")
    rows = {row["team_name"]: row for row in answer["teams"]}
    # spent = Jan 1-14; pace = mean of Jan 8-14; projected = spent + pace × 17 days left.
    expected = {
        "ml-research": (50000.0, 2194.00, 47806.00, 96.62, 3836.46, 0.0439),
        "data-science": (75000.0, 2083.89, 72916.11, 142.10, 4499.53, 0.0278),
        "ai-platform": (100000.0, 9979.69, 90020.31, 679.22, 21526.38, 0.0998),
    }
    for team, (budget, spent, remaining, pace, projected, share) in expected.items():
        row = rows[team]
        assert (row["budget_usd"], row["spent"], row["remaining"], row["daily_mean"]) == (
            budget,
            spent,
            remaining,
            pace,
        )
        assert (row["projected"], row["share_used"], row["days_left"], row["status"]) == (
            projected,
            share,
            17,
            "ok",
        )


def test_the_forecast_is_the_documented_trend_plus_weekly_seasonality(alice, sample):
    answer = alice.get("/api/v1/analytics/forecast", {"today": "2026-01-15"}).json()
    assert answer["available"] and answer["label"] == "forecast" and answer["history_days"] == 14
    history = [BY_DAY.get(f"2026-01-{day:02d}", 0.0) for day in range(1, 15)]
    x = list(range(14))
    mean_x, mean_y = sum(x) / 14, sum(history) / 14
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, history, strict=True)) / sum(
        (a - mean_x) ** 2 for a in x
    )
    residuals = [b - (mean_y - slope * mean_x + slope * a) for a, b in zip(x, history, strict=True)]
    weekday = [(3 + a) % 7 for a in x]  # 2026-01-01 is a Thursday
    means = [sum(r for r, w in zip(residuals, weekday, strict=True) if w == day) / 2 for day in range(7)]
    seasonal = [m - sum(means) / 7 for m in means]
    first = max(0.0, mean_y - slope * mean_x + slope * 14 + seasonal[(3 + 14) % 7])  # Jan 15
    assert answer["days"][0]["day"] == "2026-01-15" and len(answer["days"]) == 30
    assert answer["days"][0]["forecast"] == pytest.approx(first, abs=0.006)
    assert answer["total"]["total"] == pytest.approx(sum(d["forecast"] for d in answer["days"]), abs=0.2)
    assert answer["total"]["lower"] <= answer["total"]["total"] <= answer["total"]["upper"]
    short = alice.get("/api/v1/analytics/forecast", {"today": "2026-01-10"}).json()
    assert not short["available"] and "9" in short["reason"] and short["days"] == []


def test_savings_advice_is_computed_from_the_tenants_rates(alice, sample):
    answer = alice.get("/api/v1/analytics/recommendations", PERIOD).json()
    assert answer["label"] == "estimated" and not answer["jobs_cut"]
    advice = answer["recommendations"]
    long_runs = {job: item for item in advice if item["kind"] == "long_running" for job in item["job_ids"]}
    # job-018: 8 H100 from 01-10 01:45 to 01-12 05:45 (52 h). Beyond its first 24 h: 22.25 h on the 11th
    # at $7.28 and 5.75 h on the 12th at $7.88, × 8 GPUs = $1 658.32 at stake (not a certain saving).
    job_018 = long_runs["job-018"]
    assert job_018["severity"] == "medium" and job_018["savings_usd"] is None
    assert job_018["evidence"]["cost_beyond_24h_usd"] == pytest.approx(1658.32)
    assert "job-016" not in long_runs  # 2 h 15 min
    dear_days = [item for item in advice if item["kind"] == "cheaper_days"]
    assert dear_days and all(item["savings_usd"] > 0 for item in dear_days)
    assert not [item for item in advice if item["kind"] == "cheaper_provider"]  # one provider in the sample
