"""The built-in analyst as a service (chat.assistant): each example question of the chat issue, asked of
real data in the tenant, is answered with the figures the API gives for the same data, and links; changes
wait for a confirmation that the role checks still apply to; another tenant's member gets a refusal."""

from datetime import date
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from chat import assistant
from chat.models import ToolCallRecord
from chat.tools import REGISTRY, ToolContext
from tenants.models import Membership
from tests.builders import load_cost_rows, make_workset, parse_demo_profiles

pytestmark = pytest.mark.django_db

COSTS = Path(__file__).resolve().parents[2] / "analysis" / "demo_costs"
FAILED_LOG = "[align] writing /scratch/HG002.bam\nbwa: write error: No space left on device\n"
MONDAY = date(2026, 1, 12)  # "last week" is 2026-01-05 to 2026-01-11, inside the Heliox sample


@pytest.fixture(scope="module")
def demo(django_db_blocker, world):
    """The demo's before and after runs; "after" is made last, so it is the tenant's latest."""
    from analysis.services import profiles as profile_services

    with django_db_blocker.unblock(), tenant_context(world.tenant):
        made = parse_demo_profiles("Assistant", actor=world.alice)
    yield made
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        for profile in made.values():
            profile_services.delete_profile(profile, actor=None)


def ask(world, question, *, user=None, tenant=None, context=None) -> assistant.Reply:
    tenant, user = tenant or world.tenant, user or world.alice
    with tenant_context(tenant):
        ctx = ToolContext(Membership.objects.of(user, tenant), user, tenant, MONDAY)
        return assistant.ask(question, ctx, context=context)


def confirm(world, pending, *, user) -> assistant.Reply:
    with tenant_context(world.tenant):
        ctx = ToolContext(Membership.objects.of(user, world.tenant), user, world.tenant, MONDAY)
        return assistant.confirm(pending, ctx)


