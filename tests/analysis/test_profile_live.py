"""``/ws/profiles/``: a member watches a profile being parsed (state and progress), and only their
tenant's profiles; strangers are refused."""

from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from analysis.services.profiles import create_profile
from portal.consumers import CLOSE_NOT_FOUND
from tests.live import live_socket, open_live_socket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_channel_layer", "consumer_connection")]

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"
PATH = "/ws/profiles/"


@pytest.fixture
def uploaded(django_capture_on_commit_callbacks):
    """Upload ``content`` to ``tenant`` as ``user``; the parse (eager) runs when the upload commits."""

    def run(tenant, user, name: str, content: bytes):
        with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
            return create_profile(
                name=name,
                filename=name,
                data=SimpleUploadedFile(name, content),
                size=len(content),
                actor=user,
            ).code

    return sync_to_async(run)


async def updates_until_settled(socket) -> list[dict]:
    seen = []
    while not seen or seen[-1]["state"] not in ("ready", "failed"):
        message = await socket.receive_json_from(timeout=30)
        assert message["type"] == "profile.update"
        seen.append(message["profile"])
    return seen


def test_a_member_watches_the_parse_from_waiting_to_ready(world, session_cookie, uploaded):
    cookie = session_cookie(world.carol)  # a viewer watches too

    async def talk():
        carol = await open_live_socket(PATH, "alpha", cookie)
        code = await uploaded(
            world.tenant, world.alice, "callgrind.out.7", (DEMO / "before.callgrind").read_bytes()
        )
        seen = await updates_until_settled(carol)
        await carol.disconnect()
        return code, seen

    code, seen = async_to_sync(talk)()
    assert {update["code"] for update in seen} == {code}
    states = [update["state"] for update in seen]
    assert states[0] == "pending" and "parsing" in states and states[-1] == "ready"
    progress = [update["progress"] for update in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert seen[-1]["format"] == "callgrind"


def test_a_failed_parse_arrives_with_its_line(world, session_cookie, uploaded):
    cookie = session_cookie(world.alice)

    async def talk():
        alice = await open_live_socket(PATH, "alpha", cookie)
        await uploaded(world.tenant, world.alice, "bad.out", b"events: Ir\nfn=main\n12 x\n")
        seen = await updates_until_settled(alice)
        await alice.disconnect()
        return seen[-1]

    last = async_to_sync(talk)()
    assert last["state"] == "failed" and last["error_line"] == 3 and last["error"]


def test_mallory_on_beta_never_hears_alphas_profiles(world, session_cookie, uploaded):
    cookie = session_cookie(world.mallory)
    content = (DEMO / "after.callgrind").read_bytes()

    async def talk():
        mallory = await open_live_socket(PATH, "beta", cookie)
        await uploaded(world.tenant, world.alice, "alphas.out", content)
        betas = await uploaded(world.other, world.mallory, "betas.out", content)  # the sentinel
        first = await mallory.receive_json_from(timeout=30)
        await mallory.disconnect()
        return betas, first

    betas, first = async_to_sync(talk)()
    assert first["profile"]["code"] == betas


def test_strangers_are_refused(world, session_cookie):
    async def attempt(slug, cookie):
        return await live_socket(PATH, slug, cookie).connect()

    assert async_to_sync(attempt)("alpha", None) == (False, CLOSE_NOT_FOUND)
    assert async_to_sync(attempt)("alpha", session_cookie(world.mallory)) == (False, CLOSE_NOT_FOUND)
