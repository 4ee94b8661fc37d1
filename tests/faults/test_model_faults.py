"""The tenant's model provider hanging: it takes the request and never answers, or sends the stream's
headers and first chunks and then stalls. The chat gives up after the assistant's timeout
(``AssistantSettings.timeout``, seconds without a chunk), the built-in analyst answers instead with a notice
the user sees, and the reply ends "done" (not left "streaming"), on the websocket and on the API."""

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from chat.models import Message
from tenants.models import AssistantSettings
from tests.chat.model_server import ModelServer, hang, openai_text, stall
from tests.chat.test_chat_socket import ask, streamed

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("private_channel_layer", "consumer_connection"),
]

KEY = "sk-fault-test"
TIMEOUT = 0.5  # seconds; the model below stays silent for far longer
SILENCE = 60
ASK = "/api/v1/chat/conversations/ask"
QUESTION = "How is the queue?"
NOTICE = f"sent nothing for {TIMEOUT:g} s (timed out). The built-in analyst answered instead."
HALF_ANSWER = openai_text(["The queue ", "is very ", "busy today."])


@pytest.fixture
def model(world):
    with ModelServer() as server, override_settings(CHAT_PROVIDER_KEYS={"alpha": KEY}):
        AssistantSettings.objects.create(
            tenant=world.tenant,
            provider="openai",
            base_url=f"{server.url}/v1",
            model="gpt-test",
            timeout=TIMEOUT,
        )
        yield server


def ask_on_socket(world, session_cookie, text: str) -> list[dict]:
    return ask(session_cookie(world.bob), text)


def stored(world, message_id: int) -> Message:
    with tenant_context(world.tenant):
        return Message.objects.get(pk=message_id)


def assert_analyst_answered_with_notice(world, done: dict) -> None:
    assert done["state"] == "done" and done["provider"] == "analyst"
    assert done["notice"].endswith(NOTICE), done["notice"]
    assert [card["tool"] for card in done["lookups"]] == ["queue_status"] and done["content"]
    reply = stored(world, done["id"])
    assert (reply.state, reply.provider, reply.notice) == ("done", "analyst", done["notice"])
    assert reply.content == done["content"]


def test_a_model_that_never_answers_times_out_and_the_analyst_answers_on_the_socket(
    world, session_cookie, model
):
    model.play(hang(SILENCE))

    events = ask_on_socket(world, session_cookie, QUESTION)

    assert len(model.requests) == 1  # a hang is not retried: the user already waited the timeout
    resets = [event for event in events if event["type"] == "reset"]
    assert len(resets) == 1 and resets[0]["notice"].endswith(NOTICE)
    done = events[-1]["message"]
    assert done["notice"] == resets[0]["notice"] and streamed(events[events.index(resets[0]) :])
    assert_analyst_answered_with_notice(world, done)


def test_a_model_that_stalls_mid_stream_is_dropped_and_the_analyst_answers_on_the_socket(
    world, session_cookie, model
):
    model.play(stall(HALF_ANSWER, after=3, seconds=SILENCE))  # the role chunk and two pieces of text

    events = ask_on_socket(world, session_cookie, QUESTION)

    reset = next(event for event in events if event["type"] == "reset")
    before, after = events[: events.index(reset)], events[events.index(reset) + 1 :]
    # what came before the stall is shown, the piece held back to go out with the next one too
    assert "".join(e["text"] for e in before if e["type"] == "delta") == "The queue is very "
    assert reset["notice"].endswith(NOTICE)
    done = events[-1]["message"]
    assert "very busy" not in done["content"]  # the model's half answer was dropped, not kept
    assert done["content"].startswith("".join(e["text"] for e in after if e["type"] == "delta")[:40])
    assert_analyst_answered_with_notice(world, done)


def test_a_model_that_stalls_mid_stream_times_out_on_the_api_too(world, api_for, model):
    model.play(stall(HALF_ANSWER, after=2, seconds=SILENCE))

    response = api_for(world.alice).post(ASK, {"text": QUESTION}, format="json")

    assert response.status_code == 201, response.content
    reply = response.json()["reply"]
    assert "very busy" not in reply["content"]
    assert_analyst_answered_with_notice(world, reply)


def test_mallory_cannot_ask_alphas_model(world, api_for, client_for, model):
    model.play(hang(SILENCE))

    refused = client_for(world.mallory, world.tenant).post(
        ASK, {"text": QUESTION}, content_type="application/json"
    )
    asked = api_for(world.mallory, world.other).post(ASK, {"text": QUESTION}, format="json")
    assert refused.status_code == 404
    assert asked.status_code == 201 and asked.json()["reply"]["provider"] == "analyst"  # beta has no model
    assert model.requests == []
