"""``/api/v1/profiles``: upload, background parse (eager Celery here), status, re-parse, delete, and the
tenant boundary. The file is a real callgrind output (the demo's, made by valgrind)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from analysis.models import Profile
from analysis.profiles.callgrind import parse_callgrind
from tenants.services.files import storage_of

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"


@pytest.fixture
def alice(api_for, world):
    return api_for(world.alice)


@pytest.fixture
def upload(alice, django_capture_on_commit_callbacks):
    """POST a file as alice; the parse task (eager) runs when the upload commits, as a worker would."""

    def post(filename: str, content: bytes, *, client=None, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            response = (client or alice).post(
                "/api/v1/profiles",
                {"file": SimpleUploadedFile(filename, content), **fields},
                format="multipart",
            )
        return response

    return post


def keys_under(tenant, prefix: str) -> set[str]:
    with tenant_context(tenant):
        storage = storage_of(tenant)
        found, folders = set(), [prefix]
        while folders:
            listing = storage.list(folders.pop())
            found |= {item.key for item in listing.objects}
            folders += listing.folders
        return found


def test_an_uploaded_callgrind_file_is_parsed_and_its_totals_are_the_files(alice, upload, world):
    content = (DEMO / "before.callgrind").read_bytes()
    response = upload("callgrind.out.4242", content, name="Particles, before")
    assert response.status_code == 202, response.json()
    code = response.json()["code"]

    profile = alice.get(f"/api/v1/profiles/{code}").json()
    assert profile["state"] == "ready", profile
    assert (profile["format"], profile["tool"], profile["progress"]) == ("callgrind", "callgrind", 100)
    expected = parse_callgrind(DEMO / "before.callgrind").meta
    assert profile["meta"]["totals"] == expected.totals
    assert profile["meta"]["events"] == list(expected.events)
    assert profile["meta"]["event_info"]["D1mr"]["kind"] == "simulated"
    assert profile["size"] == len(content) and profile["name"] == "Particles, before"

    stored = keys_under(world.tenant, f"profiles/{code}/")
    assert f"profiles/{code}/callgrind.out.4242" in stored
    assert {
        f"profiles/{code}/parsed-1/{table}.parquet" for table in ("functions", "calls", "instructions")
    } <= stored
    listed = alice.get("/api/v1/profiles").json()["results"]
    assert code in [item["code"] for item in listed]


def test_a_gzipped_upload_is_read_too(alice, upload):
    import gzip

    response = upload("callgrind.out.gz", gzip.compress((DEMO / "after.callgrind").read_bytes()))
    assert alice.get(f"/api/v1/profiles/{response.json()['code']}").json()["state"] == "ready"


def test_a_truncated_file_fails_with_the_line_and_a_clear_message(alice, upload):
    lines = (DEMO / "before.callgrind").read_text().splitlines(keepends=True)
    garbled = "".join(lines[:40]) + "fn=(12\n" + "".join(lines[40:60])
    code = upload("broken.out", garbled.encode()).json()["code"]
    profile = alice.get(f"/api/v1/profiles/{code}").json()
    assert profile["state"] == "failed"
    assert profile["error_line"] == 41 and profile["error"]
    answer = alice.get(f"/api/v1/profiles/{code}/hotspots")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_ready"


def test_a_file_of_another_kind_is_refused_by_name_of_what_is_read(alice, upload):
    code = upload("holiday.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4).json()["code"]
    profile = alice.get(f"/api/v1/profiles/{code}").json()
    assert profile["state"] == "failed" and "callgrind" in profile["error"]


def test_bad_uploads_get_field_errors_and_leave_nothing(alice, upload, world):
    before = keys_under(world.tenant, "profiles/")
    empty = upload("empty.out", b"")
    assert empty.status_code == 400 and "file" in empty.json()["error"]["fields"]
    nothing = alice.post("/api/v1/profiles", {"name": "x"}, format="multipart")
    assert nothing.status_code == 400 and "file" in nothing.json()["error"]["fields"]
    long_name = upload("a.out", b"events: Ir\nfn=main\n1 1\n", name="x" * 101)
    assert long_name.status_code == 400 and "name" in long_name.json()["error"]["fields"]
    with tenant_context(world.tenant):
        assert not Profile.objects.filter(filename__in=["empty.out", "a.out"]).exists()
    assert keys_under(world.tenant, "profiles/") == before


def test_reparse_replaces_the_tables_and_delete_removes_everything(
    alice, upload, world, django_capture_on_commit_callbacks
):
    code = upload("callgrind.out.1", (DEMO / "after.callgrind").read_bytes()).json()["code"]
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.post(f"/api/v1/profiles/{code}/reparse").status_code == 202
    profile = alice.get(f"/api/v1/profiles/{code}").json()
    assert profile["state"] == "ready"
    stored = keys_under(world.tenant, f"profiles/{code}/")
    assert any("/parsed-2/" in key for key in stored) and not any("/parsed-1/" in key for key in stored)

    assert alice.delete(f"/api/v1/profiles/{code}").status_code == 204
    assert alice.get(f"/api/v1/profiles/{code}").status_code == 404
    assert keys_under(world.tenant, f"profiles/{code}/") == set()


def test_a_viewer_reads_but_cannot_upload(api_for, world, upload, alice):
    code = upload("callgrind.out.2", (DEMO / "after.callgrind").read_bytes()).json()["code"]
    carol = api_for(world.carol)
    assert carol.get(f"/api/v1/profiles/{code}").status_code == 200
    assert upload("callgrind.out.3", b"events: Ir\n", client=carol).status_code == 403
    assert carol.delete(f"/api/v1/profiles/{code}").status_code == 403


def test_another_tenants_member_finds_nothing(api_for, world, upload):
    code = upload("callgrind.out.5", (DEMO / "after.callgrind").read_bytes()).json()["code"]
    mallory = api_for(world.mallory, world.other)
    for path in (
        "",
        "/hotspots",
        "/memory",
        "/vectorization",
        "/recommendations",
        "/flame",
        "/function?name=main",
    ):
        assert mallory.get(f"/api/v1/profiles/{code}{path}").status_code == 404, path
    assert mallory.post(f"/api/v1/profiles/{code}/reparse").status_code == 404
    assert mallory.delete(f"/api/v1/profiles/{code}").status_code == 404
    assert code not in [item["code"] for item in mallory.get("/api/v1/profiles").json()["results"]]
    # nor with her token sent to acme's host
    assert api_for(world.mallory, world.tenant, token_tenant=world.other).get(
        f"/api/v1/profiles/{code}"
    ).status_code in (401, 403, 404)


@pytest.fixture
def demo_pair(upload):
    """The demo's before/after profiles, each uploaded with its binary's objdump."""

    def post(stem: str) -> str:
        disassembly = SimpleUploadedFile(f"{stem}.objdump", (DEMO / f"{stem}.objdump").read_bytes())
        content = (DEMO / f"{stem}.callgrind").read_bytes()
        response = upload(f"callgrind.out.{stem}", content, name=stem, disassembly=disassembly)
        assert response.status_code == 202, response.json()
        return response.json()["code"]

    return post("before"), post("after")


def test_insights_answer_from_the_stored_tables_with_their_figures_traced(alice, demo_pair):
    before, after = demo_pair
    parsed = parse_callgrind(DEMO / "before.callgrind")
    self_ir = parsed.self_cost("Ir")

    hot = alice.get(f"/api/v1/profiles/{before}/hotspots", {"limit": 3}).json()
    assert (hot["event"], hot["kind"]) == ("Ir", "exact")
    top = hot["rows"][0]
    assert top["function"] == self_ir.idxmax() and top["self"]["value"] == self_ir.max()
    assert (
        top["self_share"]["numerator"] == self_ir.max()
        and top["self_share"]["denominator"] == parsed.meta.totals["Ir"]
    )
    assert len(hot["rows"]) == 3
    lines = alice.get(f"/api/v1/profiles/{before}/hotspots", {"by": "line", "event": "DLmr"}).json()
    assert lines["event"] == "DLmr" and lines["kind"] == "simulated" and lines["rows"][0]["line"] is not None

    vector = alice.get(f"/api/v1/profiles/{after}/vectorization").json()
    assert vector["program_basis"] == "dynamic" and vector["program"]["ymm"]["numerator"] > 0

    memory = alice.get(f"/api/v1/profiles/{before}/memory").json()
    worst = memory["rows"][0]
    assert worst["function"] == "update_particles"

    advice = alice.get(f"/api/v1/profiles/{before}/recommendations", {"target": "icelake-server"}).json()
    assert advice["items"] and all(item["reason"] and item["evidence"] for item in advice["items"])

    detail = alice.get(f"/api/v1/profiles/{before}/function", {"name": "update_particles"})
    assert detail.status_code == 200 and detail.json()

    flame = alice.get(f"/api/v1/profiles/{before}/flame", {"max_depth": 3}).json()
    assert flame["event"] == "Ir" and flame["tree"]["children"]

    change = alice.get(f"/api/v1/profiles/{after}/diff", {"against": before}).json()
    assert change["total_before"]["value"] == parsed.meta.totals["Ir"]
    assert change["total_after"]["value"] == parse_callgrind(DEMO / "after.callgrind").meta.totals["Ir"]


def test_questions_a_profile_cannot_answer_are_clear_errors(alice, demo_pair, api_for, world):
    before, after = demo_pair
    unknown_event = alice.get(f"/api/v1/profiles/{before}/hotspots", {"event": "cycles"})
    assert unknown_event.status_code == 400 and "event" in unknown_event.json()["error"]["fields"]
    bad_by = alice.get(f"/api/v1/profiles/{before}/hotspots", {"by": "planet"})
    assert bad_by.status_code == 400 and "by" in bad_by.json()["error"]["fields"]
    bad_target = alice.get(f"/api/v1/profiles/{before}/recommendations", {"target": "pentium-pro-9000"})
    assert bad_target.status_code == 400 and "target" in bad_target.json()["error"]["fields"]
    assert alice.get(f"/api/v1/profiles/{before}/function", {"name": "no_such_fn"}).status_code == 404
    assert alice.get(f"/api/v1/profiles/{before}/function").status_code == 400
    no_other = alice.get(f"/api/v1/profiles/{after}/diff", {"against": "nope-01234567"})
    assert no_other.status_code == 400 and "against" in no_other.json()["error"]["fields"]
    # mallory's own profile cannot be diffed against alice's
    mallory = api_for(world.mallory, world.other)
    assert mallory.get(f"/api/v1/profiles/{after}/diff", {"against": before}).status_code == 404
