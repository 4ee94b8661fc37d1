"""``/ws/chat/``: a member asks, the answer streams in piece by piece with its tool cards and is stored;
a reconnecting page resumes from what is stored; changes wait for a confirmation; bad input, a flood of
questions and strangers (mallory, a foreign origin) are refused."""

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message, ToolCallRecord
from portal.consumers import CLOSE_NOT_FOUND
from tests.builders import make_workset
from tests.live import live_socket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_channel_layer", "consumer_connection")]

PATH = "/ws/chat/"


async def opened(cookie, slug="alpha"):
    socket = live_socket(PATH, slug, cookie)
    connected, _ = await socket.connect()
    assert connected
    assert await socket.receive_json_from() == {"type": "ready"}
    return socket


async def until_done(socket) -> list[dict]:
    """Every event up to and including the reply's ``done``."""
    seen = []
    while not seen or seen[-1]["type"] != "done":
        seen.append(await socket.receive_json_from(timeout=30))
    return seen


def ask(cookie, text: str) -> list[dict]:
    """Open a chat socket with the session ``cookie``, ask ``text`` and return every event up to ``done``."""

    async def talk():
        socket = await opened(cookie)
        await socket.send_json_to({"type": "ask", "text": text})
        events = await until_done(socket)
        await socket.disconnect()
        return events

    return async_to_sync(talk)()


def streamed(events: list[dict]) -> str:
    text = ""
    for event in events:
        if event["type"] == "delta":
            assert event["offset"] == len(text)
            text += event["text"]
    return text


def test_an_answer_streams_in_pieces_with_its_tool_card_and_is_stored(world, session_cookie):
    workset = make_workset(world.tenant, state="queued", name="Chat socket status")
    cookie = session_cookie(world.bob)

    async def talk():
        socket = await opened(cookie)
        await socket.send_json_to(
            {"type": "ask", "conversation": None, "text": f"What's the status of {workset.code}?"}
        )
        events = await until_done(socket)
        await socket.disconnect()
        return events

    events = async_to_sync(talk)()
    question, reply = (event["message"] for event in events[:2])
    assert question["role"] == "user" and reply["role"] == "assistant" and reply["state"] == "streaming"
    lookups = [event["card"] for event in events if event["type"] == "lookup"]
    assert [card["tool"] for card in lookups] == ["workset_status"]
    assert lookups[0]["refusal"] == "" and any(workset.code in url for _, url in lookups[0]["links"])
    deltas = [event for event in events if event["type"] == "delta"]
    assert len(deltas) > 1 and all(event["message"] == reply["id"] for event in deltas)
    done = events[-1]["message"]
    assert done["state"] == "done" and done["content"] == streamed(events)
    assert workset.name in done["content"] and "queued" in done["content"].lower()
    with tenant_context(world.tenant):
        stored = Message.objects.get(pk=reply["id"])
        assert stored.content == done["content"] and stored.lookups == lookups
        conversation = stored.conversation
        assert conversation.user == world.bob and str(conversation.code) == events[-1]["conversation"]
        assert conversation.context == {"workset": workset.code}


def test_a_reconnecting_page_gets_the_stored_conversation_and_it_remembers_what_it_is(world, session_cookie):
    workset = make_workset(world.tenant, state="queued", name="Chat socket resume")
    cookie = session_cookie(world.alice)

    async def talk():
        first = await opened(cookie)
        await first.send_json_to({"type": "ask", "text": f"Status of workset {workset.code}?"})
        code = (await until_done(first))[-1]["conversation"]
        await first.disconnect()
        again = await opened(cookie)
        await again.send_json_to({"type": "open", "conversation": code})
        history = await again.receive_json_from(timeout=10)
        await again.send_json_to({"type": "ask", "conversation": code, "text": "Is it still queued?"})
        follow_up = await until_done(again)
        await again.disconnect()
        return code, history, follow_up

    code, history, follow_up = async_to_sync(talk)()
    assert history["type"] == "conversation" and history["conversation"]["code"] == code
    assert [message["role"] for message in history["messages"]] == ["user", "assistant"]
    assert history["messages"][1]["state"] == "done" and workset.name in history["messages"][1]["content"]
    assert [event["card"]["arguments"] for event in follow_up if event["type"] == "lookup"] == [
        {"workset": workset.code}
    ]


def test_a_cancel_waits_for_the_users_confirmation_and_runs_once(world, session_cookie):
    workset = make_workset(world.tenant, state="queued", name="Chat socket cancel")
    cookie = session_cookie(world.bob)

    async def talk():
        socket = await opened(cookie)
        await socket.send_json_to({"type": "ask", "text": f"Cancel workset {workset.code}"})
        asked = await until_done(socket)
        reply = asked[-1]["message"]
        await socket.send_json_to({"type": "confirm", "message": reply["id"], "index": 0, "accept": True})
        updated, note = await socket.receive_json_from(timeout=30), await socket.receive_json_from(timeout=30)
        await socket.send_json_to({"type": "confirm", "message": reply["id"], "index": 0, "accept": True})
        twice = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return reply, updated, note, twice

    reply, updated, note, twice = async_to_sync(talk)()
    assert reply["pending"] == [
        {
            "tool": "cancel_workset",
            "arguments": {"workset": workset.code},
            "prompt": reply["pending"][0]["prompt"],
            "state": "waiting",
        }
    ]
    assert updated["message"]["pending"][0]["state"] == "confirmed"
    assert (
        "cancelled" in note["message"]["content"]
        and note["message"]["lookups"][0]["tool"] == "cancel_workset"
    )
    assert twice["type"] == "error" and twice["code"] == "invalid"
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "cancelled"
        assert (
            ToolCallRecord.objects.filter(tool="cancel_workset", arguments={"workset": workset.code}).count()
            == 1
        )


