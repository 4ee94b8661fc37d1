"""The HWA client against a local engine speaking the documented /twsd endpoints, and the plan's words."""

from datetime import UTC, date, datetime

import pytest

from jobs.automation import plan
from jobs.automation.client import (
    HwaAuthError,
    HwaClient,
    HwaConfig,
    HwaNotFound,
    HwaUnreachable,
    HwaUpstreamError,
)
from tests.hwa_server import PASSWORD, USERNAME, HwaServer


@pytest.fixture
def engine():
    with HwaServer() as server:
        yield server


def client(server, *, password=PASSWORD, timeout=2.0) -> HwaClient:
    return HwaClient(HwaConfig(server.url, USERNAME, password, timeout=timeout))


def test_it_reads_engine_info_workstations_and_the_plan(engine):
    with client(engine) as hwa:
        assert hwa.engine_info()["engineVersion"] == "10.2.5"
        workstations = [plan.workstation_row(raw) for raw in hwa.workstations()]
        jobs = hwa.jobs()
        streams = [stream["name"] for stream in hwa.job_streams()]
    assert [(ws["name"], ws["linked"]) for ws in workstations] == [
        ("MASTER", True),
        ("AGT_LNX01", True),
        ("AGT_WIN02", False),
    ]
    assert len(jobs) == len(engine.jobs) == 7 and streams == ["NIGHTLY", "PAYROLL", "REPORTS"]
    method, path, body = engine.requests[2]
    assert (method, path, body) == (
        "POST",
        "/twsd/plan/current/job/query",
        {"filters": {"jobInPlanFilter": {}}},
    )


def test_it_sends_filters_with_hwa_wildcards_and_how_many(engine):
    with client(engine) as hwa:
        payroll = hwa.jobs(job_name="PAYROLL_*", workstation="AGT_LNX01")
        two = hwa.jobs(how_many=2)
    assert [job["name"] for job in payroll] == ["PAYROLL_CALC", "PAYROLL_PRINT"]
    filters = engine.requests[0][2]["filters"]["jobInPlanFilter"]
    assert filters == {"jobName": "PAYROLL_@", "workstationName": "AGT_LNX01"}
    assert len(two) == 2
    with pytest.raises(ValueError, match="between 1 and 500"):
        client(engine).jobs(how_many=501)


def test_it_reads_one_job_its_log_and_dependencies(engine):
    job_id = engine.job_id("PAYROLL_CALC")
    with client(engine) as hwa:
        job = hwa.job(job_id)
        log = hwa.job_log(job_id)
        empty = hwa.job_log(engine.job_id("DAILY_REPORT"))
    row = plan.job_row(job)
    assert (row["status"], row["status_words"], row["return_code"]) == (
        "ABEND",
        "abended (ended with an error)",
        12,
    )
    assert plan.full_name(row) == "AGT_LNX01#PAYROLL.PAYROLL_CALC"
    assert [plan.dependency_row(dep) for dep in job["dependencies"]] == [
        {"type": "INTERNAL_JOB", "on": "NIGHTLY.LOAD_DWH", "status": "SATISFIED", "satisfied": True}
    ]
    assert "ERROR: tax table /data/payroll/tax/2026.tbl not found" in log and empty == ""
    assert engine.requests[1][1] == f"/twsd/plan/current/job/{job_id}/joblog"


def test_errors_keep_their_type_and_never_carry_the_password(engine):
    with client(engine, password="wrong") as hwa, pytest.raises(HwaAuthError, match="HTTP 401") as refused:
        hwa.engine_info()
    assert "wrong" not in str(refused.value)
    with client(engine) as hwa:
        with pytest.raises(HwaNotFound, match="HTTP 404"):
            hwa.job("no-such-job")
        engine.fail(503)
        with pytest.raises(
            HwaUpstreamError, match=r"failed \(HTTP 503\) at http://127.0.0.1:\d+/twsd/engine/info"
        ):
            hwa.engine_info()
    engine.delay = 0.5
    with client(engine, timeout=0.1) as slow, pytest.raises(HwaUnreachable, match="timed out"):
        slow.engine_info()


def test_an_engine_that_is_gone_is_unreachable():
    with HwaServer() as server:
        url = server.url
    with HwaClient(HwaConfig(url, USERNAME, PASSWORD, timeout=1.0)) as hwa, pytest.raises(HwaUnreachable):
        hwa.engine_info()


def test_statuses_read_as_plain_words_and_filters_take_words():
    assert plan.words("EXEC") == "running" and plan.category("HOLD") == "waiting"
    assert plan.words("CANCL") == "cancelled" and plan.words("XYZ") == "in status XYZ"
    assert plan.internal_status({"status": "SUCCESSFUL"}) == "SUCC"
    assert plan.status_codes("abended") == ("ABEND", "ABENP")
    with pytest.raises(ValueError, match="Unknown HWA status 'sleepy'"):
        plan.status_codes("sleepy")


def test_tonight_starts_last_evening_until_this_evening_begins():
    today = date(2026, 11, 24)
    morning = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    evening = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    assert plan.since("tonight", today=today, now=morning).start == datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert plan.since("tonight", today=today, now=evening).start == datetime(2026, 11, 24, 18, tzinfo=UTC)
    assert plan.since("yesterday", today=today, now=morning).start == datetime(2026, 11, 23, tzinfo=UTC)
    assert plan.since("2026-11-23T22:00", today=today, now=morning).start.hour == 22
    with pytest.raises(ValueError, match="not a time"):
        plan.since("soonish", today=today, now=morning)
