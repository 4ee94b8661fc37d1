"""The ISS connector in the portal: operators configure it in the admin, members browse ISS jobs and import
artifact files as profiles, through the pages and the API, against the local ISS server (tests/iss_server.py).

Every response a test reads goes through ``seen()``, which fails if the client secret is in its body.
"""

import json

import boto3
import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from analysis.models import Profile
from tenants.models import AuditEvent, IssConnection
from tenants.services.files import storage_of
from tests.iss_server import CLIENT_ID, CLIENT_SECRET, IssServer, payload, sample_jobs

JOB = "00000000-0000-4000-8000-000000000001"  # sample job 1: an ISIM job
JOBS = "/profiles/iss/"
API = "/api/v1/iss"
SECRETS = {"alpha": CLIENT_SECRET, "beta": CLIENT_SECRET}


def seen(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert CLIENT_SECRET.encode() not in body, "the ISS client secret leaked into a response"
    return body.decode()


def connect(tenant, server: IssServer, **overrides) -> IssConnection:
    values = {
        "base_url": server.url,
        "file_service_url": server.url,
        "token_url": f"{server.url}/oauth2/token",
        "client_id": CLIENT_ID,
        "timeout": 5.0,
        **overrides,
    }
    return IssConnection.objects.create(tenant=tenant, **values)


@pytest.fixture
def server():
    with IssServer() as running, override_settings(ISS_CLIENT_SECRETS=SECRETS):
        yield running


@pytest.fixture
def connected(world, server) -> IssServer:
    """alpha is connected to the local ISS server; beta is not."""
    connect(world.tenant, server)
    return server


# Operators


def admin_form(world, server, **overrides) -> dict:
    return {
        "tenant": world.tenant.pk,
        "enabled": "on",
        "base_url": server.url,
        "file_service_url": server.url,
        "token_url": f"{server.url}/oauth2/token",
        "proxy": "",
        "timeout": "5",
        "client_id": CLIENT_ID,
        "scope": "",
        "secret_source": "settings",
        "aws_secret_id": "",
        "aws_region": "",
        "aws_endpoint_url": "",
        "aws_secret_key": "client_secret",
        **overrides,
    }


def test_an_operator_configures_iss_in_the_admin_and_tests_the_connection(operator_client, world, server):
    added = operator_client.post("/admin/tenants/issconnection/add/", admin_form(world, server))
    assert added.status_code == 302, seen(added)
    connection = IssConnection.objects.get(tenant=world.tenant)
    assert (connection.client_id, connection.secret_source) == (CLIENT_ID, "settings")
    assert AuditEvent.objects.filter(action="iss.connection_added", tenant=world.tenant).exists()

    page = seen(operator_client.get(f"/admin/tenants/issconnection/{connection.pk}/change/"))
    assert CLIENT_ID in page and "client_secret" not in page.replace('value="client_secret"', "")

    action = {"action": "test_connection", "_selected_action": [connection.pk]}
    tested = seen(operator_client.post("/admin/tenants/issconnection/", action, follow=True))
    assert "ISS connection of alpha: OK, ISS listed 1 job (asked for one)." in tested

    with override_settings(ISS_CLIENT_SECRETS={"alpha": "not-the-secret"}):
        refused = seen(operator_client.post("/admin/tenants/issconnection/", action, follow=True))
    assert "ISS connection of alpha: IssAuthError: The ISS token endpoint refused client" in refused
    assert "not-the-secret" not in refused


def test_the_admin_refuses_an_aws_source_without_its_secret_id(operator_client, world, server):
    form = admin_form(world, server, secret_source="aws")
    refused = seen(operator_client.post("/admin/tenants/issconnection/add/", form))
    assert refused.count("The AWS source needs the secret id and its region.") == 1
    assert not IssConnection.objects.filter(tenant=world.tenant).exists()


def test_the_secret_can_live_in_aws_secrets_manager(client_for, world, server, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    manager = boto3.client(
        "secretsmanager", region_name=s3_server.region, endpoint_url=s3_server.endpoint_url
    )
    secret_id = f"iss/portal-{server.url.rsplit(':', 1)[1]}"
    manager.create_secret(Name=secret_id, SecretString=json.dumps({"client_secret": CLIENT_SECRET}))
    aws = {
        "aws_secret_id": secret_id,
        "aws_region": s3_server.region,
        "aws_endpoint_url": s3_server.endpoint_url,
    }
    connect(world.tenant, server, secret_source="aws", **aws)

    with override_settings(ISS_CLIENT_SECRETS={}):
        page = client_for(world.alice).get(JOBS)
    assert page.status_code == 200
    assert seen(page).count('data-job="') == 5


# Listing and paging


def test_alice_filters_by_status_and_pages_with_the_continuation_token(client_for, world, connected):
    connected.jobs = sample_jobs(160)  # every 6th job is "done": 27 of them, 25 on a page
    alice = client_for(world.alice)

    first = alice.get(JOBS, {"status": "done", "types": " ISIM, IWPS ,NovaCoho,WorkloadJob"})
    body = seen(first)
    assert first.status_code == 200
    first_ids = [job["JobRequestID"] for job in first.context["jobs"]]
    assert len(first_ids) == 25 and body.count('data-job="') == 25
    assert {job["JobRequestStatus"] for job in first.context["jobs"]} == {"done"}
    assert 'data-testid="next-page"' in body
    assert connected.requests[-1][1]["Type"] == ["ISIM,IWPS,NovaCoho,WorkloadJob"]

    second = alice.get(first.context["next_page"])
    second_ids = [job["JobRequestID"] for job in second.context["jobs"]]
    assert len(second_ids) == 2 and not set(second_ids) & set(first_ids)
    assert connected.requests[-1][1]["ContinuationToken"] == ["2025-11-06T07:24:51.298Z#25"]
    assert connected.requests[-1][1]["JobRequestStatus"] == ["done"]
    assert 'data-testid="next-page"' not in seen(second)


def test_the_list_filters_by_queue_requester_and_parent_instance(client_for, world, connected):
    alice = client_for(world.alice)
    by_queue = alice.get(JOBS, {"queue": "gold", "requested_by": "bob@example.com"})
    assert [job["Name"] for job in by_queue.context["jobs"]] == ["job 1"]
    by_parent = alice.get(JOBS, {"parent_instance": "parent-1"})
    assert [job["Name"] for job in by_parent.context["jobs"]] == ["job 0", "job 1"]
    nothing = seen(alice.get(JOBS, {"queue": "platinum"}))
    assert "No ISS jobs match these filters" in nothing


def test_an_unknown_status_is_a_form_error_not_an_iss_call(client_for, world, connected):
    response = client_for(world.alice).get(JOBS, {"status": "finished"})
    assert response.status_code == 400
    assert "Select a valid choice" in seen(response)
    assert connected.requests == []


def test_the_nav_shows_iss_jobs_only_where_iss_is_configured(client_for, world, connected):
    assert 'href="/profiles/iss/"' in seen(client_for(world.carol).get("/"))
    assert 'href="/profiles/iss/"' not in seen(client_for(world.mallory, world.other).get("/"))


# A job, its files, importing


def test_alice_sees_a_job_with_its_files_and_imports_one(client_for, world, connected):
    data = payload(300_000)
    connected.files[JOB] = {"callgrind.out.1234": data, "logs/sim.log": b"booted\n"}
    alice = client_for(world.alice)

    page = alice.get(f"{JOBS}jobs/{JOB}/")
    body = seen(page)
    assert page.status_code == 200
    assert [(f.name, f.size) for f in page.context["files"]] == [
        ("callgrind.out.1234", 300_000),
        ("logs/sim.log", 7),
    ]
    assert "job 1" in body and "ISIM" in body and "293.0\xa0KB" in body
    assert body.count('data-testid="import"') == 2 and 'href="/profiles/iss/platforms/' in body

    imported = alice.post(f"{JOBS}jobs/{JOB}/import/", {"path": "callgrind.out.1234"})
    assert imported.status_code == 302
    with schema_context(world.tenant.schema_name):
        profile = Profile.objects.get(source_ref=f"{JOB}/callgrind.out.1234")
    assert imported["Location"] == f"/profiles/{profile.code}/"
    assert (profile.source, profile.filename, profile.size) == ("iss", "callgrind.out.1234", 300_000)
    assert profile.name == "job 1 · callgrind.out.1234"
    stored = b"".join(storage_of(world.tenant).download(profile.raw_key))
    assert stored == data


def test_a_job_without_an_artifact_folder_shows_no_files(client_for, world, connected):
    page = client_for(world.alice).get(f"{JOBS}jobs/{JOB}/")
    assert page.status_code == 200
    assert "This job has no artifact folder yet" in seen(page)


def test_a_missing_file_is_a_404_with_a_message_and_no_profile(client_for, world, connected):
    connected.files[JOB] = {"callgrind.out.1": b"x"}
    response = client_for(world.bob).post(f"{JOBS}jobs/{JOB}/import/", {"path": "nope.out"})
    assert response.status_code == 404
    assert "Not found in ISS" in seen(response)
    with schema_context(world.tenant.schema_name):
        assert not Profile.objects.filter(source="iss", source_ref__startswith=JOB).exists()


def test_a_path_that_climbs_out_of_the_artifacts_is_refused(client_for, world, connected):
    connected.files[JOB] = {"callgrind.out.1": b"x"}
    response = client_for(world.bob).post(
        f"{JOBS}jobs/{JOB}/import/", {"path": "../../etc/passwd"}, follow=True
    )
    assert "may not contain" in seen(response)
    assert all("etc" not in path for path, _ in connected.requests)


def test_a_file_over_the_profile_size_limit_is_refused_while_it_streams(client_for, world, connected):
    connected.files[JOB] = {"callgrind.out.big": payload(3 * 1024 * 1024)}
    with override_settings(RUNYARD_MAX_PROFILE_BYTES=1024 * 1024):
        response = client_for(world.bob).post(
            f"{JOBS}jobs/{JOB}/import/", {"path": "callgrind.out.big"}, follow=True
        )
    assert "Could not import callgrind.out.big: The file is larger than the 1 MB" in seen(response)
    with schema_context(world.tenant.schema_name):
        assert not Profile.objects.filter(source_ref=f"{JOB}/callgrind.out.big").exists()


def test_the_connections_proxy_carries_every_iss_call(client_for, world, server):
    server.files[JOB] = {"callgrind.out.1": b"via the proxy"}
    connect(
        world.tenant,
        server,
        base_url="http://api.iss.invalid",
        file_service_url="http://gw-alpha.iss.invalid",
        token_url="http://login.iss.invalid/oauth2/token",
        proxy=server.url,
    )
    page = client_for(world.alice).get(f"{JOBS}jobs/{JOB}/")
    assert page.status_code == 200 and "callgrind.out.1" in seen(page)
    assert server.proxied_hosts == ["login.iss.invalid", "api.iss.invalid", "gw-alpha.iss.invalid"]


def test_carol_reads_but_cannot_import(client_for, world, connected):
    connected.files[JOB] = {"callgrind.out.1": b"events: Ir\n"}
    carol = client_for(world.carol)
    page = carol.get(f"{JOBS}jobs/{JOB}/")
    assert page.status_code == 200
    body = seen(page)
    assert "callgrind.out.1" in body and 'data-testid="import"' not in body
    assert carol.post(f"{JOBS}jobs/{JOB}/import/", {"path": "callgrind.out.1"}).status_code == 403
    with schema_context(world.tenant.schema_name):
        assert not Profile.objects.filter(source_ref=f"{JOB}/callgrind.out.1").exists()


def test_the_platforms_page_lists_iss_platforms(client_for, world, connected):
    page = seen(client_for(world.carol).get(f"{JOBS}platforms/"))
    assert 'id="platform-p-spr"' in page and "GraniteRapids" in page


# Other tenants, tenants without ISS


def test_mallory_gets_404_on_alphas_iss_pages_and_api(client_for, api_for, world, connected):
    connected.files[JOB] = {"callgrind.out.1": b"x"}
    mallory = client_for(world.mallory, world.tenant)
    for url in (JOBS, f"{JOBS}jobs/{JOB}/", f"{JOBS}platforms/"):
        assert mallory.get(url).status_code == 404
    assert mallory.post(f"{JOBS}jobs/{JOB}/import/", {"path": "callgrind.out.1"}).status_code == 404
    api = api_for(world.mallory, world.tenant, token_tenant=world.other)
    for url in (f"{API}/jobs", f"{API}/jobs/{JOB}", f"{API}/platforms"):
        assert api.get(url).status_code in (401, 404)
    assert connected.requests == []


def test_a_tenant_without_iss_sees_an_explanation(client_for, api_for, world, server):
    mallory = client_for(world.mallory, world.other)
    for url in (JOBS, f"{JOBS}jobs/{JOB}/", f"{JOBS}platforms/"):
        page = mallory.get(url)
        assert page.status_code == 200
        assert "ISS is not set up for Beta" in seen(page)
    answer = api_for(world.mallory, world.other).get(f"{API}/jobs")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "iss_not_configured"


def test_a_disabled_connection_counts_as_not_configured(client_for, world, server):
    connect(world.tenant, server, enabled=False)
    assert "ISS is not set up" in seen(client_for(world.alice).get(JOBS))


# Upstream failures


def test_iss_failures_are_clear_messages_with_their_status(client_for, world, connected):
    alice = client_for(world.alice)
    connected.fail(500)
    failed = alice.get(JOBS)
    assert failed.status_code == 502
    assert "ISS failed (HTTP 500)" in seen(failed) and "Ask an operator" in seen(failed)

    connected.fail(401, times=2)  # the token is refused, refreshed, and refused again
    refused = alice.get(f"{JOBS}jobs/{JOB}/")
    assert refused.status_code == 502
    assert "ISS rejected the token again after a refresh (HTTP 401)" in seen(refused)

    connected.fail(429, retry_after=30)
    limited = alice.get(JOBS)
    assert (limited.status_code, limited["Retry-After"]) == (429, "30")
    assert "Try again in 30 s" in seen(limited)

    missing = alice.get(f"{JOBS}jobs/00000000-0000-4000-8000-999999999999/")
    assert missing.status_code == 404 and "Not found in ISS" in seen(missing)


def test_wrong_credentials_are_an_auth_error_on_the_page(client_for, world, connected):
    with override_settings(ISS_CLIENT_SECRETS={"alpha": "wrong"}):
        page = client_for(world.alice).get(JOBS)
    assert page.status_code == 502
    assert "The ISS token endpoint refused client &#x27;runyard-test-client&#x27; (HTTP 401)" in seen(page)


def test_a_slow_iss_times_out_with_a_clear_message(client_for, world, server):
    connect(world.tenant, server, timeout=0.3)
    client_for(world.alice).get(JOBS)  # fetch the token while ISS is still quick
    server.delay = 1.0
    page = client_for(world.alice).get(JOBS)
    assert page.status_code == 502
    assert "ISS timed out at http://127.0.0.1" in seen(page)


# API


def test_the_api_lists_jobs_with_filters_and_the_continuation_token(api_for, world, connected):
    connected.jobs = sample_jobs(60)
    api = api_for(world.carol)
    first = api.get(f"{API}/jobs", {"types": "IWPS"})
    assert first.status_code == 200
    assert len(first.json()["jobs"]) == 15 and first.json()["continuation_token"] is None

    paged = api.get(f"{API}/jobs", {"queue": "silver"})
    assert paged.json()["count"] == 25 and paged.json()["continuation_token"]
    rest = api.get(
        f"{API}/jobs", {"queue": "silver", "continuation_token": paged.json()["continuation_token"]}
    )
    assert rest.json()["count"] == 5 and rest.json()["continuation_token"] is None
    assert {job["Queue"] for job in paged.json()["jobs"] + rest.json()["jobs"]} == {"silver"}

    invalid = api.get(f"{API}/jobs", {"status": "finished"})
    assert invalid.status_code == 400 and "status" in invalid.json()["error"]["fields"]


def test_the_api_shows_a_job_its_files_the_platforms_and_the_schema(api_for, world, connected):
    connected.files[JOB] = {"callgrind.out.1": b"abc"}
    api = api_for(world.carol)
    job = api.get(f"{API}/jobs/{JOB}").json()
    assert job["job"]["RequestedBy"] == "bob@example.com"
    assert job["files"] == [{"name": "callgrind.out.1", "size": 3}]
    assert [p["PlatformID"] for p in api.get(f"{API}/platforms").json()["platforms"]] == ["p-spr", "p-gnr"]
    assert api.get(f"{API}/platforms/p-gnr").json()["PlatformName"] == "GraniteRapids"
    assert api.get(f"{API}/jobs/schema").json()["required"] == ["Type", "Name"]
    assert seen(api.get(f"{API}/jobs/{JOB}")).count(CLIENT_ID) == 0


def test_api_failures_keep_the_error_shape(api_for, world, connected):
    api = api_for(world.alice)
    connected.fail(503)
    failed = api.get(f"{API}/platforms")
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "iss_upstream"
    connected.fail(429, retry_after=7)
    limited = api.get(f"{API}/jobs")
    assert (limited.status_code, limited["Retry-After"]) == (429, "7")
    assert limited.json()["error"]["code"] == "iss_rate_limited"
    missing = api.get(f"{API}/platforms/nope")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "iss_not_found")
    seen(failed), seen(limited), seen(missing)


def test_the_secret_can_come_from_the_tenants_environment_variable(client_for, world, server, monkeypatch):
    connect(world.tenant, server)
    monkeypatch.delenv("ISS_CLIENT_SECRET_ALPHA", raising=False)
    with override_settings(ISS_CLIENT_SECRETS={}):
        missing = client_for(world.alice).get(JOBS)
        assert missing.status_code == 502
        assert "set ISS_CLIENT_SECRETS[&#x27;alpha&#x27;] or ISS_CLIENT_SECRET_ALPHA" in seen(missing)
        monkeypatch.setenv("ISS_CLIENT_SECRET_ALPHA", CLIENT_SECRET)
        page = client_for(world.alice).get(JOBS)
    assert page.status_code == 200 and seen(page).count('data-job="') == 5
