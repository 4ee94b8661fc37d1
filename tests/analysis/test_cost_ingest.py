"""Ingesting cost data: teams and jobs (JSON, JSON Lines, CSV) and rates (CSV) through the ingest service
and its task (eager here), the report of each ingest, and rollups kept equal to a rebuild from scratch
through inserts, updates and rate changes. Figures are worked out by hand in each test."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django_tenants.utils import tenant_context

from analysis.models import CostIngest, CostRollup, GpuJob, RateSnapshot, Team
from analysis.rollups import computed_rollups, rebuild_rollups
from analysis.services.costs import delete_rate, set_rate, set_team_budget, start_cost_ingest

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples" / "costs"
KEY = ("day", "team_id", "model_name", "provider", "gpu_type")
MEASURES = ("gpu_hours", "cost", "unpriced_gpu_hours", "jobs_started")


@pytest.fixture
def ingest(world, django_capture_on_commit_callbacks):
    """Ingest ``content`` into alpha as alice; the task (eager) runs when the upload commits."""

    def run(name: str, content: bytes | str, kind: str = "jobs") -> CostIngest:
        data = content.encode() if isinstance(content, str) else content
        with tenant_context(world.tenant), django_capture_on_commit_callbacks(execute=True):
            code = start_cost_ingest(SimpleUploadedFile(name, data), kind=kind, actor=world.alice).code
        with tenant_context(world.tenant):
            return CostIngest.objects.get(code=code)

    return run


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def stored_rollups(tenant) -> dict:
    with tenant_context(tenant):
        teams = dict(Team.objects.values_list("id", "name"))
        return {
            (row["day"], teams[row["team_id"]], *[row[k] for k in KEY[2:]]): tuple(row[m] for m in MEASURES)
            for row in CostRollup.objects.values(*KEY, *MEASURES)
        }


def assert_same_rollups(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, values in expected.items():
        assert actual[key] == pytest.approx(values, abs=1e-9), key


def rollups_after_rebuild(tenant) -> dict:
    with tenant_context(tenant):
        rebuild_rollups()
    return stored_rollups(tenant)


# -- reports -----------------------------------------------------------------------------------------------


def test_a_json_file_reports_each_refused_row_and_keeps_the_good_ones_in_rollups(ingest, world):
    report = ingest("heliox.json", sample("jobs.json"))

    assert report.state == "done" and report.progress == 100 and report.error == ""
    assert report.counts == {
        "teams": {"inserted": 2, "updated": 0, "unchanged": 0, "created_for_jobs": 1},
        "jobs": {"inserted": 4, "updated": 0, "unchanged": 0},
    }
    assert report.failed == 4 and report.rows_done == 10
    assert [(f["kind"], f["row"], f["field"]) for f in report.failures] == [
        ("team", 3, "name"),
        ("job", 5, "start_time"),
        ("job", 6, "gpu_type"),
        ("job", 7, "end_time"),
    ]
    assert "no time zone" in report.failures[1]["message"]
    assert "'tpu' is not one of" in report.failures[2]["message"]
    with tenant_context(world.tenant):
        assert sorted(GpuJob.objects.values_list("job_id", flat=True)) == ["j-1", "j-2", "j-3", "j-4"]
        teams = {t.name: (t.description, t.budget_usd) for t in Team.objects.all()}
    assert teams == {
        "Vision": ("Image models", Decimal("5000.00")),
        "Speech": ("ASR", Decimal("1200.50")),
        "Robotics": ("", None),
    }
    # a job over midnight UTC is two rollup days; the running job j-3 stays out of the rollups
    assert stored_rollups(world.tenant) == {
        (date(2026, 1, 10), "Vision", "resnet-50", "aws", "a100"): (8.0, 0.0, 8.0, 1),  # 22:00–24:00 × 4
        (date(2026, 1, 11), "Vision", "resnet-50", "aws", "a100"): (8.0, 0.0, 8.0, 0),  # 00:00–02:00 × 4
        (date(2026, 1, 10), "Speech", "whisper-large", "gcp", "h100"): (3.0, 0.0, 3.0, 1),  # 1.5 h × 2
        (date(2026, 1, 11), "Robotics", "policy-net", "aws", "a100"): (4.0, 0.0, 4.0, 1),  # 0.5 h × 8
    }


def test_running_the_same_file_twice_changes_nothing(ingest, world):
    ingest("heliox.json", sample("jobs.json"))
    before = stored_rollups(world.tenant)

    again = ingest("heliox-again.json", sample("jobs.json"))

    assert again.counts == {
        "teams": {"inserted": 0, "updated": 0, "unchanged": 2, "created_for_jobs": 0},
        "jobs": {"inserted": 0, "updated": 0, "unchanged": 4},
    }
    assert again.failed == 4
    assert stored_rollups(world.tenant) == before
    # and the repair command rebuilds the same rows from the jobs and rates
    with tenant_context(world.tenant):
        CostRollup.objects.update(cost=99.0)
    call_command("cost_rollups", "--rebuild", "--tenant", world.tenant.slug)
    assert_same_rollups(stored_rollups(world.tenant), before)


def test_a_rate_file_prices_the_rollups_exactly(ingest, world):
    ingest("heliox.json", sample("jobs.json"))

    report = ingest("rates.csv", sample("rates.csv"), kind="rates")

    assert report.state == "done"
    assert report.counts == {"rates": {"inserted": 4, "updated": 0, "unchanged": 0}}
    assert [(f["row"], f["field"]) for f in report.failures] == [(6, "usd_per_gpu_hour")]
    assert stored_rollups(world.tenant) == {
        (date(2026, 1, 10), "Vision", "resnet-50", "aws", "a100"): (8.0, 24.0, 0.0, 1),  # 8 × $3.00
        (date(2026, 1, 11), "Vision", "resnet-50", "aws", "a100"): (8.0, 20.0, 0.0, 0),  # 8 × $2.50
        (date(2026, 1, 10), "Speech", "whisper-large", "gcp", "h100"): (3.0, 12.0, 0.0, 1),  # 3 × $4.00
        (date(2026, 1, 11), "Robotics", "policy-net", "aws", "a100"): (4.0, 10.0, 0.0, 1),  # 4 × $2.50
    }
    assert ingest("rates.csv", sample("rates.csv"), kind="rates").counts == {
        "rates": {"inserted": 0, "updated": 0, "unchanged": 4}
    }


def test_a_csv_file_of_jobs_reports_by_line(ingest, world):
    ingest("rates.csv", sample("rates.csv"), kind="rates")

    report = ingest("more.csv", sample("jobs.csv"))

    assert report.counts == {
        "jobs": {"inserted": 2, "updated": 0, "unchanged": 0},
        "teams": {"created_for_jobs": 2},
    }
    assert [(f["row"], f["field"]) for f in report.failures] == [
        (4, "gpu_count"),
        (5, "end_time"),
        (6, "status"),
    ]
    assert stored_rollups(world.tenant) == {
        (date(2026, 1, 12), "Vision", "resnet-50", "aws", "a100"): (2.0, 4.0, 0.0, 1),  # 23:00–24:00 × 2 × $2
        (date(2026, 1, 13), "Vision", "resnet-50", "aws", "a100"): (2.0, 0.0, 2.0, 0),  # no rate that day
        (date(2026, 1, 12), "Speech", "whisper-large", "gcp", "h100"): (
            2.0,
            0.0,
            2.0,
            1,
        ),  # its rate was refused
    }


def test_team_budgets_are_kept_when_a_later_file_omits_them(ingest, world):
    ingest("heliox.json", sample("jobs.json"))

    report = ingest(
        "teams.jsonl", '{"name": "Vision", "description": "Vision and video"}\n{"name": "Speech"}\n'
    )

    assert report.counts == {"teams": {"inserted": 0, "updated": 1, "unchanged": 1}}
    with tenant_context(world.tenant):
        vision, speech = Team.objects.get(name="Vision"), Team.objects.get(name="Speech")
        assert (vision.description, vision.budget_usd) == ("Vision and video", Decimal("5000.00"))
        assert (speech.description, speech.budget_usd) == ("ASR", Decimal("1200.50"))
        set_team_budget(speech, "900", actor=world.alice)
        assert Team.objects.get(name="Speech").budget_usd == Decimal("900.00")


@pytest.mark.parametrize(
    ("name", "content", "kind", "reason"),
    [
        ("jobs.json", "job_id,team_name\nx,y\n", "jobs", "does not start with a JSON object"),
        ("jobs.csv", '{"jobs": []}', "jobs", "holds JSON"),
        ("jobs.json", "   \n  ", "jobs", "The file is empty."),
        ("jobs.json", '{"jobs": [{"job_id": "a"}, ', "jobs", "cannot be read as JSON"),
        ("jobs.json", '{"other": 1}', "jobs", "holds no teams or jobs"),
        ("rates.csv", sample("heliox_costs.csv"), "rates", "cost export"),
        ("rates.json", '{"rates": []}', "rates", "Rate files are CSV"),
        ("jobs.csv", "date,provider,gpu_type,usd_per_gpu_hour\n2026-01-01,aws,a100,1\n", "jobs", "header"),
        # found by tests/fuzz: csv.Error and RecursionError used to escape the readers and the task
        (
            "rates.csv",
            'date,provider,gpu_type,usd_per_gpu_hour\n2026-01-01,aws,a100,"3\n'
            + "2026-01-02,aws,a100,3\n" * 7000,
            "rates",
            "not valid CSV: field larger than field limit",
        ),
        ("jobs.json", '{"jobs": [' + "[" * 50_000, "jobs", "nested too deeply"),
    ],
)
def test_a_file_that_is_not_what_it_claims_fails_the_ingest(ingest, world, name, content, kind, reason):
    report = ingest(name, content, kind)

    assert report.state == "failed" and reason in report.error
    with tenant_context(world.tenant):
        assert not GpuJob.objects.exists() and not RateSnapshot.objects.exists()


# -- incremental rollups equal a rebuild -------------------------------------------------------------------


def jobs_json(*jobs: dict) -> str:
    import json

    return json.dumps({"jobs": list(jobs)})


def job(job_id: str, **changes) -> dict:
    row = {
        "job_id": job_id,
        "team_name": "Vision",
        "model_name": "resnet-50",
        "provider": "aws",
        "gpu_type": "a100",
        "gpu_count": 2,
        "start_time": "2026-01-10T20:00:00Z",
        "end_time": "2026-01-11T03:15:00Z",
        "status": "completed",
    }
    return row | changes


def test_incremental_rollups_equal_a_rebuild_through_updates_and_rate_changes(ingest, world):
    ingest("rates.csv", sample("rates.csv"), kind="rates")
    steps = [
        [job("a"), job("b", status="running", end_time=None), job("c", team_name="Speech", gpu_count=3)],
        [job("a", team_name="Speech"), job("b", end_time="2026-01-12T01:00:00Z"), job("d", status="pending")],
        [job("a", team_name="Speech", gpu_count=5), job("b", status="running", end_time=None), job("c")],
        [job("d", status="cancelled", start_time="2026-01-11T23:59:59.5Z", end_time="2026-01-12T00:00:01Z")],
        [job("c", start_time="2026-01-09T12:00:00Z", model_name="ViT-H"), job("a", status="failed")],
    ]
    for number, rows in enumerate(steps):
        ingest(f"step-{number}.json", jobs_json(*rows))
        incremental = stored_rollups(world.tenant)
        assert_same_rollups(incremental, rollups_after_rebuild(world.tenant))
    with tenant_context(world.tenant):
        set_rate("2026-01-11", "AWS", "A100", "7.25", actor=world.alice)
        delete_rate(date(2026, 1, 10), "aws", "a100", actor=world.alice)
        set_rate("2026-01-09", "aws", "a100", 1, actor=world.alice)
    ingest("rates-2.csv", "date,provider,gpu_type,usd_per_gpu_hour\n2026-01-12,aws,a100,9\n", kind="rates")
    incremental = stored_rollups(world.tenant)
    assert_same_rollups(incremental, rollups_after_rebuild(world.tenant))
    # and the pandas path agrees with both, key by key
    with tenant_context(world.tenant):
        computed = computed_rollups()
        teams = dict(Team.objects.values_list("id", "name"))
    by_pandas = {
        (row.day.date(), teams[row.team_id], row.model_name, row.provider, row.gpu_type): tuple(
            getattr(row, m) for m in MEASURES
        )
        for row in computed.itertuples()
    }
    assert_same_rollups(incremental, by_pandas)
    assert any(values[2] > 0 for values in incremental.values())  # 2026-01-10 unpriced after the delete


def test_a_task_redelivered_after_a_crash_goes_on_where_it_stopped(ingest, world, monkeypatch):
    from analysis.services import cost_batches, costs
    from analysis.tasks import ingest_costs_task

    monkeypatch.setattr(costs, "BATCH_ROWS", 3)
    real, calls = cost_batches.apply_jobs, []

    def crash_on_the_second_batch_of_jobs(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real(*args)

    monkeypatch.setattr(cost_batches, "apply_jobs", crash_on_the_second_batch_of_jobs)
    with pytest.raises(RuntimeError):
        ingest("heliox.json", sample("jobs.json"))
    with tenant_context(world.tenant):
        crashed = CostIngest.objects.get()
        assert (crashed.state, crashed.rows_done) == ("running", 6)  # 3 teams, 3 jobs; the next 3 rolled back
        ingest_costs_task.push_request(delivery_info={"redelivered": True})  # the broker delivers it again
        try:
            ingest_costs_task.run(crashed.code)
        finally:
            ingest_costs_task.pop_request()
        report = CostIngest.objects.get()
    assert report.state == "done" and report.failed == 4
    assert report.counts["jobs"] == {"inserted": 4, "updated": 0, "unchanged": 0}
    assert report.counts["teams"] == {"inserted": 2, "updated": 0, "unchanged": 0, "created_for_jobs": 1}
    assert_same_rollups(stored_rollups(world.tenant), rollups_after_rebuild(world.tenant))


def test_the_admin_action_ingests_into_the_chosen_tenant(
    operator_client, world, django_capture_on_commit_callbacks
):
    changelist = "/admin/tenants/tenant/"
    chosen = operator_client.post(
        changelist, {"action": "ingest_gpu_jobs", "_selected_action": [world.tenant.pk]}
    )
    assert chosen.status_code == 302
    page = chosen["Location"]
    assert page == f"{changelist}{world.tenant.pk}/ingest-costs/"
    assert "Ingest GPU job metadata into Alpha" in operator_client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = operator_client.post(
            page, {"kind": "jobs", "file": SimpleUploadedFile("heliox.json", sample("jobs.json"))}
        )
    assert done.status_code == 302 and done["Location"] == changelist
    with tenant_context(world.tenant):
        report = CostIngest.objects.get()
        assert (report.state, report.created_by, report.counts["jobs"]["inserted"]) == (
            "done",
            world.operator,
            4,
        )
        assert GpuJob.objects.count() == 4
    with tenant_context(world.other):
        assert not CostIngest.objects.exists() and not GpuJob.objects.exists()
