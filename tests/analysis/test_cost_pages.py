"""The cost dashboard and a team's page, rendered for each role on the Heliox-shaped sample, with their
downloads: the figures on the pages and in the files are the hand-computed ones of
``test_cost_analytics``; another tenant's member finds none of it."""

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from tests.analysis.test_cost_analytics import BY_DAY, BY_MODEL, BY_TEAM, TOTAL
from tests.builders import load_cost_rows

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "analysis" / "demo_costs"
PERIOD = "start=2026-01-01&end=2026-01-14"
ROLES = ("alice", "bob", "carol")
SHEETS = ("Cost by team", "Cost by model", "Cost by day and team", "Budgets", "Forecast", "Recommendations")


@pytest.fixture
def sample(world):
    with tenant_context(world.tenant):
        load_cost_rows((SAMPLE / "heliox-jobs.json").read_text(), (SAMPLE / "rates.csv").read_text())


def page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.content[:3000]
    return response.content.decode()


def dollars(value: float) -> str:
    return f"${value:,.2f}"


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_shows_the_hand_computed_figures_to_each_role(client_for, world, sample, role):
    html = page(client_for(getattr(world, role)), f"/costs/?{PERIOD}")
    assert 'aria-current="page">Costs</a>' in html
    assert f'data-testid="total-cost">{dollars(TOTAL)}<' in html  # $14,257.58
    assert 'data-testid="total-gpu-hours">2,715.50<' in html and 'data-testid="total-jobs">30<' in html
    for team, (cost, _, _) in BY_TEAM.items():
        assert f'href="/costs/teams/{team}/?start=2026-01-01&amp;end=2026-01-14">{team}</a></td>' in html
        assert dollars(cost) in html
    for model, cost in BY_MODEL.items():
        assert f'<tr data-row="{model}"><td>{model}</td>\n      <td class="num">{dollars(cost)}</td>' in html
    for day, cost in BY_DAY.items():
        assert f'<tr data-day="{day}">' in html and f'<td class="num">{dollars(cost)}</td></tr>' in html
    for canvas in ("chart-cost-by-day", "chart-cost-by-model", "chart-forecast"):
        assert f'id="{canvas}"' in html
    assert 'id="cost-chart-data"' in html and "<script>" not in html  # data only, no inline script
    assert 'href="/costs/data/"' in html
    assert "provisional-note" not in html and "unpriced-note" not in html  # both are zero in the sample
    # Runyard's own bill of the period's month (the usage ledger) beside the external GPU jobs
    assert (
        'data-testid="runyard-usage"' in html
        and "Runyard worksets, storage and transfer, January 2026" in html
    )


def test_budgets_forecast_and_advice_are_read_as_of_the_periods_end(client_for, world, sample):
    html = page(client_for(world.alice), f"/costs/?{PERIOD}")
    # ai-platform as of 2026-01-14: $9,979.69 of $100,000.00, projected $21,526.38 (see test_cost_analytics)
    assert "Budget burn, January 2026" in html
    assert "<strong>$9,979.69</strong> of $100,000.00 (10.0%)" in html
    assert "projected month end <strong>$21,526.38</strong>" in html
    assert html.count('data-testid="budget-status">On track</span>') == 3
    assert "linear trend + weekly seasonality" in html and "fitted on 14 days of history" in html
    assert "from 15 Jan 2026" in html and '<span class="pill pill-warn">forecast</span>' in html
    # job-018's hours beyond 24 h: $1,658.32 at stake, not an estimated saving
    assert "at stake <strong>$1,658.32</strong>" in html
    assert "estimated saving <strong>$" in html  # cheaper days of the week
    assert "Shared capacity" in html and ">nan<" not in html  # under-used capacity belongs to no team


def test_a_team_without_a_budget_says_so(client_for, world, sample):
    from analysis.models import Team

    with tenant_context(world.tenant):
        Team.objects.filter(name="ml-research").update(budget_usd=None)
    html = page(client_for(world.bob), f"/costs/?{PERIOD}")
    assert "<strong>$2,194.00</strong> spent · no budget set" in html
    assert 'data-testid="budget-status">No budget</span>' in html


