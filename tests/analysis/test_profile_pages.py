"""The profile pages, rendered for each role: the list with its upload form, a profile (hotspots, vector mix,
memory, advice, icicle), a function in depth and the diff of two runs. The figures on the pages are those
``analysis.insights`` computes from the stored tables; another tenant's member finds none of the pages."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from analysis import insights
from analysis.models import Profile
from analysis.tables import parsed
from tests.builders import parse_demo_profiles

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"
ROLES = ("alice", "bob", "carol")


@pytest.fixture
def upload(client_for, world, django_capture_on_commit_callbacks):
    """Upload through the page's form as ``user``; the parse (eager Celery) runs when the upload commits."""

    def post(filename: str, content: bytes, *, user=None, disassembly: bytes | None = None, **fields):
        files = {"file": SimpleUploadedFile(filename, content)}
        if disassembly is not None:
            files["disassembly"] = SimpleUploadedFile("app.objdump", disassembly)
        with django_capture_on_commit_callbacks(execute=True):
            return client_for(user or world.alice).post("/profiles/", {**files, **fields})

    return post


@pytest.fixture(scope="module")
def demo(django_db_blocker, world):
    """The demo's before and after runs (callgrind joined with objdump), parsed once for the module."""
    from analysis.services import profiles as profile_services

    with django_db_blocker.unblock(), tenant_context(world.tenant):
        made = parse_demo_profiles("Pages demo", actor=world.alice)
    yield made
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        for profile in made.values():
            profile_services.delete_profile(profile, actor=None)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


@pytest.mark.parametrize("role", ROLES)
def test_every_profile_page_renders_for_each_role(client_for, world, demo, role):
    client = client_for(getattr(world, role))
    before, after = demo["before"], demo["after"]
    listed = page(client, "/profiles/")
    assert f'data-profile-row="{before.code}"' in listed and "Pages demo before" in listed
    assert 'aria-current="page">Profiles</a>' in listed
    detail = page(client, f"/profiles/{before.code}/")
    for part in (
        "Hotspots",
        "Vector register mix",
        "Memory bottlenecks",
        "Recommendations",
        'data-testid="icicle"',
    ):
        assert part in detail
    function = page(client, f"/profiles/{before.code}/function/?name=update_particles")
    assert 'data-testid="function-name">update_particles<' in function
    diff = page(client, f"/profiles/{after.code}/diff/?against={before.code}")
    assert 'data-testid="regressions"' in diff and 'data-testid="improvements"' in diff
    writes = role != "carol"
    assert ('data-testid="upload-form"' in listed) is writes
    assert ('data-testid="delete"' in detail) is writes and ('data-testid="reparse"' in detail) is writes


def code_of(response) -> str:
    assert response.status_code == 302, response.content.decode()[:3000]
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


def test_an_upload_through_the_form_shows_its_top_hotspot_and_share_from_the_stored_tables(
    upload, client_for, world
):
    content = (DEMO / "before.callgrind").read_bytes()
    objdump = (DEMO / "before.objdump").read_bytes()
    code = code_of(upload("callgrind.out.77", content, name="Form upload", disassembly=objdump))
    with tenant_context(world.tenant):
        profile = Profile.objects.get(code=code)
        assert (profile.state, profile.name, profile.size) == ("ready", "Form upload", len(content))
        expected = insights.hotspots(parsed(profile), limit=20)
        mix = insights.vectorization(parsed(profile))
    top = expected.rows[0]
    assert top.function == "update_particles"  # the demo's pointer-chasing loop

    html = page(client_for(world.bob), f"/profiles/{code}/")
    first = html.split('data-testid="hotspots"', 1)[1].split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert f'data-hotspot="{top.function}"' in first
    assert f'>{percent(top.self_share.value)}</span> <span class="kind kind-exact">exact</span>' in first
    assert f">{top.self.value:,}</span>" in first
    assert "valgrind" not in html or "callgrind" in html
    assert 'data-testid="tool">callgrind' in html and '<code data-testid="command">./before</code>' in html
    events = html.split('data-testid="events"', 1)[1].split("</table>", 1)[0]
    assert "<code>D1mr</code></td><td>L1 data read misses</td>" in events
    assert '<span class="kind kind-simulated">simulated</span>' in events
    assert f"{expected.total.value:,}" in events
    scalar = percent(mix.rows[0].shares["scalar"].value)
    assert f">{scalar}</span>" in html.split('data-testid="vector"', 1)[1]
    assert '<canvas id="chart-hotspots"' in html and '<canvas id="chart-vector"' in html
    assert 'id="profile-chart-data"' in html and "<script>" not in html  # data only, no inline script


