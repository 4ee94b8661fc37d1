"""``/ws/worksets/`` through the websocket communicator: members hear their tenant's changes after commit, and
only theirs; strangers are refused; a workset of another tenant cannot be followed.

The sockets speak through a channel layer of this test alone (its own Redis prefix), so messages of other
test runs on the shared Redis never arrive. "Never receives" is checked with a later sentinel message on the
same socket: a leaked message would have arrived before it.
"""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django_tenants.utils import tenant_context

from jobs import live
from jobs.models import State, WorksetStep
from portal.consumers import CLOSE_NOT_FOUND
from tests.builders import make_workset
from tests.live import live_socket, open_live_socket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_channel_layer", "consumer_connection")]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run ``change(workset)`` in the workset's tenant as if committed: its live update is sent."""

    def run(tenant, change):
        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
            change()

    return sync_to_async(run)


def socket(tenant_slug: str, cookie: str | None) -> WebsocketCommunicator:
    return live_socket("/ws/worksets/", tenant_slug, cookie)


async def open_socket(tenant_slug: str, cookie: str) -> WebsocketCommunicator:
    return await open_live_socket("/ws/worksets/", tenant_slug, cookie)


def test_a_member_receives_the_new_state_of_a_workset_of_their_tenant(world, session_cookie, committed):
    workset = make_workset(world.tenant, state="queued", name="Live one")
    with tenant_context(world.tenant):
        WorksetStep.objects.create(workset=workset, position=1, name="align", status="running")
    cookie = session_cookie(world.carol)  # a viewer reads too

    async def talk():
        carol = await open_socket("alpha", cookie)
        await committed(world.tenant, lambda: workset.transition_to(State.DISPATCHED, cluster="local-1"))
        update = await carol.receive_json_from()
        await carol.disconnect()
        return update

    update = async_to_sync(talk)()
    assert update["type"] == "workset.update"
    sent = update["workset"]
    assert sent["code"] == workset.code and sent["name"] == "Live one"
    assert sent["state"] == "dispatched" and sent["cluster"] == "local-1"
    assert sent["steps"] == [{"name": "align", "status": "running", "exit_code": None}]
    assert "log_tail" not in sent


def test_mallory_on_beta_never_receives_alphas_updates(world, session_cookie, committed):
    alphas = make_workset(world.tenant, state="queued")
    betas = make_workset(world.other, state="queued")
    cookie = session_cookie(world.mallory)

    async def talk():
        mallory = await open_socket("beta", cookie)
        await committed(world.tenant, lambda: alphas.transition_to(State.DISPATCHED))
        await committed(world.other, lambda: betas.transition_to(State.CANCELLED))  # the sentinel
        first = await mallory.receive_json_from()
        await mallory.disconnect()
        return first

    first = async_to_sync(talk)()
    assert first["workset"]["code"] == betas.code and first["workset"]["state"] == "cancelled"


def test_anonymous_and_non_member_sockets_are_refused(world, session_cookie):
    async def attempt(slug, cookie):
        return await socket(slug, cookie).connect()

    assert async_to_sync(attempt)("alpha", None) == (False, CLOSE_NOT_FOUND)
    assert async_to_sync(attempt)("alpha", session_cookie(world.mallory)) == (False, CLOSE_NOT_FOUND)
    assert async_to_sync(attempt)("nowhere", session_cookie(world.alice)) == (False, CLOSE_NOT_FOUND)


def test_following_a_workset_of_another_tenant_is_an_error(world, session_cookie):
    alphas = make_workset(world.tenant, state="queued")
    cookie = session_cookie(world.mallory)

    async def talk():
        mallory = await open_socket("beta", cookie)
        answers = []
        for code in (alphas.code, "no-such-0123abcd", 42):
            await mallory.send_json_to({"type": "follow", "code": code})
            answers.append(await mallory.receive_json_from())
        await mallory.send_json_to({"type": "shout"})
        answers.append(await mallory.receive_json_from())
        await mallory.disconnect()
        return answers

    *not_found, unknown = async_to_sync(talk)()
    for answer in not_found:
        assert answer == {
            "type": "error",
            "error": {"code": "not_found", "message": "No such workset in this tenant."},
        }
    assert unknown["type"] == "error" and unknown["error"]["code"] == "unknown_message"


def test_only_the_follower_receives_the_log_tail(world, session_cookie, committed):
    workset = make_workset(world.tenant, state="running")
    alice_cookie, bob_cookie = session_cookie(world.alice), session_cookie(world.bob)

    async def talk():
        alice, bob = await open_socket("alpha", alice_cookie), await open_socket("alpha", bob_cookie)
        await alice.send_json_to({"type": "follow", "code": workset.code})
        following = await alice.receive_json_from()
        await committed(world.tenant, lambda: live.announce(workset, log_tail="align: 50%\n"))
        to_alice, to_bob = await alice.receive_json_from(), await bob.receive_json_from()
        await alice.send_json_to({"type": "unfollow"})
        await committed(world.tenant, lambda: live.announce(workset, log_tail="align: 60%\n"))
        after_unfollow = await alice.receive_json_from()
        await alice.disconnect()
        await bob.disconnect()
        return following, to_alice, to_bob, after_unfollow

    following, to_alice, to_bob, after_unfollow = async_to_sync(talk)()
    assert following["type"] == "following"
    assert following["workset"]["code"] == workset.code and following["workset"]["state"] == "running"
    assert to_alice["workset"]["log_tail"] == "align: 50%\n"
    assert to_bob["workset"]["code"] == workset.code and "log_tail" not in to_bob["workset"]
    assert "log_tail" not in after_unfollow["workset"]
