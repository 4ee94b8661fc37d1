"""Notifications as the execution engine uses them: ``notify`` in a tenant's transaction, deliveries after
commit, to real HTTP servers on 127.0.0.1 (webhooks, Slack, Linear) and the locmem outbox (email)."""

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django_tenants.utils import schema_context, tenant_context

from jobs.notifications.models import Channel, Delivery, Preference
from jobs.notifications.services import notify
from jobs.notifications.tasks import deliver_notification_task
from tenants.models import Quota
from tenants.services.budgets import check_budget
from tests.builders import make_workset, spend_vcpu_hours
from tests.recording_server import RecordingServer, closed_port_url

pytestmark = pytest.mark.django_db

LINEAR_CREATED = {
    "data": {
        "issueCreate": {
            "success": True,
            "issue": {"id": "9c1d", "identifier": "ENG-42", "url": "https://linear.app/acme/issue/ENG-42"},
        }
    }
}


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


@pytest.fixture
def alpha(world):
    """The test runs in alpha's schema, as the engine does."""
    with tenant_context(world.tenant):
        yield world.tenant


@pytest.fixture
def announce(django_capture_on_commit_callbacks):
    """``notify`` in a transaction that commits: the deliveries go out as they would after a real commit."""

    def run(event, **kwargs) -> list[Delivery]:
        with django_capture_on_commit_callbacks(execute=True):
            deliveries = notify(event, **kwargs)
        connection.set_schema(connection.tenant.schema_name)  # a task may leave the connection elsewhere
        return [Delivery.objects.get(pk=d.pk) for d in deliveries]

    return run


def make_channel(kind="webhook", **fields) -> Channel:
    return Channel.objects.create(kind=kind, name=fields.pop("name", f"{kind} channel"), **fields)


def failed_workset(world, **spec):
    return make_workset(world.tenant, state="failed", actor=world.bob, **spec)


