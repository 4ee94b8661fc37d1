"""The assistant's tools (chat.tools): each answers the figures the API answers for the same data, refuses
what the user got wrong with a message, checks the caller's role, bounds its output, is audited, and can
never reach another tenant's rows."""

from datetime import date
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from chat.models import ToolCallRecord
from chat.tools import MAX_RESULT_BYTES, REGISTRY, ToolContext, ToolError, call_tool
from chat.tools.base import fit, size_of
from tenants.models import Membership
from tests.builders import load_cost_rows, make_workset

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "analysis" / "demo_costs"
FAILED_LOG = "[align] writing /scratch/HG002.bam\nbwa: write error: No space left on device\n"


def context(user, tenant, today: date | None = None) -> ToolContext:
    membership = Membership.objects.of(user, tenant)
    return ToolContext(membership, user, tenant, **({"today": today} if today else {}))


def ask(world, name, arguments=None, *, user=None, tenant=None, today=None):
    """Call ``name`` as ``user`` (alice) inside ``tenant``'s schema (alpha), as the chat layer will."""
    tenant = tenant or world.tenant
    with tenant_context(tenant):
        return call_tool(name, arguments or {}, context(user or world.alice, tenant, today))


def refused(world, name, arguments=None, **who) -> str:
    with pytest.raises(ToolError) as caught:
        ask(world, name, arguments, **who)
    return caught.value.message


def get(client, path, params=None):
    response = client.get(path, params or {})
    assert response.status_code == 200, response.content[:2000]
    return response.json()


def test_the_registry_has_every_tool_with_a_json_schema_and_only_cancel_changes_anything():
    assert {
        "list_worksets",
        "workset_status",
        "workset_diagnosis",
        "queue_status",
        "estimate_workset",
        "cancel_workset",
        "profile_hotspots",
        "profile_vectorization",
        "profile_memory",
        "profile_recommendations",
        "profile_function",
        "profile_diff",
        "cost_by",
        "budget_burn",
        "cost_forecast",
        "usage_summary",
        "quota_status",
        "invoice",
        "search_files",
        "iss_job",
    } <= set(REGISTRY)
    for tool in REGISTRY.values():
        assert tool.parameters["type"] == "object" and tool.description
    assert [t.name for t in REGISTRY.values() if not t.read_only] == ["cancel_workset", "retry_workset"]
    assert REGISTRY["retry_workset"].min_role == "member" == REGISTRY["cancel_workset"].min_role
    assert REGISTRY["invoice"].min_role == "admin"


# --- worksets ---


def test_list_and_status_answer_what_the_worksets_api_answers(world, api_for):
    running = make_workset(world.tenant, state="running", name="GIAB tools run", samples=2)
    make_workset(world.tenant, state="queued", name="GIAB tools queued")
    api = api_for(world.alice)
    listed = get(api, "/api/v1/worksets", {"state": "running"})["results"]
    detail = get(api, f"/api/v1/worksets/{running.code}")

    result = ask(world, "list_worksets", {"state": "running"})
    assert [row["code"] for row in result.data] == [row["code"] for row in listed]
    assert result.data == listed[: len(result.data)]
    assert running.code in result.text and ("Worksets", "/worksets/?state=running") in result.links

    status = ask(world, "workset_status", {"workset": "GIAB tools run"})  # the exact name finds it too
    for field in ("code", "state", "progress", "cluster", "current_step", "sample_count", "created_at"):
        assert status.data[field] == detail[field], field
    assert status.data["steps"] == detail["steps"]
    assert (
        "**running**" in status.text
        and (f"Workset {running.name}", f"/worksets/{running.code}/") in status.links
    )
    assert ask(world, "list_worksets", {"query": "tools queued"}).data[0]["name"] == "GIAB tools queued"


