"""The workload-automation panel and its admin: operators connect a tenant's HWA engine, members see its
health, workstations and the plan's jobs by status; a dead engine costs a page nothing once the breaker is
open; another tenant's member (and a tenant without a connection) gets 404."""

import json

import boto3
import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from jobs.automation.engine import engine_for
from jobs.automation.models import HwaConnection
from tenants.models import AuditEvent
from tests.automation.conftest import connect
from tests.hwa_server import PASSWORD, USERNAME, HwaServer

pytestmark = pytest.mark.django_db
PAGE = "/automation/"


def seen(response) -> str:
    body = response.content.decode()
    assert PASSWORD not in body, "the HWA password leaked into a response"
    return body


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_every_role_sees_health_workstations_and_jobs_by_status(client_for, world, connected, persona):
    response = client_for(getattr(world, persona)).get(PAGE)
    body = seen(response)
    assert response.status_code == 200
    assert 'data-testid="engine-health">answering<' in body and "10.2.5" in body
    assert response.context["total"] == len(connected.jobs) == 7
    assert response.context["unlinked"] == ["AGT_WIN02"]
    assert 'data-workstation="AGT_WIN02"' in body and "not linked" in body
    counts = {code: count for code, _, count in response.context["by_status"]}
    assert counts == {"ABEND": 2, "EXEC": 1, "HOLD": 1, "SUCC": 3}
    assert response.context["chart"] == {
        "labels": ["succeeded", "failed", "running", "waiting", "cancelled"],
        "values": [3, 2, 1, 1, 0],
    }
    assert body.count('data-job="') == 7 and 'id="automation-chart-data"' in body
    streams = [
        (s["name"], s["status"], s["jobs"], s["jobs_by_category"]["failed"])
        for s in response.context["streams"]
    ]
    assert streams == [("NIGHTLY", "ABEND", 4, 1), ("PAYROLL", "STUCK", 2, 1), ("REPORTS", "EXEC", 1, 0)]
    assert 'data-stream="PAYROLL" data-status="STUCK"' in body
    assert "<script>" not in body  # no inline scripts: the chart reads a json_script block
    assert f'href="{PAGE}"' in body  # the navigation links the panel


def test_the_jobs_table_filters_by_status_words(client_for, world, connected):
    alice = client_for(world.alice)
    abended = alice.get(PAGE, {"status": "abend"})
    names = [row["name"] for row in abended.context["jobs"]]
    assert names == ["PAYROLL_CALC", "ARCHIVE_LOGS"]  # by WORKSTATION#STREAM.JOB
    running = alice.get(PAGE, {"status": "running"})
    assert [row["name"] for row in running.context["jobs"]] == ["DAILY_REPORT"]
    refused = alice.get(PAGE, {"status": "sleepy"})
    assert refused.status_code == 400 and "Unknown HWA status &#x27;sleepy&#x27;" in seen(refused)


def test_a_job_page_shows_its_status_log_tail_and_dependencies(client_for, world, connected):
    response = client_for(world.bob).get(f"{PAGE}jobs/{connected.job_id('PAYROLL_CALC')}/")
    body = seen(response)
    assert response.status_code == 200
    assert "AGT_LNX01#PAYROLL.PAYROLL_CALC" in body and "abended (ended with an error)" in body
    assert "ERROR: tax table /data/payroll/tax/2026.tbl not found" in body
    assert "NIGHTLY.LOAD_DWH" in body and "satisfied" in body
    missing = client_for(world.bob).get(f"{PAGE}jobs/no-such-job/")
    assert missing.status_code == 404


def test_with_the_breaker_open_the_page_answers_without_calling_the_engine(client_for, world, server):
    connect(world.tenant, server, failure_threshold=2, cooldown_seconds=120, cache_seconds=0)
    server.fail(503, times=2)
    alice = client_for(world.alice)
    for _ in range(2):
        failed = alice.get(PAGE)
        assert failed.status_code == 502 and "HTTP 503" in seen(failed)
    calls = len(server.requests)

    down = alice.get(PAGE)
    body = seen(down)
    assert down.status_code == 503
    assert "The engine PROD-MDM is not answering, retrying at" in body and 'data-testid="hwa-problem"' in body
    job = alice.get(f"{PAGE}jobs/{server.job_id('PAYROLL_CALC')}/")
    assert job.status_code == 503 and "not answering, retrying at" in seen(job)
    assert len(server.requests) == calls  # neither page reached the engine


def test_the_navigation_shows_automation_only_when_connected(client_for, world, server):
    home = seen(client_for(world.alice).get("/"))
    assert f'href="{PAGE}"' not in home
    assert client_for(world.alice).get(PAGE).status_code == 404
    connection = connect(world.tenant, server)
    assert f'href="{PAGE}"' in seen(client_for(world.alice).get("/"))
    connection.enabled = False
    connection.save()
    assert client_for(world.alice).get(PAGE).status_code == 404


