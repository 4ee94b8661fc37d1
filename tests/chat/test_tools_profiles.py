"""The assistant's profile tools answer what ``/api/v1/profiles/<code>/…`` answers on the demo's two real
profiles (callgrind joined with objdump, parsed once for the module)."""

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from chat.tools import MAX_RESULT_BYTES, ToolContext, ToolError, call_tool
from chat.tools.base import size_of
from tenants.models import Membership
from tests.builders import parse_demo_profiles

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@pytest.fixture(scope="module")
def demo(django_db_blocker, world):
    """The demo's before and after runs; "after" is made last, so it is the tenant's latest."""
    from analysis.services import profiles as profile_services

    with django_db_blocker.unblock(), tenant_context(world.tenant):
        made = parse_demo_profiles("Chat tools", actor=world.alice)
    yield made
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        for profile in made.values():
            profile_services.delete_profile(profile, actor=None)


def ask(world, name, arguments=None, *, user=None, tenant=None):
    tenant, user = tenant or world.tenant, user or world.alice
    with tenant_context(tenant):
        ctx = ToolContext(Membership.objects.of(user, tenant), user, tenant)
        return call_tool(name, arguments or {}, ctx)


def api(api_for, world, code: str, insight: str, **params):
    response = api_for(world.carol).get(f"/api/v1/profiles/{code}/{insight}", params)
    assert response.status_code == 200, response.content[:2000]
    return response.json()


def without(data: dict, *keys: str) -> dict:
    return {key: value for key, value in data.items() if key not in keys}


def test_hotspots_of_the_latest_profile_equal_the_api_by_function_and_by_line(world, api_for, demo):
    after = demo["after"]
    for by in ("function", "line", "block"):
        answer = api(api_for, world, after.code, "hotspots", by=by, limit=5)
        result = ask(world, "profile_hotspots", {"by": by, "limit": 5}, user=world.carol)
        assert result.data["profile"] == after.code and not result.truncated
        assert without(result.data, "profile") == answer
    function = ask(world, "profile_hotspots", {"limit": 3})
    first = function.data["rows"][0]
    assert f"`{first['function']}`: {first['self']['value']:,} (exact)" in function.text
    assert f"{first['self_share']['value'] * 100:.1f} %" in function.text
    assert "estimated cycles" in function.text  # callgrind: KCachegrind's CEst, labelled estimated
    assert ("Profile Chat tools after", f"/profiles/{after.code}/") in function.links
    line = ask(world, "profile_hotspots", {"by": "line", "limit": 3}).data["rows"][0]
    assert line["line"] is not None
    blocks = ask(world, "profile_hotspots", {"by": "block", "limit": 3})  # callgrind without --dump-instr
    assert blocks.data["rows"] == []
    assert blocks.text.startswith("**Chat tools after** has no block-level figures to rank:")
    assert "no basic blocks" in blocks.text


def test_vectorization_memory_and_recommendations_equal_the_api(world, api_for, demo):
    after = demo["after"]
    vector = ask(world, "profile_vectorization", {"profile": after.code, "limit": 5})
    assert without(vector.data, "profile") == api(api_for, world, after.code, "vectorization", limit=5)
    ymm = [row for row in vector.data["rows"] if (row["shares"]["ymm"]["value"] or 0) > 0]
    assert ymm and f"`{ymm[0]['function']}`: " in vector.text and "ymm" in vector.text
    zmm = [row for row in vector.data["rows"] if (row["shares"]["zmm"]["value"] or 0) > 0]
    users = ", ".join(
        f"`{row['function']}` ({row['shares']['ymm']['value'] * 100:.1f} % (exact))" for row in ymm
    )
    assert f"- Using ymm (AVX/AVX2): {users}\n" in vector.text
    assert "- Using zmm (AVX-512): none\n" in vector.text and not zmm  # the demo is built for AVX2
    memory = ask(world, "profile_memory", {"profile": demo["before"].code, "limit": 5})
    answer = api(api_for, world, demo["before"].code, "memory", limit=5)
    assert without(memory.data, "profile") == answer
    assert answer["rows"][0]["function"] == "update_particles"
    reason = answer["rows"][0]["reason"].removeprefix("update_particles: ")
    assert f"1. `update_particles`: {reason}" in memory.text and "estimated stall cycles" in reason
    advice = ask(world, "profile_recommendations", {"target": "icelake-server"})
    answer = api(api_for, world, after.code, "recommendations", target="icelake-server")
    assert without(advice.data, "profile") == answer
    assert all(item["reason"] in advice.text for item in answer["items"])