@pytest.mark.parametrize("role", ROLES)
def test_a_teams_page_shows_its_cost_models_budget_and_jobs(client_for, world, sample, role):
    html = page(client_for(getattr(world, role)), f"/costs/teams/ai-platform/?{PERIOD}")
    assert "<h1>ai-platform</h1>" in html
    assert f'data-testid="total-cost">{dollars(9979.69)}<' in html
    assert 'data-testid="total-gpu-hours">1,671.00<' in html and 'data-testid="total-jobs">10<' in html
    assert html.count("<tr data-job=") == 10
    assert 'data-budget-team="ai-platform"' in html and 'data-budget-team="ml-research"' not in html
    assert 'id="chart-cost-by-model"' in html
    ml = page(client_for(getattr(world, role)), f"/costs/teams/ml-research/?{PERIOD}")
    # job-004: 8 H100, 01-11 23:30 → 01-12 05:45, 50 GPU-hours, $391.60
    assert '<tr data-job="job-004">' in ml
    job = ml.split('<tr data-job="job-004">')[1].split("</tr>")[0]
    assert "8 × H100" in job and "2026-01-11 23:30" in job and "2026-01-12 05:45" in job
    assert '<td class="num">50.00</td>' in job and "$391.60" in job and "completed" in job


def test_a_running_job_is_marked_provisional(client_for, world, sample):
    from datetime import timedelta

    from django.utils import timezone

    from analysis.models import GpuJob, Team

    now = timezone.now()
    with tenant_context(world.tenant):
        GpuJob.objects.create(
            job_id="job-live",
            team=Team.objects.get(name="data-science"),
            model_name="bert-base",
            provider="aws",
            gpu_type="a100",
            gpu_count=2,
            start_time=now - timedelta(hours=3),
            status="running",
        )
    html = page(client_for(world.alice), "/costs/teams/data-science/")
    assert '<tr data-job="job-live">' in html and 'data-testid="provisional">provisional' in html
    dashboard = page(client_for(world.alice), "/costs/")
    assert 'data-testid="unpriced-note"' in dashboard  # no rate today: its GPU-hours are unpriced


def test_an_unknown_team_is_404(client_for, world, sample):
    assert client_for(world.alice).get("/costs/teams/no-such-team/").status_code == 404
    assert client_for(world.alice).get("/costs/teams/no-such-team/export.xlsx").status_code == 404


def test_with_no_jobs_the_dashboard_says_where_to_upload_them(client_for, world):
    html = page(client_for(world.carol), "/costs/")
    assert 'No GPU jobs yet — <a href="/costs/data/">upload job metadata</a>' in html
    assert 'id="chart-cost-by-day"' not in html


def test_a_period_without_jobs_offers_the_last_thirty_days_with_jobs(client_for, world, sample):
    html = page(client_for(world.alice), "/costs/")  # the last 30 days: the sample is in January 2026
    assert 'data-testid="no-data-in-period"' in html
    assert 'href="?start=2025-12-15&amp;end=2026-01-13"' in html  # the last job ended on 2026-01-13
    assert 'data-testid="total-cost">$0.00<' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-02-01&end=2026-01-01", "end", "The end day is before the start day."),
        ("start=yesterday", "start", "Date has wrong format."),
        ("start=2024-01-01&end=2026-01-01", "start", "A period is at most 366 days."),
        ("gpu_type=tpu", "gpu_type", "tpu"),
        ("provider=moon", "provider", "moon"),
    ],
)
def test_a_bad_filter_is_shown_next_to_its_field(client_for, world, sample, query, field, message):
    html = page(client_for(world.alice), f"/costs/?{query}", status=400)
    error = html.split(f'data-testid="error-{field}">')[1].split("</span>")[0]
    assert message in error
    assert 'data-testid="total-cost"' not in html
    team = page(client_for(world.alice), f"/costs/teams/ai-platform/?{query}", status=400)
    assert f'data-testid="error-{field}"' in team
    download = client_for(world.alice).get(f"/costs/export.xlsx?{query}")
    assert download.status_code == 400 and message in download.content.decode()


def test_provider_and_gpu_type_filters_narrow_the_figures(client_for, world, sample):
    h100 = page(client_for(world.alice), f"/costs/?{PERIOD}&gpu_type=h100&provider=aws")
    a100 = page(client_for(world.alice), f"/costs/?{PERIOD}&gpu_type=a100")

    def total(html):
        return float(html.split('data-testid="total-cost">$')[1].split("<")[0].replace(",", ""))

    assert total(h100) + total(a100) == pytest.approx(TOTAL, abs=0.011)
    assert '<option value="h100" selected>' in h100


