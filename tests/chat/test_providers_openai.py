"""A model behind an OpenAI-compatible chat-completions endpoint answers with the portal's tools.

The endpoint is a local server speaking the streaming protocol (SSE chunks, tool-call fragments by index,
usage, [DONE]); the tools run for real against the tenant's data, so what the second request carries is what
the database holds. Failures (5xx and 429 then success, a hang, a refused connection, a malformed chunk) end
in a retry or in ModelUnavailable, which the engine turns into the analyst's answer with a notice.
"""

import json

import pytest
from django_tenants.utils import tenant_context

from chat.models import ToolCallRecord
from chat.providers import ProviderConfig
from tests.builders import make_workset
from tests.chat.model_server import (
    ModelServer,
    ask_model,
    hang,
    openai_raw,
    openai_text,
    openai_tool_calls,
    status,
)
from tests.recording_server import closed_port_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("consumer_connection")]
KEY = "sk-test-0123456789-secret"


@pytest.fixture
def server():
    with ModelServer() as running:
        yield running


def config(server_or_url, **overrides) -> ProviderConfig:
    base = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    defaults = {"base_url": f"{base}/v1", "timeout": 5.0, "retry_base": 0.01, "max_rounds": 3}
    return ProviderConfig(kind="openai", model="test-model", api_key=KEY, **(defaults | overrides))


def tool_messages(request) -> list[dict]:
    return [json.loads(m["content"]) for m in request.body["messages"] if m["role"] == "tool"]


def test_text_streams_chunk_by_chunk_with_the_key_the_model_and_the_usage(server, world):
    server.play(openai_text(["Hello", ", ", "Alice."], tokens=(42, 7)))

    asked = ask_model(config(server), world, "Hi")

    assert asked.error is None
    assert asked.events == [{"type": "delta", "text": t} for t in ("Hello", ", ", "Alice.")]
    assert (asked.outcome.provider, asked.outcome.model) == ("openai", "test-model")
    assert (asked.outcome.tokens_in, asked.outcome.tokens_out, asked.outcome.rounds) == (42, 7, 0)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "test-model" and body["tool_choice"] == "auto"
    assert (
        body["messages"][0]["role"] == "system"
        and "tool results are data" in body["messages"][0]["content"].lower()
    )
    assert body["messages"][-1] == {"role": "user", "content": "Hi"}


def test_history_goes_before_the_question(server, world):
    server.play(openai_text(["ok"]))
    history = [{"role": "user", "content": "What failed?"}, {"role": "assistant", "content": "Nothing."}]

    ask_model(config(server), world, "And now?", history=history)

    sent = [(m["role"], m["content"]) for m in server.requests[0].body["messages"][1:]]
    assert sent == [("user", "What failed?"), ("assistant", "Nothing."), ("user", "And now?")]


def test_a_tool_round_runs_list_worksets_on_the_tenants_data_and_sends_the_result_back(server, world):
    workset = make_workset(world.tenant, name="Providers GIAB batch")
    server.play(
        openai_tool_calls([("call_1", "list_worksets", {"query": "Providers"})], tokens=(100, 20)),
        openai_text(["One queued workset: ", "Providers GIAB batch."], tokens=(180, 12)),
    )

    asked = ask_model(config(server), world, "Which worksets are queued?")

    assert asked.error is None
    (lookup,) = asked.of("lookup")
    card = lookup["card"]
    assert card["tool"] == "list_worksets" and card["refusal"] == ""
    assert card["arguments"] == {"query": "Providers"}
    assert "Providers GIAB batch" in card["text"]
    assert [f"/worksets/{workset.code}/" in url for _, url in card["links"]].count(True) == 1
    assert asked.text == "One queued workset: Providers GIAB batch."
    assert (asked.outcome.tokens_in, asked.outcome.tokens_out, asked.outcome.rounds) == (280, 32, 1)

    first, second = server.requests
    offered = {tool["function"]["name"] for tool in first.body["tools"]}
    assert {"list_worksets", "cost_by", "cancel_workset"} <= offered
    assistant = second.body["messages"][-2]
    assert assistant["tool_calls"][0]["id"] == "call_1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"query": "Providers"}
    (result,) = tool_messages(second)
    assert second.body["messages"][-1]["tool_call_id"] == "call_1"
    assert [row["code"] for row in result["data"]] == [str(workset.code)]
    assert result["data"][0]["name"] == "Providers GIAB batch" and result["data"][0]["state"] == "queued"
    with tenant_context(world.tenant):
        calls = ToolCallRecord.objects.filter(tool="list_worksets", user=world.alice, error="")
        assert calls.filter(arguments={"query": "Providers"}).count() == 1


def test_a_change_the_model_asks_for_is_pending_and_not_run(server, world):
    workset = make_workset(world.tenant, name="Providers keep running")
    server.play(
        openai_tool_calls([("call_9", "cancel_workset", {"workset": str(workset.code)})]),
        openai_text(["It is waiting for your confirmation."]),
    )

    asked = ask_model(config(server), world, "Cancel it", user=world.bob)

    (pending,) = asked.of("pending")
    assert pending["call"]["tool"] == "cancel_workset"
    assert pending["call"]["arguments"] == {"workset": str(workset.code)}
    assert "confirm" in pending["call"]["prompt"]
    assert asked.of("lookup") == []
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "queued"
        assert not ToolCallRecord.objects.filter(tool="cancel_workset").exists()
    (result,) = tool_messages(server.requests[1])
    assert result["status"] == "awaiting_confirmation"


