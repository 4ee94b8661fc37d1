"""The assistant's workload-automation tools, asked through the built-in analyst (chat.assistant.ask) and
call_tool, against the local engine: each example question is answered with the plan's exact figures,
a tenant without a connection is refused in a sentence, and mallory's tools never see alpha's engine."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from chat import assistant
from chat.analyst.router import route
from chat.models import ToolCallRecord
from chat.tools import ToolContext, ToolError, call_tool
from tenants.models import Membership
from tests.automation.conftest import connect
from tests.hwa_server import HwaServer, sample_plan

pytestmark = pytest.mark.django_db

MORNING_AFTER = date(2026, 11, 24)  # "tonight" is from 2026-11-23 18:00 UTC


def context(world, user=None, tenant=None) -> ToolContext:
    tenant, user = tenant or world.tenant, user or world.alice
    return ToolContext(Membership.objects.of(user, tenant), user, tenant, MORNING_AFTER)


def ask(world, question, **who) -> assistant.Reply:
    ctx = context(world, **who)
    with tenant_context(ctx.tenant):
        return assistant.ask(question, ctx)


def tool(world, name, arguments=None, **who):
    ctx = context(world, **who)
    with tenant_context(ctx.tenant):
        return call_tool(name, arguments or {}, ctx)


def test_status_of_one_job_in_the_plan(world, connected):
    reply = ask(world, "What's the status of job PAYROLL_CALC in the plan?")
    assert ask(world, "What's the status of job PAYROLL_CALC?").lookups[0].call == reply.lookups[0].call
    answer = reply.answer.markdown
    assert [lookup.call.tool for lookup in reply.lookups] == ["hwa_job"]
    assert "### Looked up: Job PAYROLL_CALC in the current plan" in answer
    assert (
        "Job `AGT_LNX01#PAYROLL.PAYROLL_CALC` is ABEND — abended (ended with an error), "
        "ended 2026-11-23 22:07 UTC, return code 12." in answer
    )
    assert "It follows: NIGHTLY.LOAD_DWH (satisfied)." in answer
    assert "ERROR: tax table /data/payroll/tax/2026.tbl not found" in answer
    job_id = connected.job_id("PAYROLL_CALC")
    assert ("Job AGT_LNX01#PAYROLL.PAYROLL_CALC", f"/automation/jobs/{job_id}/") in reply.answer.links

    held = tool(world, "hwa_job", {"job": "PAYROLL.PAYROLL_PRINT"})
    assert held.data["job"]["status"] == "HOLD"
    assert "is HOLD — on hold, waiting for its dependencies." in held.text
    assert "It follows: PAYROLL.PAYROLL_CALC (not satisfied)." in held.text
    with pytest.raises(ToolError, match="There is no job NOPE in the current plan of PROD-MDM."):
        tool(world, "hwa_job", {"job": "NOPE"})


def test_which_jobs_abended_tonight_and_why(world, connected):
    reply = ask(world, "Which jobs abended tonight and why?")
    assert [lookup.call.arguments for lookup in reply.lookups] == [
        {"status": "ABENDED", "since": "tonight", "explain": True}
    ]
    answer = reply.answer.markdown
    tonight = [
        job
        for job in sample_plan()
        if job["internalStatus"] == "ABEND" and job["actualEnd"] >= "2026-11-23T18"
    ]
    assert [job["name"] for job in tonight] == ["PAYROLL_CALC"]  # ARCHIVE_LOGS abended that morning
    assert (
        "1 job in the current plan of PROD-MDM (status ABENDED, since 2026-11-23 18:00 UTC (tonight)):"
        in answer
    )
    assert (
        "- `AGT_LNX01#PAYROLL.PAYROLL_CALC`: ABEND — abended (ended with an error), ended 2026-11-23 22:07"
        in answer
    )
    assert (
        "Why: ERROR: tax table /data/payroll/tax/2026.tbl not found; calc.sh: exit 12; Exit Status : 12"
        in answer
    )
    assert "ARCHIVE_LOGS" not in answer
    assert ("Workload automation", "/automation/?status=ABENDED") in reply.answer.links

    all_abended = tool(world, "hwa_jobs", {"status": "ABEND"})
    assert all_abended.data["count"] == 2
    assert [row["name"] for row in all_abended.data["jobs"]] == ["ARCHIVE_LOGS", "PAYROLL_CALC"]


def test_engine_health_with_workstations_and_jobs_by_status(world, connected):
    reply = ask(world, "Is the HWA engine up and are all workstations linked?")
    answer = reply.answer.markdown
    assert "The engine PROD-MDM is answering (version 10.2.5, distributed)." in answer
    assert "Workstations: 3, 2 linked; not linked: AGT_WIN02." in answer
    assert (
        "Jobs in the current plan: 7 — 2 ABEND (abended (ended with an error)), 1 EXEC (running), "
        "1 HOLD (on hold, waiting for its dependencies), 3 SUCC (succeeded)." in answer
    )
    assert (
        "Job streams: 3 — NIGHTLY ABEND (abended (ended with an error)), "
        "PAYROLL STUCK (stuck (a job abended and the rest cannot run)), REPORTS EXEC (running)." in answer
    )
    running = ask(world, "Which jobs are running in the plan?").lookups[0].result
    assert [row["name"] for row in running.data["jobs"]] == ["DAILY_REPORT"]


def test_filters_by_name_workstation_and_time(world, connected):
    on_master = tool(world, "hwa_jobs", {"workstation": "master"})
    assert {row["name"] for row in on_master.data["jobs"]} == {"ARCHIVE_LOGS", "CLEANUP_TMP"}
    nightly = tool(world, "hwa_jobs", {"name": "*_DWH", "since": "2026-11-23T19:00"})
    assert [row["name"] for row in nightly.data["jobs"]] == ["LOAD_DWH"]
    with pytest.raises(ToolError, match="Unknown HWA status 'SLEEPY'"):
        tool(world, "hwa_jobs", {"status": "SLEEPY"})
    with pytest.raises(ToolError, match="'soonish' is not a time"):
        tool(world, "hwa_jobs", {"since": "soonish"})
    with pytest.raises(ToolError, match="does not match"):
        tool(world, "hwa_jobs", {"name": "A; DROP"})


def test_a_tenant_without_a_connection_is_refused_in_a_sentence(world, connected):
    reply = ask(world, "Which jobs abended tonight and why?", user=world.mallory, tenant=world.other)
    assert reply.lookups[0].refusal == (
        "No workload-automation (HWA) engine is connected for Beta; "
        "an operator sets the connection up in the admin. (For a workset, name it by its code.)"
    )
    assert "PAYROLL" not in reply.answer.markdown and connected.requests == []
    with tenant_context(world.other):
        assert ToolCallRecord.objects.filter(user=world.mallory, tool="hwa_jobs").exclude(error="").exists()


def test_mallorys_tools_read_only_betas_own_engine(world, connected):
    with HwaServer(jobs=sample_plan()[:1]) as beta_engine:
        connect(world.other, beta_engine, engine_name="BETA-MDM")
        reply = ask(world, "Is the engine up?", user=world.mallory, tenant=world.other)
        jobs = tool(world, "hwa_jobs", {}, user=world.mallory, tenant=world.other)
    assert "The engine BETA-MDM is answering" in reply.answer.markdown
    assert "Jobs in the current plan: 1 — 1 ABEND" in reply.answer.markdown
    assert [row["name"] for row in jobs.data["jobs"]] == ["ARCHIVE_LOGS"]
    assert connected.requests == []  # alpha's engine was never called for mallory
    with pytest.raises(ToolError, match="belongs to Alpha"), tenant_context(world.other):
        call_tool("hwa_engine", {}, context(world))


def test_an_engine_that_is_down_is_said_plainly(world, server):
    connect(world.tenant, server, failure_threshold=1, cooldown_seconds=300, cache_seconds=0)
    server.fail(503)
    first = ask(world, "Is the engine up?").lookups[0].refusal
    assert "The HWA engine failed (HTTP 503)" in first
    calls = len(server.requests)
    answer = ask(world, "Which jobs abended tonight and why?").answer.markdown
    assert "because the engine PROD-MDM is not answering, retrying at" in answer
    assert len(server.requests) == calls


def test_iss_questions_still_go_to_iss():
    assert route("Show ISS job 12345", today=MORNING_AFTER).calls[0].tool == "iss_job"
    assert route("What's the status of ISS job 12345?", today=MORNING_AFTER).calls[0].tool == "iss_job"
    assert route("What's the status of workset giab-batch-1a2b3c4d?", today=MORNING_AFTER).calls[0].tool == (
        "workset_status"
    )