def test_the_selectors_change_event_grouping_and_target(client_for, world, demo):
    code = demo["before"].code
    client = client_for(world.alice)
    with tenant_context(world.tenant):
        data = parsed(Profile.objects.get(code=code))
        by_line = insights.hotspots(data, by="line", event="D1mr", limit=20)
        advice = insights.recommendations(data, target="icelake-server")
    html = page(client, f"/profiles/{code}/?event=D1mr&by=line&target=icelake-server")
    row = by_line.rows[0]
    assert f"{row.file}:{row.line}" in html and f">{percent(row.self_share.value)}</span>" in html
    assert '<option value="icelake-server" selected>' in html
    assert html.count('<li data-rule="') == len(advice.items) > 0
    assert advice.items[0].reason in html.replace("&#x27;", "'")
    wrong = page(client, f"/profiles/{code}/?event=cycles&target=pentium9")
    assert 'data-testid="problem-event"' in wrong and 'data-testid="problem-target"' in wrong


def test_the_icicle_is_svg_drawn_on_the_server_from_the_flame_tree(client_for, world, demo):
    code = demo["before"].code
    with tenant_context(world.tenant):
        tree = insights.flame(parsed(Profile.objects.get(code=code))).tree
    svg = (
        page(client_for(world.carol), f"/profiles/{code}/")
        .split('data-testid="icicle"', 1)[1]
        .split("</svg>")[0]
    )
    assert '<rect x="0.0" y="0" width="1000.0" height="21">' in svg  # the root spans the chart
    assert f"<title>all: {tree['value']:,} Ir (100.0% of the total)</title>" in svg
    assert ">update_particles</text>" in svg and "style=" not in svg and "<script" not in svg


def test_a_function_page_shows_its_costs_mix_and_links_to_its_callers(client_for, world, demo):
    code = demo["before"].code
    with tenant_context(world.tenant):
        detail = insights.function_detail(parsed(Profile.objects.get(code=code)), "update_particles")
    html = page(client_for(world.carol), f"/profiles/{code}/function/?name=update_particles")
    ir = detail.costs[0]
    assert f'>{ir.self.value:,}</span> <span class="kind kind-exact">exact</span>' in html
    assert '<canvas id="chart-mix"' in html
    caller = detail.callers[0]
    assert f"/profiles/{code}/function/?name={caller.function}&amp;object=" in html
    missing = client_for(world.carol).get(f"/profiles/{code}/function/?name=no_such_function")
    assert missing.status_code == 404


def test_the_diff_page_shows_totals_regressions_and_improvements(client_for, world, demo):
    before, after = demo["before"], demo["after"]
    with tenant_context(world.tenant):
        result = insights.diff(parsed(before), parsed(after), limit=20)
    html = page(client_for(world.bob), f"/profiles/{after.code}/diff/?against={before.code}")
    assert f"{result.total_before.value:,}" in html and f"{result.total_after.value:,}" in html
    assert f">{percent(result.total_change.value)}</span>" in html
    sections = {
        name: html.split(f'data-testid="{name}"', 1)[1].split("</div>", 1)[0]
        for name in ("regressions", "improvements", "shifted")
    }
    for name, rows in (
        ("regressions", result.regressions),
        ("improvements", result.improvements),
        ("shifted", [row for row in result.rows if row.status == "shifted"]),
    ):
        if rows:
            assert rows[0].function in sections[name]
            assert f"{rows[0].share_change.value * 100:+.1f} pts" in sections[name]
        else:
            assert 'class="empty"' in sections[name]
    assert result.improvements and result.improvements[0].function == "update_particles"
    assert '<canvas id="chart-diff"' in html
    assert client_for(world.bob).get(f"/profiles/{after.code}/diff/?against=nope").status_code == 404


