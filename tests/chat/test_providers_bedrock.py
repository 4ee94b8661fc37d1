"""A model on AWS Bedrock answers with the portal's tools: boto3's real ``bedrock-runtime`` client talks to a
local endpoint that answers ConverseStream in AWS's event-stream framing (messageStart, contentBlockStart with
toolUse, contentBlockDelta text and toolUse.input pieces, messageStop, metadata.usage)."""

import json

import pytest
from django_tenants.utils import tenant_context

from chat.models import ToolCallRecord
from chat.providers import ProviderConfig
from tests.builders import make_workset
from tests.chat.model_server import ModelServer, ask_model, bedrock_answer, hang, status
from tests.recording_server import closed_port_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("consumer_connection")]
MODEL = "anthropic.claude-test-v1:0"


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with ModelServer() as running:
        yield running


def config(url: str, **overrides) -> ProviderConfig:
    defaults = {"aws_region": "us-east-1", "aws_endpoint_url": url, "timeout": 5.0, "retry_base": 0.01}
    return ProviderConfig(kind="bedrock", model=MODEL, **(defaults | overrides))


def test_a_tool_round_through_converse_stream(server, world):
    workset = make_workset(world.tenant, name="Bedrock WGS batch")
    server.play(
        bedrock_answer(
            ["Checking."], [("tooluse_1", "list_worksets", {"query": "Bedrock"})], tokens=(120, 15)
        ),
        bedrock_answer(["Bedrock WGS batch ", "is queued."], tokens=(200, 9)),
    )

    asked = ask_model(config(server.url), world, "What about the WGS batch?")

    assert asked.error is None
    assert asked.text == "Checking.\n\nBedrock WGS batch is queued."
    assert (asked.outcome.provider, asked.outcome.model) == ("bedrock", MODEL)
    assert (asked.outcome.tokens_in, asked.outcome.tokens_out, asked.outcome.rounds) == (320, 24, 1)
    (lookup,) = asked.of("lookup")
    assert "Bedrock WGS batch" in lookup["card"]["text"]

    first, second = server.requests
    assert first.path.endswith("/converse-stream") and first.headers["authorization"].startswith(
        "AWS4-HMAC-SHA256"
    )
    assert first.body["system"][0]["text"].startswith("You are the assistant of Runyard")
    specs = {tool["toolSpec"]["name"]: tool["toolSpec"] for tool in first.body["toolConfig"]["tools"]}
    assert specs["list_worksets"]["inputSchema"]["json"]["properties"]["query"]
    assistant, results = second.body["messages"][1:]
    assert assistant["content"][1] == {
        "toolUse": {"toolUseId": "tooluse_1", "name": "list_worksets", "input": {"query": "Bedrock"}}
    }
    (block,) = results["content"]
    assert block["toolResult"]["toolUseId"] == "tooluse_1" and block["toolResult"]["status"] == "success"
    data = block["toolResult"]["content"][0]["json"]["data"]
    assert [row["code"] for row in data] == [str(workset.code)]
    with tenant_context(world.tenant):
        assert (
            ToolCallRecord.objects.filter(tool="list_worksets", arguments={"query": "Bedrock"}).count() == 1
        )


def test_a_cancel_is_pending_and_another_tenants_workset_is_refused(server, world):
    ours = make_workset(world.tenant, name="Bedrock ours")
    theirs = make_workset(world.other, name="Bedrock theirs secret")
    calls = [
        ("t1", "cancel_workset", {"workset": str(ours.code)}),
        ("t2", "workset_status", {"workset": str(theirs.code)}),
    ]
    server.play(bedrock_answer([], calls), bedrock_answer(["Done."]))

    asked = ask_model(config(server.url), world, "Cancel ours, and how is theirs?", user=world.bob)

    assert [p["call"]["arguments"] for p in asked.of("pending")] == [{"workset": str(ours.code)}]
    assert asked.of("lookup")[0]["card"]["refusal"].startswith("There is no workset")
    sent = json.dumps(server.requests[1].body)
    assert "Bedrock theirs secret" not in sent and "awaiting_confirmation" in sent
    with tenant_context(world.tenant):
        ours.refresh_from_db()
        assert ours.state == "queued"


def test_throttling_before_the_stream_is_retried(server, world):
    throttled = status(
        429, {"message": "Too many requests"}, headers=[("x-amzn-ErrorType", "ThrottlingException:http://x")]
    )
    server.play(throttled, bedrock_answer(["Fine."]))

    asked = ask_model(config(server.url), world, "Hi")

    assert asked.error is None and asked.text == "Fine." and len(server.requests) == 2


def test_an_access_error_a_hang_and_a_refused_connection_are_model_unavailable(server, world):
    denied = status(
        403, {"message": "no access to model"}, headers=[("x-amzn-ErrorType", "AccessDeniedException")]
    )
    server.play(denied)
    error = ask_model(config(server.url), world, "Hi").error
    assert "AccessDeniedException (HTTP 403): no access to model" in str(error) and len(server.requests) == 1

    server.play(hang(30))
    assert "timed out" in str(ask_model(config(server.url, timeout=0.3), world, "Hi").error)

    refused = ask_model(config(closed_port_url().removesuffix("/hook")), world, "Hi").error
    assert "AWS Bedrock" in str(refused) and "could not be reached" in str(refused)