def test_mallory_never_reaches_alphas_engine(client_for, world, connected):
    mallory_on_alpha = client_for(world.mallory, world.tenant)
    assert mallory_on_alpha.get(PAGE).status_code == 404
    assert mallory_on_alpha.get(f"{PAGE}jobs/{connected.job_id('PAYROLL_CALC')}/").status_code == 404
    mallory_at_home = client_for(world.mallory, world.other)
    assert mallory_at_home.get(PAGE).status_code == 404  # beta has no connection, alpha's is not hers
    assert mallory_at_home.get(f"{PAGE}jobs/{connected.job_id('PAYROLL_CALC')}/").status_code == 404
    assert connected.requests == []


# Operators


def admin_form(world, server, **overrides) -> dict:
    return {
        "tenant": world.tenant.pk,
        "enabled": "on",
        "engine_name": "PROD-MDM",
        "base_url": server.url,
        "timeout": "2",
        "username": USERNAME,
        "secret_source": "settings",
        "aws_secret_id": "",
        "aws_region": "",
        "aws_endpoint_url": "",
        "aws_secret_key": "password",
        "failure_threshold": "3",
        "cooldown_seconds": "120",
        "cache_seconds": "30",
        **overrides,
    }


def test_an_operator_connects_a_tenant_and_tests_the_connection(operator_client, world, server):
    added = operator_client.post("/admin/automation/hwaconnection/add/", admin_form(world, server))
    assert added.status_code == 302, seen(added)
    connection = HwaConnection.objects.get(tenant=world.tenant)
    assert (connection.username, connection.engine_name, connection.secret_source) == (
        USERNAME,
        "PROD-MDM",
        "settings",
    )
    assert AuditEvent.objects.filter(action="hwa.connection_added", tenant=world.tenant).exists()
    page = seen(operator_client.get(f"/admin/automation/hwaconnection/{connection.pk}/change/"))
    assert "PROD-MDM" in page and 'name="password"' not in page

    action = {"action": "test_connection", "_selected_action": [connection.pk]}
    tested = seen(operator_client.post("/admin/automation/hwaconnection/", action, follow=True))
    assert "HWA connection of alpha: OK, engine 10.2.5 answered; 3 workstations in the plan." in tested
    with override_settings(HWA_PASSWORDS={"alpha": "not-the-password"}):
        refused = seen(operator_client.post("/admin/automation/hwaconnection/", action, follow=True))
    assert (
        "HWA connection of alpha: HwaAuthError: The HWA engine refused the credentials (HTTP 401)" in refused
    )
    assert "not-the-password" not in refused
    with override_settings(HWA_PASSWORDS={}):
        unset = seen(operator_client.post("/admin/automation/hwaconnection/", action, follow=True))
    assert (
        "No HWA password for tenant &#x27;alpha&#x27;: "
        "set HWA_PASSWORDS[&#x27;alpha&#x27;] or HWA_PASSWORD_ALPHA" in unset
    )


def test_the_admin_refuses_bad_values_with_field_errors(operator_client, world, server):
    aws = seen(
        operator_client.post(
            "/admin/automation/hwaconnection/add/", admin_form(world, server, secret_source="aws")
        )
    )
    assert aws.count("The AWS source needs the secret id and its region.") == 1
    slow = seen(
        operator_client.post("/admin/automation/hwaconnection/add/", admin_form(world, server, timeout="120"))
    )
    assert "Ensure this value is less than or equal to 30.0." in slow
    assert not HwaConnection.objects.filter(tenant=world.tenant).exists()


def test_the_password_can_live_in_the_environment_or_aws_secrets_manager(
    world, server, s3_server, monkeypatch
):
    with HwaServer() as other:
        connect(world.other, other)
        monkeypatch.setenv("HWA_PASSWORD_BETA", PASSWORD)
        with override_settings(HWA_PASSWORDS={}), tenant_context(world.other):
            assert engine_for(world.other).info()["engineVersion"] == "10.2.5"

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    manager = boto3.client(
        "secretsmanager", region_name=s3_server.region, endpoint_url=s3_server.endpoint_url
    )
    secret_id = f"hwa/portal-{server.url.rsplit(':', 1)[1]}"
    manager.create_secret(Name=secret_id, SecretString=json.dumps({"password": PASSWORD}))
    aws = {
        "aws_secret_id": secret_id,
        "aws_region": s3_server.region,
        "aws_endpoint_url": s3_server.endpoint_url,
    }
    connect(world.tenant, server, secret_source="aws", **aws)
    with override_settings(HWA_PASSWORDS={}), tenant_context(world.tenant):
        assert len(engine_for(world.tenant).workstations()) == 3