def test_a_bad_file_shows_its_error_and_line_with_a_reparse_button(upload, client_for, world):
    lines = (DEMO / "before.callgrind").read_text().splitlines(keepends=True)
    garbled = "".join(lines[:40]) + "fn=(12\n" + "".join(lines[40:60])
    code = code_of(upload("broken.out", garbled.encode()))
    html = page(client_for(world.alice), f"/profiles/{code}/")
    assert '<span data-testid="error-line">41</span>' in html
    with tenant_context(world.tenant):
        error = Profile.objects.get(code=code).error
    assert error and error.replace("'", "&#x27;") in html
    assert 'data-testid="reparse"' in html and 'data-testid="hotspots"' not in html
    assert 'data-testid="reparse"' not in page(client_for(world.carol), f"/profiles/{code}/")


def test_upload_errors_are_shown_next_to_their_fields(upload, client_for, world):
    response = upload("empty.out", b"")
    assert response.status_code == 400
    assert 'data-testid="problem-file"' in response.content.decode()
    long_name = upload("a.out", b"events: Ir\nfn=main\n1 1\n", name="x" * 101)
    assert 'data-testid="problem-name"' in long_name.content.decode()
    with tenant_context(world.tenant):
        assert not Profile.objects.filter(filename__in=["empty.out", "a.out"]).exists()


def test_the_list_filters_by_state_and_format_and_says_when_nothing_matches(client_for, world, demo):
    client = client_for(world.carol)
    ready = page(client, "/profiles/?state=ready&format=callgrind")
    assert f'data-profile-row="{demo["before"].code}"' in ready
    assert (
        'data-profile-progress aria-label="Parsed"' in ready and 'data-live-socket="/ws/profiles/"' in ready
    )
    failed = page(client, "/profiles/?state=failed&format=callgrind")
    assert f'data-profile-row="{demo["before"].code}"' not in failed
    assert "No profiles match these filters" in page(client, "/profiles/?format=nothing-like-it")


def test_a_viewer_cannot_upload_reparse_or_delete(client_for, world, demo):
    carol = client_for(world.carol)
    code = demo["before"].code
    file = SimpleUploadedFile("x.out", (DEMO / "after.callgrind").read_bytes())
    assert carol.post("/profiles/", {"file": file}).status_code == 403
    assert carol.post(f"/profiles/{code}/reparse/").status_code == 403
    assert carol.post(f"/profiles/{code}/delete/").status_code == 403
    with tenant_context(world.tenant):
        assert Profile.objects.get(code=code).state == "ready"
        assert not Profile.objects.filter(filename="x.out").exists()


def test_a_member_reparses_and_deletes(upload, client_for, world, django_capture_on_commit_callbacks):
    code = code_of(upload("callgrind.out.9", (DEMO / "after.callgrind").read_bytes()))
    bob = client_for(world.bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert bob.post(f"/profiles/{code}/reparse/")["Location"] == f"/profiles/{code}/"
    with tenant_context(world.tenant):
        assert Profile.objects.get(code=code).attempt == 2
    assert bob.post(f"/profiles/{code}/delete/")["Location"] == "/profiles/"
    assert bob.get(f"/profiles/{code}/").status_code == 404


def test_mallory_gets_404_on_every_page_of_an_alpha_profile(client_for, world, demo):
    before, after = demo["before"], demo["after"]
    paths = (
        f"/profiles/{before.code}/",
        f"/profiles/{before.code}/function/?name=update_particles",
        f"/profiles/{after.code}/diff/?against={before.code}",
    )
    for client in (client_for(world.mallory, world.tenant), client_for(world.mallory, world.other)):
        for path in paths:
            assert client.get(path).status_code == 404, path
        for action in ("reparse", "delete"):
            assert client.post(f"/profiles/{before.code}/{action}/").status_code == 404
    own = client_for(world.mallory, world.other).get("/profiles/")
    assert own.status_code == 200 and before.code not in own.content.decode()
    with tenant_context(world.tenant):
        assert Profile.objects.filter(code=before.code, state="ready").exists()


def test_the_list_costs_the_same_queries_however_many_profiles_it_shows(client_for, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(count: int) -> None:
        with tenant_context(world.tenant):
            for number in range(count):
                Profile.objects.create(
                    name=f"Row {number}", filename="callgrind.out", size=1, raw_key="x", created_by=world.bob
                )

    def queries() -> int:
        client = client_for(world.carol)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/profiles/").status_code == 200
        return len(captured)

    add(2)
    few = queries()
    add(8)
    assert queries() == few