def test_the_diagnosis_is_the_apis_report_with_what_to_do(world, api_for):
    failed = make_workset(world.tenant, state="failed", name="Broken run")
    with tenant_context(world.tenant):
        type(failed).objects.filter(pk=failed.pk).update(
            failed_step="align", diagnosis={"step": "align", "excerpt": FAILED_LOG}
        )
    report = get(api_for(world.alice), f"/api/v1/worksets/{failed.code}/diagnosis")["diagnosis"]

    result = ask(world, "workset_diagnosis", {"workset": failed.code})
    assert result.data["diagnosis"]["code"] == report["code"] == "WS-RES-002"
    assert result.data["diagnosis"]["remediation"] == report["remediation"]
    assert result.data["diagnosis"]["lines"] == report["lines"]
    assert report["name"] in result.text and report["remediation"][0] in result.text
    healthy = make_workset(world.tenant, state="running", name="Fine run")
    assert "no failure diagnosed" in ask(world, "workset_diagnosis", {"workset": healthy.code}).text


def test_queue_status_and_estimate_equal_the_api(world, api_for):
    queued = make_workset(world.tenant, state="queued", name="Waiting run", samples=3)
    make_workset(world.tenant, state="running", name="Busy run")
    api = api_for(world.alice)
    stats = get(api, "/api/v1/queue/stats")
    estimate = api.post("/api/v1/worksets/estimate?dry_run=true", {"spec": queued.spec}, format="json")
    assert estimate.status_code == 200, estimate.json()

    queue = ask(world, "queue_status")
    assert queue.data["by_state"] == stats["by_state"] and queue.data["by_cluster"] == stats["by_cluster"]
    assert queue.data["queued"] == stats["by_state"]["queued"] + stats["by_state"]["retry_wait"] >= 1
    assert f"{queue.data['queued']} worksets queued" in queue.text

    result = ask(world, "estimate_workset", {"workset": queued.code})
    for field in ("cost_usd", "duration_hours", "vcpu_hours", "storage_gb", "basis"):
        assert result.data["estimate"][field] == estimate.json()[field], field
    assert estimate.json()["vcpu_hours"] in result.text


def test_a_member_cancels_through_the_service_and_a_viewer_cannot(world, api_for):
    workset = make_workset(world.tenant, state="queued", name="Cancel me")
    message = refused(world, "cancel_workset", {"workset": workset.code}, user=world.carol)
    assert "needs the member role" in message and "viewer" in message
    assert get(api_for(world.alice), f"/api/v1/worksets/{workset.code}")["state"] == "queued"

    result = ask(world, "cancel_workset", {"workset": workset.code}, user=world.bob)
    assert result.data["state"] == "cancelled"
    detail = get(api_for(world.alice), f"/api/v1/worksets/{workset.code}")
    assert detail["state"] == "cancelled" and detail["transitions"][-1]["actor"] == world.bob.email
    again = refused(world, "cancel_workset", {"workset": workset.code}, user=world.bob)
    assert "is cancelled" in again


def test_bad_arguments_are_tool_errors_with_a_message_and_every_call_is_audited(world):
    with tenant_context(world.tenant):
        before = ToolCallRecord.objects.count()
    assert "no tool 'drop_tables'" in refused(world, "drop_tables")
    assert "limit" in refused(world, "list_worksets", {"limit": 0})
    assert "'colour' was unexpected" in refused(world, "list_worksets", {"colour": "red"})
    assert "'bogus' is not one of" in refused(world, "list_worksets", {"state": "bogus"})
    assert "'workset' is a required property" in refused(world, "workset_status")
    assert "no workset 'nope-00000000'" in refused(world, "workset_status", {"workset": "nope-00000000"})
    assert "end: The end day is before the start day." in refused(
        world, "cost_by", {"start": "2026-01-10", "end": "2026-01-01"}
    )
    assert "group_by" in refused(world, "cost_by", {"group_by": ["colour"]})
    assert "month" in refused(world, "usage_summary", {"month": "2026-13"})
    ask(world, "queue_status", user=world.carol)
    with tenant_context(world.tenant):
        records = list(ToolCallRecord.objects.order_by("-id")[: ToolCallRecord.objects.count() - before])
    assert len(records) == 10
    last, first = records[0], records[-1]
    assert last.tool == "queue_status" and last.user == world.carol and last.error == ""
    assert 0 < last.result_bytes <= MAX_RESULT_BYTES and not last.truncated
    assert first.tool == "drop_tables" and first.user == world.alice and "no tool" in first.error
    assert any(r.arguments == {"state": "bogus"} and "bogus" in r.error for r in records)


