"""The assistant's file search walks only the tenant's own bucket, and its ISS lookup answers what
``/api/v1/iss/jobs/<id>`` answers (against the local ISS server)."""

import io
import uuid

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from chat.tools import ToolContext, ToolError, call_tool
from tenants.models import IssConnection, Membership
from tenants.services.files import storage_of
from tests.iss_server import CLIENT_ID, CLIENT_SECRET, IssServer

pytestmark = pytest.mark.django_db

JOB = "00000000-0000-4000-8000-000000000001"  # sample job 1 of tests/iss_server.py


def ask(world, name, arguments=None, *, user=None, tenant=None):
    tenant, user = tenant or world.tenant, user or world.alice
    with tenant_context(tenant):
        return call_tool(
            name, arguments or {}, ToolContext(Membership.objects.of(user, tenant), user, tenant)
        )


@pytest.fixture
def uploaded(world):
    """Three files under a folder of this run in alpha's bucket (removed afterwards)."""
    run = f"chat-{uuid.uuid4().hex[:8]}"
    storage = storage_of(world.tenant)
    keys = (f"{run}/a/HG002_R1.fastq.gz", f"{run}/a/b/HG002_R2.fastq.gz", f"{run}/notes.txt")
    for key in keys:
        storage.upload(key, io.BytesIO(b"ACGT"))
    yield run
    for key in keys:
        storage.delete(key)


def test_search_files_finds_names_in_the_tenants_bucket_only(world, api_for, uploaded):
    run = uploaded
    listed = api_for(world.alice).get("/api/v1/files", {"prefix": f"{run}/a/"}).json()

    result = ask(world, "search_files", {"query": "hg002", "prefix": f"{run}/"})
    keys = [row["key"] for row in result.data["files"]]
    assert sorted(keys) == [f"{run}/a/HG002_R1.fastq.gz", f"{run}/a/b/HG002_R2.fastq.gz"]
    assert {f["key"] for f in listed["files"] if "hg002" in f["name"].lower()} <= set(keys)
    assert all(row["size"] == 4 for row in result.data["files"]) and not result.truncated
    assert f"`{run}/a/HG002_R1.fastq.gz`" in result.text
    assert ("Files", f"/files/?prefix={run}%2F") in result.links
    assert ask(world, "search_files", {"query": "nothing-like-this", "prefix": f"{run}/"}).data["files"] == []
    mallory = ask(world, "search_files", {"query": "hg002"}, user=world.mallory, tenant=world.other)
    assert run not in str(mallory.data["files"])
    with pytest.raises(ToolError, match="prefix"):
        ask(world, "search_files", {"query": "x", "prefix": "../other/"})


def test_iss_job_equals_the_iss_api_and_mallory_has_no_connection(world, api_for):
    with IssServer() as server, override_settings(ISS_CLIENT_SECRETS={"alpha": CLIENT_SECRET}):
        IssConnection.objects.create(
            tenant=world.tenant,
            base_url=server.url,
            file_service_url=server.url,
            token_url=f"{server.url}/oauth2/token",
            client_id=CLIENT_ID,
            timeout=5.0,
        )
        answer = api_for(world.alice).get(f"/api/v1/iss/jobs/{JOB}").json()
        result = ask(world, "iss_job", {"job_id": JOB}, user=world.carol)
        assert result.data == answer and result.data["job"]
        assert f"ISS job `{JOB}`" in result.text and f"{len(answer['files'])} artifact files" in result.text
        assert (f"ISS job {JOB}", f"/profiles/iss/jobs/{JOB}/") in result.links
        with pytest.raises(ToolError, match="Not found in ISS"):
            ask(world, "iss_job", {"job_id": "00000000-0000-4000-8000-00000000dead"})
        with pytest.raises(ToolError, match="No ISS connection is configured for Beta"):
            ask(world, "iss_job", {"job_id": JOB}, user=world.mallory, tenant=world.other)
