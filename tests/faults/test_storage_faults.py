"""S3 answering 503 SlowDown and ServiceUnavailable (tests/faults/s3_proxy.py in front of moto's server).

A few refusals are ridden out by the storage client's retries (botocore's "standard" mode: 5 retries with
jittered exponential backoff) and the user's upload or listing succeeds; storage that keeps refusing is a
503 saying storage is busy, on the API and on the pages, and nothing is half-written: no profile row, no
bytes booked on the bucket, no audit event of an upload, no object left in the bucket.

The bucket lives outside the database, so every test works under a prefix of its own.
"""

from uuid import uuid4

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from analysis.models import Profile
from tenants.models import AuditEvent, Bucket
from tests.faults.s3_proxy import FaultyS3

pytestmark = pytest.mark.django_db

FILES = "/api/v1/files"
BUSY = "Storage is busy right now; try again in a moment."
# tenants.storage.s3.S3Config: botocore's standard retry mode with max_attempts 5, which counts retries:
# a request is tried 6 times in all. Backoff is jittered, up to 1 s × 2^n after SlowDown (throttling) and
# 50 ms × 2^n after ServiceUnavailable, so the tests that exhaust the retries use ServiceUnavailable.
ATTEMPTS = 6


@pytest.fixture
def faulty_s3(s3_server):
    """The portal's S3 endpoint is the proxy; what it lets through reaches the session's moto server."""
    with FaultyS3(upstream=s3_server.endpoint_url) as proxy, override_settings(S3_ENDPOINT_URL=proxy.url):
        yield proxy


@pytest.fixture
def folder() -> str:
    return f"faults-{uuid4().hex[:10]}/"


@pytest.fixture
def alice(api_for, world):
    return api_for(world.alice)


def used(tenant) -> tuple[int, int]:
    return tuple(Bucket.objects.filter(tenant=tenant).values_list("bytes_used", "object_count").get())


def upload(api, prefix: str, name: str, data: bytes):
    return api.post(
        f"{FILES}/upload", {"prefix": prefix, "file": SimpleUploadedFile(name, data)}, format="multipart"
    )


def test_an_upload_slowed_down_is_retried_and_stored(alice, world, faulty_s3, folder):
    before = used(world.tenant)
    faulty_s3.refuse("SlowDown", times=1)  # a throttle's backoff is up to 1 s × 2^n: once is enough here

    response = upload(alice, folder, "reads.txt", b"ACGT" * 100)

    assert response.status_code == 201, response.content
    first = faulty_s3.seen[:2]  # the look for an object to replace, refused, then answered
    assert [seen.status for seen in first] == [503, 404]
    assert {(seen.method, seen.path) for seen in first} == {("HEAD", first[0].path)}
    assert first[0].path.endswith(f"/{folder}reads.txt")
    assert used(world.tenant) == (before[0] + 400, before[1] + 1)
    listed = alice.get(FILES, {"prefix": folder}).json()
    assert [entry["name"] for entry in listed["files"]] == ["reads.txt"]


def test_a_listing_rides_out_five_service_unavailable_answers(alice, faulty_s3, folder):
    assert upload(alice, folder, "a.tsv", b"x\ty\n").status_code == 201
    faulty_s3.refuse("ServiceUnavailable", times=ATTEMPTS - 1)

    response = alice.get(FILES, {"prefix": folder})

    assert response.status_code == 200
    assert [entry["name"] for entry in response.json()["files"]] == ["a.tsv"]
    assert faulty_s3.statuses() == [503] * (ATTEMPTS - 1) + [200]


def test_a_stored_file_whose_details_cannot_be_read_back_is_still_counted(alice, world, faulty_s3, folder):
    before = used(world.tenant)
    faulty_s3.refuse_after("PUT", "ServiceUnavailable")  # the write goes through, then S3 is busy

    response = upload(alice, folder, "late.txt", b"late" * 50)

    assert response.status_code == 201, response.content
    assert response.json()["key"] == f"{folder}late.txt" and response.json()["size"] == 200
    assert faulty_s3.statuses() == [404, 200] + [503] * ATTEMPTS  # look, write, the read-back refused
    assert used(world.tenant) == (before[0] + 200, before[1] + 1)
    assert AuditEvent.objects.filter(action="file.uploaded", target=f"{folder}late.txt").exists()
    faulty_s3.pass_through()
    assert [entry["size"] for entry in alice.get(FILES, {"prefix": folder}).json()["files"]] == [200]


def test_storage_that_keeps_refusing_is_a_503_and_the_profile_is_not_half_written(alice, world, faulty_s3):
    profiles_before = alice.get(FILES, {"prefix": "profiles/"}).json()["folders"]
    before, events_before = used(world.tenant), AuditEvent.objects.count()
    faulty_s3.refuse("ServiceUnavailable")

    response = alice.post(
        "/api/v1/profiles",
        {"name": "Busy run", "file": SimpleUploadedFile("busy.callgrind.out", b"events: Ir\n")},
        format="multipart",
    )

    assert response.status_code == 503
    assert response.json() == {
        "error": {"code": "storage_busy", "message": BUSY, "hint": "Try again in 30 s."}
    }
    assert response["Retry-After"] == "30"
    assert faulty_s3.statuses() == [503] * ATTEMPTS  # one request, tried six times; nothing was written
    assert not Profile.objects.filter(name="Busy run").exists()
    assert used(world.tenant) == before
    assert AuditEvent.objects.count() == events_before
    faulty_s3.pass_through()
    assert alice.get(FILES, {"prefix": "profiles/"}).json()["folders"] == profiles_before


def test_the_profile_page_says_storage_is_busy_with_a_503(client_for, world, faulty_s3):
    before = used(world.tenant)
    faulty_s3.refuse("ServiceUnavailable", times=ATTEMPTS)  # every attempt of the first request

    page = client_for(world.alice).post(
        "/profiles/", {"name": "Busy page", "file": SimpleUploadedFile("page.callgrind.out", b"events: Ir\n")}
    )

    assert page.status_code == 503 and page["Retry-After"] == "30"
    assert "Storage is busy" in page.content.decode() and BUSY in page.content.decode()
    assert not Profile.objects.filter(name="Busy page").exists()
    assert used(world.tenant) == before


def test_mallory_gets_404_on_alphas_files_and_never_reaches_its_storage(client_for, world, faulty_s3):
    faulty_s3.refuse("ServiceUnavailable")
    mallory = client_for(world.mallory, world.tenant)

    assert mallory.get(FILES).status_code == 404
    assert mallory.post("/profiles/", {"file": SimpleUploadedFile("x.out", b"x")}).status_code == 404
    assert faulty_s3.seen == []