def test_the_workbook_has_every_table_with_the_pages_figures(client_for, world, sample):
    response = client_for(world.carol).get(f"/costs/export.xlsx?{PERIOD}")
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == 'attachment; filename="costs-dashboard-2026-01-01-2026-01-14.xlsx"'
    )
    book = zipfile.ZipFile(io.BytesIO(response.content))
    workbook = book.read("xl/workbook.xml").decode()
    for sheet in SHEETS:
        assert f'name="{sheet}"' in workbook
    strings = book.read("xl/sharedStrings.xml").decode()
    assert "ai-platform" in strings and "gpt-3.5-turbo" in strings and "Estimated savings (USD)" in strings
    first = book.read("xl/worksheets/sheet1.xml").decode()  # "Cost by team": money as numbers, in cents
    numbers = {round(float(v), 6) for v in re.findall(r"<v>([^<]*)</v>", first)}  # written as %.16g
    assert {cost for cost, _, _ in BY_TEAM.values()} <= numbers


def test_each_table_downloads_as_csv(client_for, world, sample):
    client = client_for(world.bob)
    by_model = client.get(f"/costs/export/by-model.csv?{PERIOD}")
    assert by_model["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(by_model.content.decode())))
    assert {row["Model"]: float(row["Cost (USD)"]) for row in rows} == BY_MODEL
    budgets = list(
        csv.DictReader(io.StringIO(client.get(f"/costs/export/budgets.csv?{PERIOD}").content.decode()))
    )
    assert {row["Team"]: row["Spent this month (USD)"] for row in budgets}["ai-platform"] == "9979.69"
    for table in ("by-team", "by-day", "forecast", "recommendations"):
        response = client.get(f"/costs/export/{table}.csv?{PERIOD}")
        assert response.status_code == 200 and response.content.count(b"\r\n") > 1, table
    assert client.get(f"/costs/export/colours.csv?{PERIOD}").status_code == 404
    jobs = client.get(f"/costs/teams/ml-research/export.csv?{PERIOD}")
    job_rows = {row["Job id"]: row for row in csv.DictReader(io.StringIO(jobs.content.decode()))}
    assert len(job_rows) == 10 and job_rows["job-004"]["Cost (USD)"] == "391.60"
    team_book = client.get(f"/costs/teams/ml-research/export.xlsx?{PERIOD}")
    names = zipfile.ZipFile(io.BytesIO(team_book.content)).read("xl/workbook.xml").decode()
    assert all(f'name="{sheet}"' in names for sheet in ("Cost by model", "Budget", "Jobs"))


def test_the_api_answers_export_csv_and_xlsx_as_attachments(api_for, world, sample):
    alice = api_for(world.alice)
    by_team = alice.get(f"/api/v1/analytics/cost?{PERIOD}&group_by=team&export=csv")
    assert by_team.status_code == 200 and by_team["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(by_team.content.decode())))
    assert {row["Team"]: float(row["Cost (USD)"]) for row in rows} == {
        t: c for t, (c, _, _) in BY_TEAM.items()
    }
    for path in (
        "/api/v1/analytics/cost/by-team",
        "/api/v1/analytics/cost/by-model",
        "/api/v1/analytics/cost/trend",
        "/api/v1/analytics/recommendations",
    ):
        for fmt in ("csv", "xlsx"):
            response = alice.get(f"{path}?{PERIOD}&export={fmt}")
            assert response.status_code == 200, (path, fmt)
            assert f'.{fmt}"' in response["Content-Disposition"]
    for path in ("/api/v1/analytics/budgets", "/api/v1/analytics/forecast"):
        response = alice.get(f"{path}?today=2026-01-15&export=xlsx")
        assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None, path
    bad = alice.get(f"/api/v1/analytics/cost?{PERIOD}&export=pdf")
    assert bad.status_code == 400 and "export" in bad.json()["error"]["fields"]
    assert alice.get(f"/api/v1/analytics/cost?{PERIOD}").json()["total"]["cost"] == TOTAL  # JSON unchanged


def test_another_tenants_member_finds_no_cost_page_or_download(client_for, world, sample):
    mallory = client_for(world.mallory, world.tenant)
    for path in (
        f"/costs/?{PERIOD}",
        f"/costs/teams/ai-platform/?{PERIOD}",
        f"/costs/export.xlsx?{PERIOD}",
        f"/costs/export/by-team.csv?{PERIOD}",
        f"/costs/teams/ai-platform/export.xlsx?{PERIOD}",
        f"/api/v1/analytics/cost?{PERIOD}&export=csv",
    ):
        assert mallory.get(path).status_code == 404, path
    own = page(client_for(world.mallory, world.other), f"/costs/?{PERIOD}")
    assert "No GPU jobs yet" in own  # her tenant's schema has none
