"""The ISS client against a local server speaking the ISS protocol (tests/iss_server.py); no database."""

import hashlib
import json
import logging
import threading

import boto3
import pytest

from analysis.iss.client import (
    JOB_STATUSES,
    ArtifactFile,
    IssAuthError,
    IssClient,
    IssConfig,
    IssError,
    IssNotFound,
    IssRateLimited,
    IssUnreachable,
    IssUpstreamError,
    secret_from_aws_secrets_manager,
)
from tests.iss_server import CLIENT_ID, CLIENT_SECRET, IssServer, payload

JOB = "00000000-0000-4000-8000-000000000001"


class Clock:
    """A clock the test moves by hand, so token expiry needs no sleeping."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def config_for(server: IssServer, **overrides) -> IssConfig:
    values = {
        "base_url": server.url,
        "file_service_url": server.url,
        "token_url": f"{server.url}/oauth2/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timeout": 5.0,
        **overrides,
    }
    return IssConfig(**values)


@pytest.fixture
def server():
    with IssServer() as running:
        yield running


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def client(server, clock):
    with IssClient(config_for(server), clock=clock) as iss:
        yield iss


def test_the_token_is_fetched_once_and_reused_until_90_percent_of_its_lifetime(server, client, clock):
    server.expires_in = 100
    client.list_platforms()
    clock.now += 89
    client.list_platforms()
    client.get_platform("p-spr")
    assert server.token_requests == 1

    clock.now += 1  # 90 s of 100: refresh
    client.list_platforms()
    assert server.token_requests == 2
    client.list_platforms()
    assert server.token_requests == 2


def test_a_token_without_expires_in_lives_the_default_hour(server, client, clock):
    server.expires_in = None
    client.list_platforms()
    clock.now += 3239
    client.list_platforms()
    assert server.token_requests == 1
    clock.now += 1
    client.list_platforms()
    assert server.token_requests == 2


def test_threads_share_one_token(server, client):
    errors = []

    def work():
        try:
            client.list_platforms()
        except IssError as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert server.token_requests == 1


def test_a_revoked_token_is_refreshed_once_and_the_call_succeeds(server, client):
    client.list_platforms()
    server.revoke_tokens()
    assert [p["PlatformID"] for p in client.list_platforms()] == ["p-spr", "p-gnr"]
    assert server.token_requests == 2


def test_a_401_after_the_refresh_is_a_clear_auth_error(server, client):
    client.list_platforms()
    server.fail(401, times=2)
    with pytest.raises(IssAuthError, match="401.*/v1/platforms") as caught:
        client.list_platforms()
    assert "after a refresh" in str(caught.value)
    assert server.token_requests == 2


def test_wrong_client_credentials_name_the_client_not_the_secret(server):
    wrong = "not-the-right-secret"
    with IssClient(config_for(server, client_secret=wrong)) as iss, pytest.raises(IssAuthError) as caught:
        iss.list_platforms()
    assert CLIENT_ID in str(caught.value)
    assert wrong not in str(caught.value)


def test_an_unknown_status_is_refused_naming_the_allowed_ones(client, server):
    with pytest.raises(ValueError, match="running") as caught:
        client.list_jobs(status="running")
    for status in JOB_STATUSES:
        assert status in str(caught.value)
    assert server.requests == []


def test_a_limit_outside_1_to_100_is_refused(client):
    for limit in (0, 101):
        with pytest.raises(ValueError, match="between 1 and 100"):
            client.list_jobs(limit=limit)


def test_filters_are_sent_with_the_protocol_names(client, server):
    page = client.list_jobs(
        status="inprogress", job_types=" NovaCoho , IWPS,", queue="silver", requested_by="bob@example.com"
    )
    path, query = server.requests[-1]
    assert path == "/v1/jobs"
    assert query == {
        "Limit": ["100"],
        "JobRequestStatus": ["inprogress"],
        "Type": ["NovaCoho,IWPS"],
        "Queue": ["silver"],
        "RequestedBy": ["bob@example.com"],
    }
    assert [job["Name"] for job in page.jobs] == ["job 2"]


def test_job_types_may_be_a_list_and_parent_instance_filters(client):
    page = client.list_jobs(job_types=["IWPS", "NovaCoho"], parent_instance_id="parent-1")
    assert [(job["Name"], job["Type"]) for job in page.jobs] == [("job 0", "IWPS")]


def test_pagination_passes_the_token_through_and_stops_on_the_last_page(client, server):
    seen, token, pages = [], None, 0
    while True:
        page = client.list_jobs(limit=2, continuation_token=token)
        pages += 1
        seen += [job["JobRequestID"] for job in page.jobs]
        assert page.count == len(page.jobs)
        if page.continuation_token is None:
            break
        assert page.continuation_token.startswith("2025-11-06T07:24:51.298Z")
        token = page.continuation_token
    assert pages == 3
    assert seen == [job["JobRequestID"] for job in server.jobs]
    assert server.requests[1][1]["ContinuationToken"] == ["2025-11-06T07:24:51.298Z#2"]


def test_job_detail_flattens_its_metadata(client):
    job = client.get_job(JOB)
    assert job["Name"] == "job 1"
    assert job["RequestedBy"] == "bob@example.com"
    assert job["RequestedOn"] == "2025-11-06T07:24:01.000Z"
    assert "Metadata" not in job


def test_the_job_schema_and_platforms_are_read(client):
    assert client.job_schema()["required"] == ["Type", "Name"]
    assert client.get_platform("p-gnr")["PlatformName"] == "GraniteRapids"


def test_artifact_files_are_listed_per_job_type(client, server):
    server.files[JOB] = {"sim.funcprofile": b"f" * 10, "sim.out": b"o" * 3, "sub/sim.bbprofile": b"b"}
    assert client.list_files(JOB, "ISIM") == [
        ArtifactFile("sim.funcprofile", 10),
        ArtifactFile("sim.out", 3),
        ArtifactFile("sub/sim.bbprofile", 1),
    ]
    assert server.requests[-1][0] == f"/fs/files/{JOB}/isim/artifacts/out"
    assert client.list_files(JOB, "IWPS", "sub") == [ArtifactFile("sim.bbprofile", 1)]
    assert len(client.list_files(JOB, "WorkloadJob")) == 3
    assert server.requests[-1][0] == f"/fs/files/{JOB}/logs"


def test_a_multi_megabyte_download_streams_in_bounded_chunks(client, server):
    body = payload(5 * 1024 * 1024 + 123)
    server.files[JOB] = {"sim.funcprofile": body}
    digest, sizes = hashlib.sha256(), []
    for chunk in client.download(JOB, "NovaCoho", "sim.funcprofile", chunk_size=256 * 1024):
        sizes.append(len(chunk))
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(body).hexdigest()
    assert sum(sizes) == len(body)
    assert len(sizes) >= 20
    assert max(sizes) <= 256 * 1024
    assert server.requests[-1][0] == f"/fs/files/{JOB}/coho/artifacts/out/sim.funcprofile"


def test_a_download_after_a_revoked_token_refreshes_once(client, server):
    server.files[JOB] = {"sim.out": b"hello"}
    client.list_platforms()
    server.revoke_tokens()
    assert b"".join(client.download(JOB, "IWPS", "sim.out")) == b"hello"
    assert server.token_requests == 2


def test_a_path_climbing_out_of_the_artifacts_is_refused(client):
    with pytest.raises(ValueError, match=r"\.\."):
        list(client.download(JOB, "IWPS", "../../logs/all/simics"))


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (403, IssAuthError, "denied access \\(HTTP 403\\)"),
        (404, IssNotFound, "nothing at .*/v1/platforms \\(HTTP 404\\)"),
        (500, IssUpstreamError, "failed \\(HTTP 500\\)"),
        (503, IssUpstreamError, "failed \\(HTTP 503\\)"),
        (400, IssUpstreamError, "refused the request \\(HTTP 400\\)"),
    ],
)
def test_upstream_errors_are_typed(client, server, status, error, message):
    server.fail(status)
    with pytest.raises(error, match=message) as caught:
        client.list_platforms()
    assert caught.value.status == status


def test_a_missing_job_and_a_missing_file_are_not_found(client, server):
    with pytest.raises(IssNotFound):
        client.get_job("no-such-job")
    server.files[JOB] = {"sim.out": b"x"}
    with pytest.raises(IssNotFound):
        list(client.download(JOB, "IWPS", "sim.nothing"))


def test_429_carries_retry_after(client, server):
    server.fail(429, retry_after=30)
    with pytest.raises(IssRateLimited, match="retry after 30 s") as caught:
        client.list_jobs()
    assert caught.value.retry_after == 30.0
    server.fail(429)
    with pytest.raises(IssRateLimited) as caught:
        client.list_jobs()
    assert caught.value.retry_after is None


def test_a_slow_server_is_a_timeout(server):
    with IssClient(config_for(server, timeout=0.2)) as iss:
        iss.list_platforms()
        server.delay = 1.0
        with pytest.raises(IssUnreachable, match="timed out at http://127.0.0.1:\\d+/v1/platforms"):
            iss.list_platforms()


def test_a_closed_port_is_unreachable(server):
    with IssServer() as gone:
        url = gone.url
    config = config_for(server, token_url=f"{url}/oauth2/token")
    with IssClient(config) as iss, pytest.raises(IssUnreachable, match="could not be reached") as caught:
        iss.list_platforms()
    assert "/oauth2/token" in str(caught.value)


def test_the_configured_proxy_carries_every_request(server):
    """The ISS hosts here do not resolve; only the proxy (the local server acting as one) can reach them."""
    config = config_for(
        server,
        base_url="http://api.iss.invalid",
        file_service_url="http://gw-acme.iss.invalid",
        token_url="http://login.iss.invalid/oauth2/token",
        proxy=server.url,
    )
    server.files[JOB] = {"sim.out": b"through the proxy"}
    with IssClient(config) as iss:
        assert len(iss.list_platforms()) == 2
        assert b"".join(iss.download(JOB, "IWPS", "sim.out")) == b"through the proxy"
    assert server.proxied_hosts == ["login.iss.invalid", "api.iss.invalid", "gw-acme.iss.invalid"]


def test_the_secret_comes_from_secrets_manager(server, s3_server, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
    }.items():
        monkeypatch.setenv(name, value)
    manager = boto3.client(
        "secretsmanager", region_name=s3_server.region, endpoint_url=s3_server.endpoint_url
    )
    plain = f"iss/plain-{server.url[-5:]}"
    as_json = f"iss/json-{server.url[-5:]}"
    manager.create_secret(Name=plain, SecretString=CLIENT_SECRET)
    manager.create_secret(Name=as_json, SecretString=json.dumps({"client_secret": CLIENT_SECRET}))

    for secret_id in (plain, as_json):
        source = secret_from_aws_secrets_manager(secret_id, s3_server.region, s3_server.endpoint_url)
        with IssClient(config_for(server, client_secret=source)) as iss:
            assert len(iss.list_platforms()) == 2

    missing = secret_from_aws_secrets_manager("iss/missing", s3_server.region, s3_server.endpoint_url)
    refused = pytest.raises(IssAuthError, match="iss/missing.*ResourceNotFoundException")
    with IssClient(config_for(server, client_secret=missing)) as iss, refused:
        iss.list_platforms()


def test_no_message_or_log_line_holds_the_secret_or_the_token(server, clock, caplog):
    caplog.set_level(logging.DEBUG)
    config = config_for(server)
    assert CLIENT_SECRET not in repr(config)
    messages = []
    with IssClient(config, clock=clock) as iss:
        iss.list_platforms()
        server.revoke_tokens()
        iss.list_platforms()
        tokens = server.issued_tokens
        for status in (401, 401, 403, 404, 429, 500):
            server.fail(status)
            try:
                iss.list_platforms()
            except IssError as error:
                messages.append(str(error))
        server.delay = 1.0
        with IssClient(config_for(server, timeout=0.2)) as slow, pytest.raises(IssUnreachable) as caught:
            slow.list_platforms()
        messages.append(str(caught.value))
    assert tokens and len(messages) >= 5
    text = "\n".join(messages + [record.getMessage() for record in caplog.records])
    for secret in (CLIENT_SECRET, *tokens):
        assert secret not in text


def test_after_a_refused_refresh_the_next_call_asks_for_a_new_token(client, server):
    client.list_platforms()
    server.fail(401, times=2)
    with pytest.raises(IssAuthError):
        client.list_platforms()
    assert len(client.list_platforms()) == 2
    assert server.token_requests == 3


def test_an_answer_that_is_not_json_is_an_upstream_error(client, server):
    server.files[JOB] = {"sim.out": b"\x00\x01 not json"}
    with pytest.raises(IssUpstreamError, match="not JSON"):
        client.list_files(JOB, "IWPS", "sim.out")
