"""Operators choose a tenant's chat provider in the admin; ``chat.llm.config_for`` reads it with the key from
where the row says it lives; a model answer's tokens land once on the tenant's usage ledger and invoice."""

import json
from datetime import UTC, date, datetime

import boto3
import pytest
from django.test import override_settings

from chat.llm import ModelOutcome, config_for, record_tokens
from tenants.models import AssistantSettings, AuditEvent, UsageRecord
from tenants.services.billing import refresh_draft_invoice
from tests.chat.model_server import ModelServer, ask_model, openai_text, openai_tool_calls
from tests.tenants.test_billing import make_card

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("consumer_connection")]
KEY = "sk-live-operators-secret-key-42"
ADD = "/admin/tenants/assistantsettings/add/"


@pytest.fixture
def server():
    with ModelServer() as running:
        yield running


def form(world, **overrides) -> dict:
    return {
        "tenant": world.tenant.pk,
        "provider": "openai",
        "enabled": "on",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "gpt-test",
        "timeout": "5",
        "max_rounds": "3",
        "max_tokens": "1024",
        "key_source": "settings",
        "aws_region": "",
        "aws_endpoint_url": "",
        "aws_secret_id": "",
        "aws_secret_key": "api_key",
        **overrides,
    }


def page(response) -> str:
    body = response.content.decode()
    assert KEY not in body, "the API key leaked into a page"
    return body


def test_an_operator_sets_an_openai_compatible_provider_and_the_model_answers_with_the_tools(
    operator_client, world, server
):
    server.play(openai_tool_calls([("c1", "queue_status", {})], tokens=(60, 6)), openai_text(["All quiet."]))

    added = operator_client.post(ADD, form(world, base_url=f"{server.url}/v1"))

    assert added.status_code == 302, page(added)
    row = AssistantSettings.objects.get(tenant=world.tenant)
    assert (row.provider, row.model, row.key_source) == ("openai", "gpt-test", "settings")
    assert AuditEvent.objects.filter(action="chat.provider_added", tenant=world.tenant).exists()
    page(operator_client.get(f"/admin/tenants/assistantsettings/{row.pk}/change/"))

    with override_settings(CHAT_PROVIDER_KEYS={"alpha": KEY}):
        config = config_for(world.tenant)
    assert (config.kind, config.model, config.unusable) == ("openai", "gpt-test", "")
    assert config.provider.api_key == KEY and KEY not in repr(config)
    assert config_for(world.other) is None

    asked = ask_model(config, world, "How busy is the queue?")
    assert asked.error is None and asked.text == "All quiet."
    assert asked.of("lookup")[0]["card"]["tool"] == "queue_status"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("overrides", "field_error"),
    [
        ({"base_url": ""}, "An OpenAI-compatible provider needs its base URL"),
        ({"model": ""}, "needs a model name."),
        ({"provider": "anthropic", "key_source": "none"}, "Anthropic needs an API key"),
        ({"provider": "bedrock", "key_source": "none"}, "Bedrock needs the AWS region"),
        ({"provider": "bedrock", "aws_region": "us-east-1"}, "Bedrock signs with the portal"),
        ({"key_source": "aws"}, "The AWS key source needs the secret id and its region."),
        ({"max_rounds": "0"}, "Ensure this value is greater than or equal to 1."),
    ],
)
def test_the_admin_refuses_a_combination_that_cannot_work(operator_client, world, overrides, field_error):
    refused = operator_client.post(ADD, form(world, **overrides))

    assert refused.status_code == 200
    assert field_error in page(refused)
    assert not AssistantSettings.objects.filter(tenant=world.tenant).exists()


def test_the_analyst_is_the_default_and_a_disabled_provider_falls_back_to_it(world):
    assert config_for(world.tenant) is None
    row = AssistantSettings.objects.create(tenant=world.tenant)
    assert row.provider == "analyst" and config_for(world.tenant) is None
    row.provider, row.base_url, row.model, row.enabled = "openai", "http://x/v1", "m", False
    row.save()
    assert config_for(world.tenant) is None