def get(client, path, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.content[:2000]
    return response.json()


def insight(api_for, world, profile, which, **params):
    return get(api_for(world.carol), f"/api/v1/profiles/{profile.code}/{which}", **params)


def shown(value: dict) -> str:
    """A figure as an answer writes it: counts with thousands separators, shares as one-decimal percents."""
    number, unit = value["value"], value.get("unit", "count")
    if unit in ("share", "ratio"):
        return f"{number * 100:.1f} %"
    if float(number).is_integer():
        return f"{int(number):,}" + ("" if unit == "count" else f" {unit}")
    return f"{number:,.3f}" + ("" if unit == "count" else f" {unit}")


# --- profiles ---


def test_the_three_hottest_functions_and_blocks_of_the_latest_run(world, api_for, demo):
    after = demo["after"]
    reply = ask(
        world,
        "What are the three hottest functions or basic blocks in my latest run, with instruction counts "
        "and cycle share?",
    )
    text = reply.answer.markdown
    rows = insight(api_for, world, after, "hotspots", by="function", limit=3)["rows"]
    assert len(rows) == 3
    for row in rows:
        assert f"`{row['function']}`: {shown(row['self'])} ({row['self']['kind']}), " in text
        assert f"{shown(row['self_share'])} ({row['self_share']['kind']}) of the total" in text
        assert f"estimated cycles {shown(row['estimated_cycles'])}" in text
    blocks = insight(api_for, world, after, "hotspots", by="block", limit=3)
    assert not blocks["rows"] and all(f"_{note}_" in text for note in blocks["notes"])  # callgrind: none
    assert [lookup.call.arguments["by"] for lookup in reply.lookups] == ["function", "block"]
    assert all(lookup.result is not None for lookup in reply.lookups)
    assert (f"Profile {after.name}", f"/profiles/{after.code}/") in reply.answer.links
    assert reply.context == {"profile": after.code} and not reply.pending


def test_which_functions_use_zmm_and_which_still_use_ymm_with_sample_instructions(world, api_for, demo):
    answer = insight(api_for, world, demo["after"], "vectorization", limit=20)
    text = ask(
        world,
        "Which functions use AVX-512 (zmm) and which still use AVX2 (ymm)? Show names and sample "
        "instructions.",
    ).answer.markdown
    program = answer["program"]
    assert f"zmm {shown(program['zmm'])} ({program['zmm']['kind']})" in text  # the demo has no zmm code
    assert f"ymm {shown(program['ymm'])} ({program['ymm']['kind']})" in text
    ymm = [row for row in answer["rows"] if (row["shares"]["ymm"]["value"] or 0) > 0]
    zmm = [row for row in answer["rows"] if (row["shares"]["zmm"]["value"] or 0) > 0]
    assert ymm and not zmm
    for row in ymm:
        sample = row["samples"][0]
        assert f"- `{row['function']}`: " in text and f"ymm {shown(row['shares']['ymm'])}" in text
        assert f"{sample['mnemonic']} {sample['operands']}".strip() in text
    for candidate in answer["upgrade_candidates"]:
        assert f"- `{candidate['function']}` ({candidate['kind']}): {candidate['reason']}" in text


def test_memory_operations_with_high_cpi_cache_misses_or_page_walks(world, api_for, demo):
    rows = insight(api_for, world, demo["after"], "memory", limit=10)["rows"]
    text = ask(
        world, "Which functions have memory operations with high CPI, cache misses or page walks?"
    ).answer.markdown
    assert rows
    for row in rows:
        assert (
            f"{row['rank']}. `{row['function']}`: {row['reason'].removeprefix(row['function'] + ': ')}"
            in text
        )


def test_compiler_flags_for_a_memory_bound_avx512_workload_with_their_evidence(world, api_for, demo):
    after = demo["after"]
    reply = ask(
        world,
        "Recommend compiler flags for this workload, which is memory-bandwidth bound and can use AVX-512, "
        "and justify them from the profile.",
    )
    text = reply.answer.markdown
    target = reply.lookups[0].call.arguments["target"]
    advice = insight(api_for, world, after, "recommendations", target=target)
    assert advice["items"] and "memory-bandwidth bound" in text
    for item in advice["items"]:
        assert item["reason"] in text and (not item["flag"] or f"`{item['flag']}`" in text)
        for evidence in item["evidence"]:
            if evidence["value"] is not None:
                assert f"= {shown(evidence)} ({evidence['kind']})" in text
    memory = insight(api_for, world, after, "memory", limit=10)["rows"]
    assert f"`{memory[0]['function']}`" in text  # the memory profile that justifies the advice


def test_a_detailed_profile_of_a_function_by_an_address_from_its_own_table(world, api_for, demo):
    after = demo["after"]
    top = insight(api_for, world, after, "function", name=_hottest_function(api_for, world, after))
    address = top["top_instructions"][0]["address"]
    reply = ask(
        world,
        f"Give me a detailed instruction profile of function {address:#x} "
        "(instruction mix, CPI, memory hierarchy).",
    )
    text = reply.answer.markdown
    assert f"**{top['function']}** in {top['object']} (contains {address:#x})" in text
    for cost in top["costs"]:
        assert f"- {cost['event']}: self {shown(cost['self'])} ({cost['self']['kind']})" in text
    for row in top["mix"]["register_class"]["rows"]:
        assert f"{row['key']} {row['share'] * 100:.1f} %" in text
    first = top["top_instructions"][0]
    assert f"`{address:#x} {first['mnemonic']} {first['operands']}`".replace(" `", "`") in text
    assert f"/profiles/{after.code}/function/?name={top['function']}" in dict(reply.answer.links).values()


def _hottest_function(api_for, world, profile) -> str:
    return insight(api_for, world, profile, "hotspots", by="function", limit=1)["rows"][0]["function"]


# --- worksets ---


@pytest.fixture
def failed(world):
    workset = make_workset(world.tenant, state="failed", name="Assistant broken run")
    with tenant_context(world.tenant):
        type(workset).objects.filter(pk=workset.pk).update(
            failed_step="align", diagnosis={"step": "align", "excerpt": FAILED_LOG}
        )
    return workset


def test_the_status_of_a_workset_and_why_it_failed_then_what_it_refers_to(world, api_for, failed):
    api = api_for(world.alice)
    detail = get(api, f"/api/v1/worksets/{failed.code}")
    report = get(api, f"/api/v1/worksets/{failed.code}/diagnosis")["diagnosis"]

    status = ask(world, f"What's the status of workset {failed.code}?")
    assert detail["state"] == "failed" and f"(`{failed.code}`) is **failed**" in status.answer.markdown
    assert "It failed at align" in status.answer.markdown
    assert (f"Workset {failed.name}", f"/worksets/{failed.code}/") in status.answer.links
    assert status.context == {"workset": failed.code}

    why = ask(world, f"Why did workset {failed.code} fail and what should I do?").answer.markdown
    assert f"**{report['code']} {report['name']}**" in why and report["description"] in why
    assert all(f"- {step}" in why for step in report["remediation"])
    assert report["lines"][0]["text"] in why
    again = ask(world, "What should I do about it?", context=status.context)
    assert (
        again.lookups[0].call.arguments == {"workset": failed.code}
        and report["name"] in again.answer.markdown
    )


def test_cancel_waits_for_a_confirmation_a_viewer_is_refused_and_a_member_cancels(world, api_for):
    workset = make_workset(world.tenant, state="queued", name="Assistant cancel me")
    api = api_for(world.alice)
    reply = ask(world, f"Cancel workset {workset.code}")
    assert [p.call.arguments for p in reply.pending] == [{"workset": workset.code}]
    assert "confirm" in reply.pending[0].prompt and "waits until you confirm" in reply.answer.markdown
    assert reply.lookups[0].result is None and reply.lookups[0].refusal is None
    assert get(api, f"/api/v1/worksets/{workset.code}")["state"] == "queued"
    with tenant_context(world.tenant):
        assert not ToolCallRecord.objects.filter(tool="cancel_workset").exists()

    refused = confirm(world, reply.pending[0], user=world.carol)
    assert "needs the member role" in refused.answer.markdown and refused.lookups[0].refusal
    assert get(api, f"/api/v1/worksets/{workset.code}")["state"] == "queued"

    done = confirm(world, reply.pending[0], user=world.alice)
    assert f"**{workset.name}** is cancelled." in done.answer.markdown
    assert get(api, f"/api/v1/worksets/{workset.code}")["state"] == "cancelled"
    with tenant_context(world.tenant):
        assert ToolCallRecord.objects.filter(tool="cancel_workset").count() == 2


# --- costs ---


def test_what_each_team_spent_on_gpus_last_week(world, api_for):
    with tenant_context(world.tenant):
        load_cost_rows((COSTS / "heliox-jobs.json").read_text(), (COSTS / "rates.csv").read_text())
    answer = get(
        api_for(world.alice), "/api/v1/analytics/cost", start="2026-01-05", end="2026-01-11", group_by="team"
    )
    reply = ask(world, "What did each team spend on GPUs last week?")
    text = reply.answer.markdown
    assert "2026-01-05 to 2026-01-11" in text and f"**${answer['total']['cost']:,.2f}**" in text
    assert len(answer["groups"]) > 1
    for group in answer["groups"]:
        assert f"- {group['group']['team']}: ${group['cost']:,.2f}, {group['gpu_hours']:,} GPU-hours" in text
    assert ("Costs", "/costs/?start=2026-01-05&end=2026-01-11") in reply.answer.links


# --- what it cannot do, and what breaks ---


def test_a_question_no_tool_answers_gets_the_list_of_what_it_can_answer(world):
    reply = ask(world, "What is the meaning of life?")
    assert "I can't answer that" in reply.answer.markdown
    assert "I can answer questions such as" in reply.answer.markdown
    assert not reply.lookups and not reply.pending


def test_a_tool_that_breaks_is_logged_and_said_while_the_others_answer(world, demo, monkeypatch, caplog):
    def broken(ctx, **arguments):
        raise RuntimeError("disk on fire")

    real = REGISTRY["profile_memory"]
    monkeypatch.setitem(REGISTRY, "profile_memory", type(real)(**{**real.__dict__, "run": broken}))
    reply = ask(world, "Recommend compiler flags for this workload, which is memory-bandwidth bound.")
    text = reply.answer.markdown
    assert "I could not look up memory bottlenecks in the latest profile because something went wrong" in text
    assert reply.lookups[0].result is not None and "Recommendations for" in text
    assert any("profile_memory" in r.getMessage() and r.exc_info for r in caplog.records)


# --- isolation ---


def test_mallory_asking_about_an_alpha_workset_gets_a_refusal_and_no_alpha_figure(world, failed, demo):
    mallory = {"user": world.mallory, "tenant": world.other}
    for question in (
        f"What's the status of workset {failed.code}?",
        f'Why did workset "{failed.name}" fail?',
    ):
        text = ask(world, question, **mallory).answer.markdown
        assert "I could not look up" in text and "there is no workset" in text
        assert "align" not in text and "WS-RES" not in text
    text = ask(world, "Why did it fail?", context={"workset": failed.code}, **mallory).answer.markdown
    assert "there is no workset" in text and "WS-RES" not in text
    hot = ask(world, "What are the hottest functions in my latest run?", **mallory)
    assert "no ready profile yet" in hot.answer.markdown and demo["after"].code not in hot.answer.markdown
    assert hot.context == {}
