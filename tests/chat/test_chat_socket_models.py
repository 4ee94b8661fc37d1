"""The chat socket with a model configured for the tenant: the model's text streams to the page, its tool
calls run through the tenant's tools and show as cards, its tokens reach the usage ledger; when the model
fails, the page is told and the built-in analyst answers instead."""

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from chat.models import Message
from tenants.models import AssistantSettings, UsageRecord
from tests.chat.model_server import ModelServer, openai_text, openai_tool_calls, status
from tests.chat.test_chat_socket import ask, streamed
from tests.recording_server import closed_port_url

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("private_channel_layer", "consumer_connection"),
]

KEY = "sk-socket-test"


@pytest.fixture
def model(world):
    with ModelServer() as server, override_settings(CHAT_PROVIDER_KEYS={"alpha": KEY}):
        AssistantSettings.objects.create(
            tenant=world.tenant, provider="openai", base_url=f"{server.url}/v1", model="gpt-test", timeout=5
        )
        yield server


def bob_asks(world, session_cookie, text: str) -> list[dict]:
    return ask(session_cookie(world.bob), text)


def test_the_models_answer_streams_with_its_tool_card_and_its_tokens_are_billed(world, session_cookie, model):
    model.play(
        openai_tool_calls([("c1", "queue_status", {})], tokens=(120, 8)),
        openai_text(["The queue ", "is ", "quiet."], tokens=(200, 5)),
    )
    events = bob_asks(world, session_cookie, "How busy is the queue?")
    done = events[-1]["message"]
    assert streamed(events) == "The queue is quiet." == done["content"]
    assert [event["card"]["tool"] for event in events if event["type"] == "lookup"] == ["queue_status"]
    assert done["provider"] == "openai" and done["notice"] == ""
    with tenant_context(world.tenant):
        stored = Message.objects.get(pk=done["id"])
        assert (stored.tokens_in, stored.tokens_out) == (320, 13)
    booked = UsageRecord.objects.get(
        tenant=world.tenant, kind="ai_tokens", reference=f"chat-message:{done['id']}"
    )
    assert booked.quantity == 333


def test_a_failing_model_is_said_and_the_analyst_answers_instead(world, session_cookie, model):
    model.play(status(500, {"error": {"message": "boom"}}))
    events = bob_asks(world, session_cookie, "How is the queue?")
    resets = [event for event in events if event["type"] == "reset"]
    assert len(resets) == 1 and "built-in analyst answered instead" in resets[0]["notice"]
    done = events[-1]["message"]
    assert done["provider"] == "analyst" and done["notice"] == resets[0]["notice"]
    assert KEY not in str(events)
    assert [card["tool"] for card in done["lookups"]] == ["queue_status"] and done["content"]


def test_an_unreachable_model_falls_back_too(world, session_cookie):
    AssistantSettings.objects.create(
        tenant=world.tenant,
        provider="openai",
        base_url=f"{closed_port_url()}/v1",
        model="gpt-test",
        timeout=2,
    )
    with override_settings(CHAT_PROVIDER_KEYS={"alpha": KEY}):
        events = bob_asks(world, session_cookie, "How is the queue?")
    done = events[-1]["message"]
    assert done["provider"] == "analyst" and "unavailable" in done["notice"]