def verify(secret: str, headers: dict, body: bytes, *, tolerance: int = 300) -> bool:
    """The README's recipe, as a receiver would write it."""
    timestamp = headers["x-runyard-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= tolerance
    return fresh and hmac.compare_digest(f"sha256={expected}", headers["x-runyard-signature"])


def test_a_webhook_is_signed_so_the_receiver_can_verify_it(world, alpha, server, announce):
    channel = make_channel(url=server.url)
    workset = failed_workset(world)
    [delivery] = [
        d
        for d in announce("failed", workset=workset, step="qc", diagnosis_code="WS-RES-001", reason="OOM")
        if d.kind == "webhook"
    ]
    [request] = server.requests
    assert channel.secret.startswith("whsec_")
    assert verify(channel.secret, request.headers, request.body)
    assert not verify("whsec_wrong", request.headers, request.body)
    assert request.headers["x-runyard-event"] == "failed"
    assert request.headers["x-runyard-delivery"] == str(delivery.code)
    body = request.json()
    assert body["id"] == str(delivery.code) and body["event"] == "failed"
    assert body["workset"]["code"] == workset.code
    assert body["workset"]["url"].startswith("http://alpha.localhost")
    assert body["workset"]["url"].endswith(f"/worksets/{workset.code}/")
    assert body["details"] == {"step": "qc", "diagnosis_code": "WS-RES-001", "reason": "OOM"}
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.last_status_code == 200


def test_a_500_is_retried_and_every_attempt_is_logged(world, alpha, server, announce):
    server.answers = [(500, "down"), (200, "ok")]
    channel = make_channel(url=server.url)
    [delivery] = announce("started", workset=make_workset(world.tenant, state="running"))
    assert len(server.requests) == 2
    assert all(verify(channel.secret, r.headers, r.body) for r in server.requests)
    assert {r.headers["x-runyard-delivery"] for r in server.requests} == {str(delivery.code)}
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [(a["status_code"], a["result"]) for a in delivery.attempt_log] == [
        (500, "retry"),
        (200, "delivered"),
    ]
    assert delivery.next_attempt_at is None and delivery.delivered_at is not None


def test_429_and_network_errors_are_retried_up_to_the_maximum(world, alpha, announce):
    make_channel(url=closed_port_url())
    with override_settings(NOTIFICATIONS_MAX_ATTEMPTS=3):
        [delivery] = announce("started", workset=make_workset(world.tenant, state="running"))
    assert delivery.status == "failed" and delivery.attempts == 3
    assert [a["result"] for a in delivery.attempt_log] == ["retry", "retry", "failed"]
    assert "ConnectError" in delivery.last_error and delivery.last_status_code is None


def test_a_429_is_retried(world, alpha, server, announce):
    server.answers = [(429, "slow down"), (200, "ok")]
    make_channel(url=server.url)
    [delivery] = announce("started", workset=make_workset(world.tenant, state="running"))
    assert delivery.status == "delivered" and [a["status_code"] for a in delivery.attempt_log] == [429, 200]


def test_a_400_is_not_retried(world, alpha, server, announce):
    server.answers = [(400, '{"error": "unknown field"}')]
    make_channel(url=server.url)
    [delivery] = announce("started", workset=make_workset(world.tenant, state="running"))
    assert len(server.requests) == 1
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.last_status_code == 400
    assert "unknown field" in delivery.last_error


def test_a_delivered_notification_is_never_sent_again(world, alpha, server, announce):
    make_channel(url=server.url)
    [delivery] = announce("started", workset=make_workset(world.tenant, state="running"))
    deliver_notification_task.delay(delivery.pk)  # a redelivered task message
    assert len(server.requests) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_slack_gets_text_with_a_link_to_the_workset(world, alpha, server, announce):
    make_channel("slack", url=server.url)
    workset = failed_workset(world)
    announce("failed", workset=workset, step="align", diagnosis_code="WS-DAT-001")
    [request] = server.requests
    body = request.json()
    assert request.headers["content-type"] == "application/json"
    assert f"({workset.code}) failed" in body["text"] and f"/worksets/{workset.code}/" in body["text"]
    assert "WS-DAT-001 — Invalid FASTQ" in json.dumps(body["blocks"], ensure_ascii=False)


def test_linear_opens_an_issue_for_failed_and_dead_lettered_worksets(world, alpha, server, announce):
    server.answers = [(200, LINEAR_CREATED)]
    make_channel("linear", url=server.url, linear_api_key="lin_api_secret", linear_team_id="team-1")
    urgent = failed_workset(world, name="Urgent batch", priority="urgent")
    [failed] = [
        d for d in announce("failed", workset=urgent, diagnosis_code="WS-RES-001") if d.kind == "linear"
    ]
    normal = make_workset(world.tenant, state="dead_letter", actor=world.bob)
    [dead] = [
        d for d in announce("dead_lettered", workset=normal, reason="no retries left") if d.kind == "linear"
    ]
    announce("started", workset=normal)
    announce("completed", workset=normal)
    assert len(server.requests) == 2  # nothing for started or completed
    first, second = server.requests
    assert first.headers["authorization"] == "lin_api_secret"
    assert first.headers["content-type"] == "application/json"
    query = first.json()["query"]
    assert query.startswith("mutation IssueCreate($input: IssueCreateInput!)")
    assert "issueCreate(input: $input) { success issue { id identifier url } }" in query
    issue = first.json()["variables"]["input"]
    assert issue["teamId"] == "team-1" and issue["priority"] == 1
    assert issue["title"] == f"Workset “Urgent batch” ({urgent.code}) failed"
    assert "WS-RES-001: Out of memory" in issue["description"]
    assert f"/worksets/{urgent.code}/" in issue["description"]
    assert second.json()["variables"]["input"]["priority"] == 2
    assert "no retries left" in second.json()["variables"]["input"]["description"]
    assert (failed.status, failed.external_id, failed.external_url) == (
        "delivered",
        "ENG-42",
        "https://linear.app/acme/issue/ENG-42",
    )
    assert dead.status == "delivered"


def test_a_failure_without_details_is_described_from_the_workset(world, alpha, server, announce):
    from jobs.models import Workset

    make_channel("slack", url=server.url)
    workset = failed_workset(world)
    Workset.objects.filter(pk=workset.pk).update(failed_step="align", failure_code="WS-RES-002")
    announce("dead_lettered", workset=Workset.objects.get(pk=workset.pk))
    text = json.dumps(server.requests[0].json()["blocks"], ensure_ascii=False)
    assert "Step: align" in text and "WS-RES-002 — Disk full" in text


def test_a_graphql_error_is_a_failed_delivery(world, alpha, server, announce):
    server.answers = [(200, {"errors": [{"message": "Entity not found: Team"}], "data": None})]
    make_channel("linear", url=server.url, linear_api_key="lin_api_secret", linear_team_id="nope")
    [delivery] = [d for d in announce("failed", workset=failed_workset(world)) if d.kind == "linear"]
    assert len(server.requests) == 1
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "Entity not found: Team" in delivery.last_error and delivery.external_id == ""


def test_the_submitter_gets_an_email_with_a_link(world, alpha, announce, mailoutbox):
    workset = make_workset(world.tenant, state="completed", actor=world.bob)
    [delivery] = announce("completed", workset=workset, cost_usd=Decimal("1.23"))
    [mail] = mailoutbox
    assert mail.to == ["bob@example.com"]
    assert mail.subject == f"[Runyard] Workset “{workset.name}” ({workset.code}) completed"
    assert "Cost: $1.23" in mail.body
    assert "http://alpha.localhost" in mail.body and f"/worksets/{workset.code}/" in mail.body
    assert (delivery.kind, delivery.target, delivery.user_id, delivery.status) == (
        "email",
        "bob@example.com",
        world.bob.pk,
        "delivered",
    )
    assert announce("started", workset=workset) == []  # off by default
    assert len(mailoutbox) == 1


def test_an_email_channel_gets_every_event_it_subscribed_to(world, alpha, announce, mailoutbox):
    make_channel("email", email="lab-ops@example.com", events=["started"])
    workset = make_workset(world.tenant, state="running")  # no submitter: only the channel hears of it
    [delivery] = announce("started", workset=workset, cluster="local-1")
    [mail] = mailoutbox
    assert mail.to == ["lab-ops@example.com"] and mail.subject.endswith(f"({workset.code}) started")
    assert "Cluster: local-1" in mail.body and delivery.channel is not None and delivery.status == "delivered"


def test_preferences_decide_who_gets_email(world, alpha, announce, mailoutbox):
    workset = make_workset(world.tenant, state="completed", actor=world.bob)
    Preference.objects.create(user=world.bob, event="completed", email=False)
    Preference.objects.create(user=world.bob, event="started", email=True)
    assert announce("completed", workset=workset) == []
    announce("started", workset=workset)
    assert [(m.to, "started" in m.subject) for m in mailoutbox] == [(["bob@example.com"], True)]


def test_a_removed_member_gets_no_email(world, alpha, announce, mailoutbox):
    from tenants.models import Membership

    workset = make_workset(world.tenant, state="failed", actor=world.bob)
    Membership.objects.filter(user=world.bob, tenant=world.tenant).delete()
    assert announce("failed", workset=workset) == [] and mailoutbox == []


def test_nothing_is_sent_when_the_transaction_rolls_back(
    world, alpha, server, mailoutbox, django_capture_on_commit_callbacks
):
    make_channel(url=server.url)
    workset = make_workset(world.tenant, state="completed", actor=world.bob)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        assert len(notify("completed", workset=workset)) == 2  # the webhook and bob's email
        raise RuntimeError("the engine's transaction fails after notifying")
    assert callbacks == [] and server.requests == [] and mailoutbox == []
    assert not Delivery.objects.exists()


def test_channels_get_only_what_they_subscribed_to_and_only_while_enabled(world, alpha, server, announce):
    make_channel(url=server.url, events=["failed"])
    make_channel(url=server.url, enabled=False, name="off")
    workset = failed_workset(world)
    assert [d.kind for d in announce("completed", workset=workset)] == ["email"]
    assert [d.target for d in announce("failed", workset=workset) if d.kind == "webhook"] == [
        "webhook channel"
    ]
    assert len(server.requests) == 1


def test_notify_never_raises_for_delivery_problems(world, alpha, announce):
    make_channel(url="http://no-such-host.invalid/hook")
    make_channel("slack", url=closed_port_url())
    with override_settings(NOTIFICATIONS_MAX_ATTEMPTS=1):
        deliveries = announce("started", workset=make_workset(world.tenant, state="running"))
    assert [d.status for d in deliveries] == ["failed", "failed"]
    with schema_context("public"):
        assert notify("started") == []  # wrong schema: logged, not raised
    with pytest.raises(ValueError, match="Unknown notification event"):
        notify("finished")


@override_settings(NOTIFICATIONS_ALLOW_PRIVATE_URLS=False)
def test_private_addresses_are_refused_unless_allowed(world, alpha, server, announce):
    make_channel(url=server.url)
    [delivery] = announce("started", workset=make_workset(world.tenant, state="running"))
    assert server.requests == [] and delivery.status == "failed"
    assert "non-public address (127.0.0.1)" in delivery.last_error


def test_budget_alerts_reach_channels_and_respect_preferences(
    world, server, mailoutbox, django_capture_on_commit_callbacks
):
    Quota.objects.filter(tenant=world.tenant).update(monthly_budget_usd=Decimal("10"))
    with tenant_context(world.tenant):
        make_channel(url=server.url, events=["budget"])
        Preference.objects.create(user=world.bob, event="budget", email=True)
        Preference.objects.create(user=world.alice, event="budget", email=False)
    spend_vcpu_hours(world.tenant, "200", reference="ws-1")  # $8.00 = 80 %
    with django_capture_on_commit_callbacks(execute=True):
        check_budget(world.tenant)
    [request] = server.requests
    body = request.json()
    assert body["event"] == "budget" and body["details"]["threshold"] == 80
    assert body["details"]["spent"] == "8.00" and body["url"].endswith("/usage/")
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]
    assert mailoutbox[0].subject == "Alpha: 80 % of this month's budget spent"
    assert "$8.00 of its $10.00" in mailoutbox[0].body


def test_a_delivery_whose_message_was_lost_is_sent_by_the_sweep(world, alpha, server):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.notifications.tasks import resend_overdue_task

    channel = make_channel(url=server.url)
    workset = failed_workset(world)
    lost = notify("failed", workset=workset)  # the transaction never commits here: no message was sent
    fresh = notify("failed", workset=workset)
    Delivery.objects.filter(pk__in=[d.pk for d in lost]).update(
        created_at=timezone.now() - timedelta(minutes=6)
    )
    assert server.requests == []
    resend_overdue_task.delay()
    connection.set_schema(world.tenant.schema_name)
    assert Delivery.objects.get(pk__in=[d.pk for d in lost], channel=channel).status == "delivered"
    assert len(server.requests) == 1
    waiting = Delivery.objects.get(pk__in=[d.pk for d in fresh], channel=channel)
    assert waiting.status == "pending"  # not overdue yet: its message may still come