def test_a_declined_change_is_left_undone(world, session_cookie):
    workset = make_workset(world.tenant, state="queued", name="Chat socket keep")
    cookie = session_cookie(world.bob)

    async def talk():
        socket = await opened(cookie)
        await socket.send_json_to({"type": "ask", "text": f"Cancel workset {workset.code}"})
        reply = (await until_done(socket))[-1]["message"]
        await socket.send_json_to({"type": "confirm", "message": reply["id"], "index": 0, "accept": False})
        events = [await socket.receive_json_from(timeout=30) for _ in range(2)]
        await socket.disconnect()
        return events

    updated, note = async_to_sync(talk)()
    assert updated["message"]["pending"][0]["state"] == "declined"
    assert note["message"]["content"].startswith("Left as it was")
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "queued"


def test_bad_input_gets_an_error_and_writes_nothing(world, session_cookie):
    cookie = session_cookie(world.carol)

    async def talk():
        socket = await opened(cookie)
        answers = []
        nested = "[" * 100_000  # past json's recursion limit (RecursionError, not ValueError)
        for raw in ('{"type": "ask", "text": "   "}', "not json", '{"type": "shout"}', '["ask"]', nested):
            await socket.send_to(text_data=raw)
            answers.append(await socket.receive_json_from(timeout=10))
        await socket.send_json_to({"type": "ask", "text": "x" * 4001})
        answers.append(await socket.receive_json_from(timeout=10))
        await socket.send_json_to({"type": "confirm", "message": "1", "index": 0, "accept": True})
        answers.append(await socket.receive_json_from(timeout=10))
        await socket.disconnect()
        return answers

    answers = async_to_sync(talk)()
    assert [answer["code"] for answer in answers] == ["invalid"] * 7
    assert answers[0]["fields"] == {"text": ["Type a question first."]}
    assert "4,000" in answers[5]["message"]
    with tenant_context(world.tenant):
        assert not Conversation.objects.of(world.carol).exists()


@override_settings(RUNYARD_CHAT_MESSAGES_PER_MINUTE=2)
def test_a_flood_of_questions_is_refused_with_when_to_try_again(world, session_cookie):
    cookie = session_cookie(world.carol)

    async def talk():
        socket = await opened(cookie)
        for _ in range(2):
            await socket.send_json_to({"type": "ask", "text": "How is the queue?"})
            await until_done(socket)
        await socket.send_json_to({"type": "ask", "text": "How is the queue now?"})
        refused = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return refused

    refused = async_to_sync(talk)()
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert "2 questions in the last minute" in refused["message"]
    with tenant_context(world.tenant):
        assert Message.objects.filter(conversation__user=world.carol, role="user").count() == 2


def test_mallory_cannot_open_read_or_confirm_in_alphas_conversations(world, session_cookie):
    workset = make_workset(world.tenant, state="queued", name="Chat socket mallory")
    alices, mallorys = session_cookie(world.alice), session_cookie(world.mallory)

    async def talk():
        alice = await opened(alices)
        await alice.send_json_to({"type": "ask", "text": f"Cancel workset {workset.code}"})
        done = (await until_done(alice))[-1]
        await alice.disconnect()
        on_alpha = live_socket(PATH, "alpha", mallorys)
        refused = await on_alpha.connect()
        mallory = await opened(mallorys, slug="beta")
        answers = []
        for message in (
            {"type": "open", "conversation": done["conversation"]},
            {"type": "ask", "conversation": done["conversation"], "text": "And now?"},
            {"type": "confirm", "message": done["message"]["id"], "index": 0, "accept": True},
        ):
            await mallory.send_json_to(message)
            answers.append(await mallory.receive_json_from(timeout=10))
        assert await mallory.receive_nothing(timeout=0.3)
        await mallory.disconnect()
        return refused, answers

    refused, answers = async_to_sync(talk)()
    assert refused == (False, CLOSE_NOT_FOUND)
    assert [answer["code"] for answer in answers] == ["not_found"] * 3
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "queued"


def test_bob_cannot_read_alices_conversation_in_the_same_tenant(world, session_cookie):
    alices, bobs = session_cookie(world.alice), session_cookie(world.bob)

    async def talk():
        alice = await opened(alices)
        await alice.send_json_to({"type": "ask", "text": "How is the queue?"})
        code = (await until_done(alice))[-1]["conversation"]
        await alice.disconnect()
        bob = await opened(bobs)
        await bob.send_json_to({"type": "open", "conversation": code})
        answer = await bob.receive_json_from(timeout=10)
        await bob.disconnect()
        return answer

    assert async_to_sync(talk)()["code"] == "not_found"


def test_a_socket_from_another_origin_is_refused(world, session_cookie):
    cookie = session_cookie(world.alice)

    async def talk():
        socket = live_socket(PATH, "alpha", cookie)
        socket.scope["headers"] = [
            (name, b"https://evil.example" if name == b"origin" else value)
            for name, value in socket.scope["headers"]
        ]
        return await socket.connect()

    connected, _ = async_to_sync(talk)()
    assert connected is False