def test_one_function_by_name_or_by_an_address_inside_it(world, api_for, demo):
    before = demo["before"]
    answer = api(api_for, world, before.code, "function", name="update_particles")
    result = ask(world, "profile_function", {"profile": before.code, "function": "update_particles"})
    assert without(result.data, "profile", "address") == answer
    address = answer["top_instructions"][0]["address"]
    by_address = ask(world, "profile_function", {"profile": before.code, "function": f"{address + 1:#x}"})
    assert by_address.data["function"] == "update_particles" and by_address.data["address"] == address + 1
    assert f"contains {address + 1:#x}" in by_address.text
    label, path = by_address.links[0]
    assert path == f"/profiles/{before.code}/function/?name=update_particles"


def test_the_diff_equals_the_api_and_links_to_the_diff_page(world, api_for, demo):
    before, after = demo["before"], demo["after"]
    answer = api(api_for, world, after.code, "diff", against=before.code, limit=10)
    result = ask(world, "profile_diff", {"profile": "latest", "against": before.code})
    assert without(result.data, "profile", "against") == answer
    assert "update_particles" in result.text and "Improved:" in result.text
    assert ("Profile diff", f"/profiles/{after.code}/diff/?against={before.code}") in result.links


def test_bad_profile_arguments_are_tool_errors(world, demo):
    def refused(name, arguments):
        with pytest.raises(ToolError) as caught:
            ask(world, name, arguments)
        return caught.value.message

    assert "no profile 'nope'" in refused("profile_hotspots", {"profile": "nope"})
    assert "event" in refused("profile_hotspots", {"event": "cycles-of-doom"})
    assert "'stack' is not one of" in refused("profile_hotspots", {"by": "stack"})
    assert "no function 'no_such_function'" in refused("profile_function", {"function": "no_such_function"})
    assert "contains the address 0x1" in refused("profile_function", {"function": "0x1"})
    assert "not a hexadecimal address" in refused("profile_function", {"function": "0xzz"})
    assert "target" in refused("profile_recommendations", {"target": "pentium-pro-max"})
    assert "two different profiles" in refused("profile_diff", {"profile": "latest", "against": "latest"})


def test_mallory_has_no_latest_profile_and_cannot_name_alphas(world, demo):
    with pytest.raises(ToolError, match="no ready profile yet|no profile"):
        ask(
            world, "profile_hotspots", {"profile": demo["after"].code}, user=world.mallory, tenant=world.other
        )


def test_a_big_answer_is_cut_to_the_byte_bound_and_says_so(world, api_for, demo):
    answer = api(api_for, world, demo["after"].code, "hotspots", by="line", limit=50)
    result = ask(world, "profile_hotspots", {"by": "line", "limit": 50})
    assert size_of(answer) > MAX_RESULT_BYTES >= size_of(result.data)
    assert result.truncated and 0 < len(result.data["rows"]) < len(answer["rows"])
    assert result.data["rows"] == answer["rows"][: len(result.data["rows"])]


def test_a_profile_still_waiting_to_be_parsed_is_a_tool_error(world, demo):
    from analysis.services import profiles as profile_services

    with tenant_context(world.tenant), (DEMO / "before.callgrind").open("rb") as data:
        waiting = profile_services.create_profile(
            name="Not parsed yet",
            filename="callgrind.out.waiting",
            data=data,
            size=(DEMO / "before.callgrind").stat().st_size,
            actor=world.alice,
        )
    with pytest.raises(ToolError, match=f"The profile {waiting.code} is waiting to be parsed"):
        ask(world, "profile_memory", {"profile": waiting.code})
    assert ask(world, "profile_memory", {"limit": 1}).data["profile"] == demo["after"].code  # ready only
