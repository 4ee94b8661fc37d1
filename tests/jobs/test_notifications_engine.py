"""Notifications from the real execution engine: a failing workset, run and dead-lettered, opens Linear
issues and posts every event to a webhook; its submitter gets the failure emails. The event names the
engine uses are the ones the channels listen to (the prior art's Linear channel never fired)."""

import pytest
from django_tenants.utils import tenant_context

from jobs.models import State
from jobs.notifications.models import Channel, Delivery
from tests.jobs.test_notifications import LINEAR_CREATED
from tests.recording_server import RecordingServer

pytestmark = pytest.mark.django_db


def test_a_dead_lettered_workset_reaches_linear_webhooks_and_its_submitter(
    world, local_cluster, inputs, submit, drive, mailoutbox
):
    with RecordingServer([(200, LINEAR_CREATED)]) as linear, RecordingServer() as hook:
        with tenant_context(world.tenant):
            Channel.objects.create(
                kind="linear", name="Linear", url=linear.url, linear_api_key="k", linear_team_id="t"
            )
            Channel.objects.create(kind="webhook", name="Hook", url=hook.url)
        document = {"spec_version": 1, "name": "Drill", "pipeline": "test_fail", "reference_genome": "GRCh38"}
        code = submit(document | {"samples": inputs[:1], "max_retries": 0})
        assert drive(code).state == State.DEAD_LETTER

    events = [request.headers["x-runyard-event"] for request in hook.requests]
    assert events[0] == "started" and "step_completed" in events
    assert events[-2:] == ["failed", "dead_lettered"]
    titles = [request.json()["variables"]["input"]["title"] for request in linear.requests]
    assert [title.rsplit(" ", 1)[-1] for title in titles[:1]] == ["failed"]
    assert len(titles) == 2 and titles[1].endswith("moved to the dead-letter queue")
    assert "WS-NET-001" in linear.requests[0].json()["variables"]["input"]["description"]
    with tenant_context(world.tenant):
        issues = Delivery.objects.filter(kind="linear").values_list("status", "external_id")
        assert list(issues) == [("delivered", "ENG-42")] * 2
    assert [m.to for m in mailoutbox] == [["alice@example.com"]] * 2
    assert all(code in m.body for m in mailoutbox)