# --- isolation ---


def test_a_tool_in_the_other_tenant_never_returns_alphas_rows(world):
    workset = make_workset(world.tenant, state="running", name="Alpha only")
    with tenant_context(world.tenant):
        load_cost_rows((SAMPLE / "heliox-jobs.json").read_text(), (SAMPLE / "rates.csv").read_text())
    mallory = {"user": world.mallory, "tenant": world.other}
    assert "no workset" in refused(world, "workset_status", {"workset": workset.code}, **mallory)
    assert "no workset" in refused(world, "cancel_workset", {"workset": workset.code}, **mallory)
    assert workset.code not in str(ask(world, "list_worksets", **mallory).data)
    period = {"start": "2026-01-01", "end": "2026-01-14"}
    assert ask(world, "cost_by", period, **mallory).data["total"]["cost"] == 0
    assert ask(world, "cost_by", period).data["total"]["cost"] == 14257.58
    assert "no profile 'anything'" in refused(world, "profile_hotspots", {"profile": "anything"}, **mallory)


def test_call_tool_refuses_a_context_that_is_not_the_current_schema(world):
    alices = context(world.alice, world.tenant)
    # alice's alpha context, while the connection is in beta
    with tenant_context(world.other), pytest.raises(ToolError, match="tools run only in its own workspace"):
        call_tool("list_worksets", {}, alices)
    with tenant_context(world.tenant):  # mallory's beta membership claimed for alpha
        stolen = ToolContext(Membership.objects.of(world.mallory, world.other), world.mallory, world.tenant)
        with pytest.raises(ToolError, match="not a member of Alpha"):
            call_tool("list_worksets", {}, stolen)
        with pytest.raises(ToolError, match="not a member"):
            call_tool("list_worksets", {}, context(world.mallory, world.tenant))
        assert not ToolCallRecord.objects.filter(user_id=world.mallory.pk).exists()
    assert connection.schema_name == "public"


# --- costs ---


@pytest.fixture
def costs(world):
    with tenant_context(world.tenant):
        load_cost_rows((SAMPLE / "heliox-jobs.json").read_text(), (SAMPLE / "rates.csv").read_text())


def test_cost_by_equals_the_cost_api_for_the_period_and_by_default_the_last_seven_full_days(
    world, api_for, costs
):
    api = api_for(world.alice)
    for arguments in (
        {"start": "2026-01-01", "end": "2026-01-14"},
        {"start": "2026-01-01", "end": "2026-01-14", "group_by": ["model"], "gpu_type": "h100"},
        {"start": "2026-01-05", "end": "2026-01-11", "group_by": ["team", "day"]},
    ):
        group_by = arguments.get("group_by", ["team"])
        params = {**arguments, "group_by": ",".join(group_by)}
        answer = get(api, "/api/v1/analytics/cost", params)
        result = ask(world, "cost_by", arguments)
        assert result.data["total"] == answer["total"]
        assert result.data["groups"] == answer["groups"][:50]
        assert result.data["period"] == answer["period"]
    week = ask(world, "cost_by", today=date(2026, 1, 15))
    answer = get(
        api, "/api/v1/analytics/cost", {"start": "2026-01-08", "end": "2026-01-14", "group_by": "team"}
    )
    assert week.data["period"] == {"start": "2026-01-08", "end": "2026-01-14"}
    assert week.data["groups"] == answer["groups"] and week.data["total"] == answer["total"]
    assert f"${answer['total']['cost']:,.2f}" in week.text
    assert answer["groups"][0]["group"]["team"] in week.text
    assert ("Costs", "/costs/?start=2026-01-08&end=2026-01-14") in week.links


