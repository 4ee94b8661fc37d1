"""Operators' dead-letter queue in the admin: a failure drill that used its retries shows up with its
diagnosis; requeue (optionally on another cluster) resumes it from the failed step; discard archives it.
The queue statistics of every tenant head the queue entries' page."""

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, QueueEntry
from jobs.models import State, Workset
from tests.builders import run_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_letter(world, local_cluster, inputs, submit, drive) -> Workset:
    workset = drive(submit(run_spec(inputs[:1], "test_fail", max_retries=0)))
    assert workset.state == State.DEAD_LETTER
    return workset


def entry_id(code: str) -> int:
    return QueueEntry.objects.get(workset_code=code).pk


def test_operators_see_a_dead_letter_with_its_diagnosis(operator_client, dead_letter):
    listing = operator_client.get("/admin/catalog/deadletter/")
    assert listing.status_code == 200 and dead_letter.code in listing.content.decode()
    page = operator_client.get(
        f"/admin/catalog/deadletter/{entry_id(dead_letter.code)}/change/"
    ).content.decode()
    assert 'data-code="WS-NET-001"' in page and "Failed step: <code>transfer</code>" in page
    assert "S3 request timed out" in page  # the matched log line, escaped and shown


def test_requeue_on_another_cluster_resumes_from_the_failed_step(
    world, operator_client, dead_letter, drive, django_capture_on_commit_callbacks
):
    Cluster.objects.create(name="local-2", backend="local", region="eu-west-1", usd_per_vcpu_hour="0.07")
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            "/admin/catalog/deadletter/",
            {"action": "requeue", "cluster": "local-2", "_selected_action": [entry_id(dead_letter.code)]},
        )
    assert response.status_code == 302
    with tenant_context(world.tenant):
        requeued = Workset.objects.get(pk=dead_letter.pk)
        reasons = list(requeued.transitions.values_list("to_state", "reason"))
    assert (State.QUEUED, "Requeued by an operator on local-2") in reasons
    again = drive(dead_letter.code)
    assert again.state == State.DEAD_LETTER and again.cluster == "local-2"
    assert "the preferred cluster" in again.dispatch_reason
    logs = Path(again.run_handle["run_dir"]).parent / dead_letter.code / "logs"
    assert (logs / "prepare.log").read_text().count("--- ") == 1  # kept from the first run
    assert (logs / "transfer.log").read_text().count("--- ") == 2


def test_discard_archives_the_dead_letter_and_empties_the_queue(world, operator_client, dead_letter):
    response = operator_client.post(
        "/admin/catalog/deadletter/", {"action": "discard", "_selected_action": [entry_id(dead_letter.code)]}
    )
    assert response.status_code == 302
    with tenant_context(world.tenant):
        assert Workset.objects.get(pk=dead_letter.pk).state == State.ARCHIVED
    assert not QueueEntry.objects.filter(workset_code=dead_letter.code).exists()


def test_the_queue_page_shows_every_tenants_statistics(world, operator_client, dead_letter):
    page = operator_client.get("/admin/catalog/queueentry/").content.decode()
    assert 'data-status="dead_letter">1<' in page


def test_tenant_members_cannot_reach_the_dead_letter_queue(client_for, world, dead_letter):
    admin = client_for(world.alice).get("/admin/catalog/deadletter/")
    assert admin.status_code in (302, 404)