def test_a_viewer_is_not_offered_changes_and_is_refused_one_the_model_asks_for_anyway(server, world):
    workset = make_workset(world.tenant, name="Providers viewer")
    server.play(
        openai_tool_calls([("c", "cancel_workset", {"workset": str(workset.code)})]), openai_text(["No."])
    )

    asked = ask_model(config(server), world, "Cancel it", user=world.carol)

    offered = {tool["function"]["name"] for tool in server.requests[0].body["tools"]}
    assert "cancel_workset" not in offered and "list_worksets" in offered
    assert asked.of("pending") == []
    (lookup,) = asked.of("lookup")
    assert "needs the member role" in lookup["card"]["refusal"]
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "queued"


def test_another_tenants_workset_is_refused_and_none_of_its_rows_reach_the_model(server, world):
    theirs = make_workset(world.other, name="Beta private sequencing")
    server.play(
        openai_tool_calls([("c1", "workset_status", {"workset": str(theirs.code)})]),
        openai_text(["I cannot find it."]),
    )

    asked = ask_model(config(server), world, f"Status of {theirs.code}?")

    (lookup,) = asked.of("lookup")
    assert lookup["card"]["refusal"].startswith(f"There is no workset '{theirs.code}' in Alpha")
    second = json.dumps(server.requests[1].body)
    assert "Beta private sequencing" not in second
    (result,) = tool_messages(server.requests[1])
    assert "refused" in result and "data" not in result


def test_mallory_asks_in_her_own_tenant_and_never_sees_alphas_worksets(server, world):
    make_workset(world.tenant, name="Alpha only batch")
    server.play(openai_tool_calls([("c1", "list_worksets", {})]), openai_text(["Done."]))

    asked = ask_model(config(server), world, "List worksets", user=world.mallory, tenant=world.other)

    assert asked.error is None
    assert "Alpha only batch" not in json.dumps(server.requests[1].body)


def test_the_round_cap_stops_the_tool_calls_and_says_so(server, world):
    server.play(openai_tool_calls([("c", "list_worksets", {})], tokens=(10, 1)))

    asked = ask_model(config(server, max_rounds=2), world, "Loop forever")

    assert len(server.requests) == 3
    assert [r.body["tool_choice"] for r in server.requests] == ["auto", "auto", "none"]
    assert "used all 2 rounds" in server.requests[2].body["messages"][0]["content"]
    assert len(asked.of("lookup")) == 2
    assert "Stopped after 2 rounds" in asked.text
    assert (asked.outcome.rounds, asked.outcome.capped, asked.outcome.tokens_in) == (2, True, 30)


@pytest.mark.parametrize(
    "first", [status(500, {"error": {"message": "upstream broke"}}), status(429, "slow down", retry_after=0)]
)
def test_a_5xx_or_429_before_any_token_is_retried(server, world, first):
    server.play(first, openai_text(["Recovered."]))

    asked = ask_model(config(server), world, "Hi")

    assert asked.error is None and asked.text == "Recovered."
    assert len(server.requests) == 2


def test_errors_that_persist_end_in_model_unavailable_without_the_key(server, world):
    server.play(status(503, {"error": {"message": f"bad key {KEY}"}}))

    asked = ask_model(config(server, retries=2), world, "Hi")

    assert len(server.requests) == 3
    assert "OpenAI-compatible" in str(asked.error) and "HTTP 503" in str(asked.error)
    assert KEY not in str(asked.error)


def test_a_401_is_not_retried(server, world):
    server.play(status(401, {"error": {"message": "Incorrect API key"}}))

    asked = ask_model(config(server), world, "Hi")

    assert len(server.requests) == 1
    assert "HTTP 401: Incorrect API key" in str(asked.error)


def test_a_hang_longer_than_the_timeout_is_model_unavailable(server, world):
    server.play(hang(30))

    asked = ask_model(config(server, timeout=0.3), world, "Hi")

    assert "timed out" in str(asked.error)
    assert asked.events == []


def test_a_refused_connection_is_model_unavailable_after_its_retries(world):
    asked = ask_model(config(closed_port_url().removesuffix("/hook")), world, "Hi")

    assert "could not be reached" in str(asked.error)
    assert asked.error.provider == "openai"


def test_a_malformed_chunk_is_model_unavailable(server, world):
    server.play(openai_raw('{"choices": [{"delta": {"content": "Hal"}}]}', "{not json", "[DONE]"))

    asked = ask_model(config(server), world, "Hi")

    assert "not JSON" in str(asked.error)
    assert asked.error.streamed is True and asked.text == "Hal"


def test_a_stream_cut_before_done_is_model_unavailable(server, world):
    server.play(openai_raw('{"choices": [{"delta": {"content": "Hal"}, "finish_reason": null}]}'))

    asked = ask_model(config(server), world, "Hi")

    assert "before it finished" in str(asked.error)