def test_budget_burn_and_forecast_equal_the_api_as_of_the_same_day(world, api_for, costs):
    api = api_for(world.alice)
    burn = get(api, "/api/v1/analytics/budgets", {"today": "2026-01-14"})
    result = ask(world, "budget_burn", today=date(2026, 1, 14))
    assert result.data["teams"] == burn["teams"] and burn["teams"]
    assert burn["teams"][0]["team_name"] in result.text
    forecast = get(api, "/api/v1/analytics/forecast", {"today": "2026-01-15"})
    result = ask(world, "cost_forecast", today=date(2026, 1, 15))
    assert result.data["available"] == forecast["available"]
    assert result.data["days"] == forecast["days"] and result.data["total"] == forecast["total"]
    if forecast["available"]:
        assert f"${forecast['total']['total']:,.2f}" in result.text
    else:
        assert forecast["reason"] in result.text


# --- account ---


def test_usage_quota_and_invoice_equal_the_api_and_invoices_are_for_admins(world, api_for, operator_client):
    usage = get(api_for(world.alice), "/api/v1/usage")
    result = ask(world, "usage_summary")
    assert result.data == usage and ("Usage", "/usage/") in result.links

    quota = ask(world, "quota_status")
    answer = operator_client.get(f"/api/v1/customers/{world.tenant.slug}/usage").json()
    for field in ("storage_quota_gb", "max_concurrent_worksets", "monthly_budget_usd", "budget_action"):
        assert quota.data[field] == answer[field], field

    assert "needs the admin role" in refused(world, "invoice", user=world.carol)
    assert "needs the admin role" in refused(world, "invoice", user=world.bob)
    listed = get(api_for(world.alice), "/api/v1/invoices")["results"]
    this_month = date.today().strftime("%Y-%m")
    drafts = [invoice for invoice in listed if invoice["month"] == this_month]
    if drafts:
        result = ask(world, "invoice")
        detail = get(api_for(world.alice), f"/api/v1/invoices/{drafts[0]['code']}")
        assert result.data["total"] == detail["total"] and result.data["lines"] == detail["lines"]
    else:
        assert "no invoice" in refused(world, "invoice")


def test_no_iss_connection_is_a_tool_error_saying_so(world):
    assert "No ISS connection is configured for Alpha" in refused(world, "iss_job", {"job_id": "42"})


# --- size bounds ---


def test_results_are_cut_to_fifty_items_and_thirty_two_kilobytes_and_say_so():
    rows = [{"name": f"row {n}", "text": "x" * 500} for n in range(200)]
    data, cut = fit({"rows": rows, "total": 1})
    assert cut and len(data["rows"]) <= 50 and size_of(data) <= MAX_RESULT_BYTES and data["total"] == 1
    small, cut = fit({"rows": rows[:3]})
    assert not cut and small == {"rows": rows[:3]}
    huge, cut = fit({"blob": "y" * 100_000})
    assert cut and size_of(huge) <= MAX_RESULT_BYTES


def test_a_long_list_of_worksets_is_truncated_and_the_audit_says_so(world):
    for n in range(4):
        make_workset(world.tenant, state="queued", name=f"Many {n}")
    result = ask(world, "list_worksets", {"query": "Many", "limit": 3})
    assert len(result.data) == 3 and result.truncated and "3+ worksets" in result.text
    with tenant_context(world.tenant):
        record = ToolCallRecord.objects.first()
    assert (
        record.tool == "list_worksets"
        and record.truncated
        and record.arguments == {"query": "Many", "limit": 3}
    )
