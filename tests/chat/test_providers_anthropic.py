"""A model behind Anthropic's Messages API answers with the portal's tools: a local server speaks the
streaming protocol (message_start, content blocks of text and tool_use with input_json_delta pieces,
message_delta with usage, message_stop; ping and error events), and the tools run on the tenant's data."""

import json

import pytest
from django_tenants.utils import tenant_context

from chat.models import ToolCallRecord
from chat.providers import ProviderConfig
from tests.builders import make_workset
from tests.chat.model_server import (
    ModelServer,
    anthropic_answer,
    anthropic_raw,
    ask_model,
    hang,
    status,
)
from tests.recording_server import closed_port_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("consumer_connection")]
KEY = "sk-ant-test-secret-0123456789"


@pytest.fixture
def server():
    with ModelServer() as running:
        yield running


def config(server_or_url, **overrides) -> ProviderConfig:
    base = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    defaults = {"base_url": base, "timeout": 5.0, "retry_base": 0.01, "max_rounds": 3, "max_tokens": 999}
    return ProviderConfig(kind="anthropic", model="claude-test", api_key=KEY, **(defaults | overrides))


def tool_results(request) -> list[dict]:
    return [
        block
        for message in request.body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    ]


def test_text_streams_with_the_documented_headers_and_usage(server, world):
    server.play(anthropic_answer(["Good ", "morning."], tokens=(31, 9)))

    asked = ask_model(config(server), world, "Hello")

    assert asked.error is None
    assert [e["text"] for e in asked.of("delta")] == ["Good ", "morning."]
    assert (asked.outcome.provider, asked.outcome.tokens_in, asked.outcome.tokens_out) == ("anthropic", 31, 9)
    (request,) = server.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY and request.headers["anthropic-version"] == "2023-06-01"
    body = request.body
    assert body["stream"] is True and body["max_tokens"] == 999 and body["model"] == "claude-test"
    assert "Runyard" in body["system"] and body["tool_choice"] == {"type": "auto"}
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
    listing = next(tool for tool in body["tools"] if tool["name"] == "list_worksets")
    assert listing["input_schema"]["properties"]["state"]


def test_a_tool_use_round_sends_the_result_back_as_a_tool_result_block(server, world):
    workset = make_workset(world.tenant, name="Anthropic exome batch")
    server.play(
        anthropic_answer(["Let me look."], [("toolu_1", "workset_status", {"workset": str(workset.code)})]),
        anthropic_answer(["It is queued."], tokens=(50, 5)),
    )

    asked = ask_model(config(server), world, "Status of the exome batch?")

    assert asked.text == "Let me look.\n\nIt is queued."
    (lookup,) = asked.of("lookup")
    assert lookup["card"]["tool"] == "workset_status" and "Anthropic exome batch" in lookup["card"]["text"]
    second = server.requests[1].body["messages"]
    assert second[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "workset_status",
                "input": {"workset": str(workset.code)},
            },
        ],
    }
    (block,) = tool_results(server.requests[1])
    assert block["tool_use_id"] == "toolu_1" and block["is_error"] is False
    result = json.loads(block["content"])
    assert result["data"]["code"] == str(workset.code) and result["data"]["state"] == "queued"
    with tenant_context(world.tenant):
        calls = ToolCallRecord.objects.filter(tool="workset_status", user=world.alice)
        assert calls.filter(arguments={"workset": str(workset.code)}).count() == 1


def test_a_cancel_comes_back_pending_and_is_not_run(server, world):
    workset = make_workset(world.tenant, name="Anthropic keep")
    server.play(
        anthropic_answer([], [("toolu_2", "cancel_workset", {"workset": workset.name})]),
        anthropic_answer(["Please confirm in the page."]),
    )

    asked = ask_model(config(server), world, "Cancel Anthropic keep", user=world.bob)

    assert [p["call"]["tool"] for p in asked.of("pending")] == ["cancel_workset"]
    (block,) = tool_results(server.requests[1])
    assert json.loads(block["content"])["status"] == "awaiting_confirmation"
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "queued"


def test_another_tenants_workset_is_refused(server, world):
    theirs = make_workset(world.other, name="Beta anthropic secret")
    server.play(
        anthropic_answer([], [("toolu_3", "workset_status", {"workset": theirs.name})]),
        anthropic_answer(["Not found."]),
    )

    asked = ask_model(config(server), world, "Status?")

    assert asked.of("lookup")[0]["card"]["refusal"].startswith("There is no workset")
    (block,) = tool_results(server.requests[1])
    assert block["is_error"] is True
    assert str(theirs.code) not in json.dumps(server.requests[1].body)


def test_the_round_cap_asks_for_an_answer_without_tools(server, world):
    server.play(anthropic_answer([], [("t", "queue_status", {})]))

    asked = ask_model(config(server, max_rounds=1), world, "Again and again")

    assert [r.body["tool_choice"] for r in server.requests] == [{"type": "auto"}, {"type": "none"}]
    assert asked.outcome.capped and asked.outcome.rounds == 1


@pytest.mark.parametrize(
    "first",
    [
        status(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        status(
            429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}, retry_after=0
        ),
        anthropic_raw(b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error"}}\n\n'),
    ],
)
def test_overloaded_or_rate_limited_before_any_text_is_retried(server, world, first):
    server.play(first, anthropic_answer(["Back."]))

    asked = ask_model(config(server), world, "Hi")

    assert asked.error is None and asked.text == "Back." and len(server.requests) == 2


def test_an_error_event_after_text_is_model_unavailable_and_not_retried(server, world):
    start = anthropic_answer(["Half"]).chunks[:5]  # message_start, ping, block start, one delta
    error = b'event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "boom"}}\n\n'
    server.play(anthropic_raw(*start, error))

    asked = ask_model(config(server), world, "Hi")

    assert "api_error" in str(asked.error) and asked.error.streamed
    assert len(server.requests) == 1


def test_a_hang_a_refusal_and_a_malformed_event_are_model_unavailable(server, world):
    server.play(hang(30))
    assert "timed out" in str(ask_model(config(server, timeout=0.3), world, "Hi").error)

    refused = ask_model(config(closed_port_url().removesuffix("/hook")), world, "Hi").error
    assert "Anthropic" in str(refused) and "could not be reached" in str(refused)

    server.play(anthropic_raw(b"event: message_start\ndata: {oops\n\n"))
    assert "not JSON" in str(ask_model(config(server), world, "Hi").error)

    server.play(anthropic_raw(*anthropic_answer(["No stop"]).chunks[:-1]))
    assert "before message_stop" in str(ask_model(config(server), world, "Hi").error)


def test_a_bad_key_is_reported_without_the_key(server, world):
    server.play(
        status(
            401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        )
    )

    asked = ask_model(config(server), world, "Hi")

    assert "HTTP 401: invalid x-api-key" in str(asked.error) and KEY not in str(asked.error)
    assert len(server.requests) == 1