def test_the_key_comes_from_the_environment_and_a_missing_key_is_a_clear_unavailable(world, monkeypatch):
    AssistantSettings.objects.create(
        tenant=world.tenant, provider="anthropic", model="claude-test", key_source="settings"
    )
    monkeypatch.setenv("CHAT_PROVIDER_KEY_ALPHA", KEY)
    assert config_for(world.tenant).provider.api_key == KEY

    monkeypatch.delenv("CHAT_PROVIDER_KEY_ALPHA")
    config = config_for(world.tenant)
    assert "CHAT_PROVIDER_KEY_ALPHA" in config.unusable
    error = ask_model(config, world, "Hi").error
    assert str(error).startswith("The Anthropic model is unavailable: no API key for tenant 'alpha'")


def test_the_key_can_live_in_aws_secrets_manager(world, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    manager = boto3.client(
        "secretsmanager", region_name=s3_server.region, endpoint_url=s3_server.endpoint_url
    )
    secret_id = f"chat/openai-{datetime.now(UTC).timestamp()}"
    manager.create_secret(Name=secret_id, SecretString=json.dumps({"api_key": KEY}))
    AssistantSettings.objects.create(
        tenant=world.tenant,
        provider="openai",
        base_url="http://127.0.0.1:9/v1",
        model="gpt-test",
        key_source="aws",
        aws_secret_id=secret_id,
        aws_region=s3_server.region,
        aws_endpoint_url=s3_server.endpoint_url,
    )

    assert config_for(world.tenant).provider.api_key == KEY

    AssistantSettings.objects.filter(tenant=world.tenant).update(aws_secret_id="chat/missing")
    assert "could not read the API key secret 'chat/missing' (ResourceNotFoundException)" in (
        config_for(world.tenant).unusable
    )


def test_tokens_are_booked_once_per_message_and_shown_on_the_invoice(world):
    make_card()
    outcome = ModelOutcome("openai", "gpt-test", tokens_in=1200, tokens_out=300, rounds=1)
    answered = datetime(2024, 2, 10, 14, 30, tzinfo=UTC)

    first = record_tokens(world.tenant, outcome, message_id=77, at=answered)
    again = record_tokens(world.tenant, outcome, message_id=77, at=answered)
    record_tokens(world.tenant, ModelOutcome("openai", "gpt-test", 400, 100), message_id=78, at=answered)

    assert first.pk == again.pk
    booked = UsageRecord.objects.filter(tenant=world.tenant, kind="ai_tokens").order_by("reference")
    assert [(r.reference, r.quantity, r.basis) for r in booked] == [
        ("chat-message:77", 1500, "measured"),
        ("chat-message:78", 500, "measured"),
    ]
    invoice = refresh_draft_invoice(world.tenant, date(2024, 2, 1))
    (line,) = [line for line in invoice.lines.all() if line.category == "ai_tokens"]
    assert line.description == "AI tokens: 2000" and line.unit == "1k tokens"
    assert str(line.quantity.normalize()) == "2" and str(line.amount) == "0.00"
    other = refresh_draft_invoice(world.other, date(2024, 2, 1))
    assert not [line for line in other.lines.all() if line.category == "ai_tokens"]


def test_a_message_recorded_again_later_with_more_tokens_is_re_measured_not_added(world):
    outcome = ModelOutcome("anthropic", "claude-test", 100, 20)
    record_tokens(world.tenant, outcome, message_id=5, at=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    record_tokens(world.tenant, ModelOutcome("anthropic", "claude-test", 150, 30), message_id=5)

    (booked,) = UsageRecord.objects.filter(tenant=world.tenant, kind="ai_tokens")
    assert booked.quantity == 180 and booked.period_start.date() == date(2024, 3, 31)
    assert record_tokens(world.tenant, ModelOutcome("openai", "m"), message_id=6) is None
