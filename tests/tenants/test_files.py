"""The file browser's API and page, against moto's S3 server over HTTP.

The bucket lives outside the database, so what a test uploads outlives its transaction: every test works
under a prefix of its own and asserts only on that prefix (and on counters changed within the test).
"""

import hashlib
import os
from urllib.parse import urlencode
from uuid import uuid4

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tenants.models import GB, AuditEvent, Bucket, Quota
from tenants.services.files import PART_SIZE
from tenants.storage import s3_config
from tenants.storage.links import LINK_PATH, sign_link
from tests.builders import committed

FILES = "/api/v1/files"
TRICKS = [
    "../x",
    "/etc/passwd",
    "a/../../b",
    "%2e%2e/x",
    "..%2fx",
    "%252e%252e%252fx",
    "s3://other-bucket/x",
    "a\\b",
    "a\x00b",
]


@pytest.fixture(scope="module")
def buckets(world, django_db_blocker) -> dict[str, Bucket]:
    """The buckets onboarding provisioned for alpha and beta on the test S3 server."""
    with django_db_blocker.unblock():
        return {bucket.tenant.slug: bucket for bucket in Bucket.objects.select_related("tenant")}


@pytest.fixture
def folder() -> str:
    return f"t-{uuid4().hex[:10]}/"


@pytest.fixture
def alice(api_for, world):
    return api_for(world.alice)


def upload(api, prefix: str, name: str, data: bytes):
    return api.post(
        f"{FILES}/upload", {"prefix": prefix, "file": SimpleUploadedFile(name, data)}, format="multipart"
    )


def downloaded(response) -> bytes:
    return b"".join(response.streaming_content)


def used(tenant) -> tuple[int, int]:
    bucket = Bucket.objects.get(tenant=tenant)
    return bucket.bytes_used, bucket.object_count


def error_text(response) -> str:
    error = response.json()["error"]
    return " ".join([error["message"], *sum(error.get("fields", {}).values(), [])])


def test_a_folder_lists_page_by_page(alice, folder):
    for n in range(5):
        assert upload(alice, folder, f"sample-{n}.txt", b"x" * n).status_code == 201
    alice.post(f"{FILES}/folders", {"prefix": folder, "name": "sub"}, format="json")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"prefix": folder, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = alice.get(FILES, params).json()
        assert page["prefix"] == folder and len(page["folders"]) + len(page["files"]) <= 2
        seen += [entry["prefix"] for entry in page["folders"]] + [entry["key"] for entry in page["files"]]
        pages, cursor = pages + 1, page["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted([f"{folder}sample-{n}.txt" for n in range(5)] + [f"{folder}sub/"])
    assert pages == 3
    root = alice.get(FILES, {"limit": 1000}).json()
    assert folder in [entry["prefix"] for entry in root["folders"]]


def test_a_cursor_of_another_folder_is_refused(alice, folder):
    for n in range(3):
        upload(alice, folder, f"f{n}.txt", b"1")
    cursor = alice.get(FILES, {"prefix": folder, "limit": 1}).json()["next"]
    response = alice.get(FILES, {"prefix": "", "cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()["error"]["fields"]


def test_an_uploaded_file_downloads_byte_for_byte_and_is_counted(alice, world, folder):
    data = os.urandom(3000)
    before = used(world.tenant)
    response = upload(alice, folder, "reads.bin", data)
    assert response.status_code == 201
    assert response.json()["key"] == f"{folder}reads.bin" and response.json()["size"] == 3000
    assert used(world.tenant) == (before[0] + 3000, before[1] + 1)

    download = alice.get(f"{FILES}/download", {"key": f"{folder}reads.bin"})
    assert download.status_code == 200
    assert downloaded(download) == data
    assert download["Content-Disposition"] == 'attachment; filename="reads.bin"'
    assert AuditEvent.objects.filter(action="file.uploaded", target=f"{folder}reads.bin").exists()

    upload(alice, folder, "reads.bin", data[:1000])  # an overwrite counts the difference only
    assert used(world.tenant) == (before[0] + 1000, before[1] + 1)


def test_the_metadata_of_a_file(alice, folder):
    upload(alice, folder, "sheet.csv", b"a,b\n1,2\n")
    info = alice.get(f"{FILES}/object", {"key": f"{folder}sheet.csv"}).json()
    assert info["name"] == "sheet.csv" and info["size"] == 8 and info["modified"]
    assert alice.get(f"{FILES}/object", {"key": f"{folder}missing.csv"}).status_code == 404


def start(api, key: str, size: int):
    return api.post(f"{FILES}/uploads", {"key": key, "size": size}, format="json")


def put_part(api, upload_token: str, number: int, data: bytes):
    return api.put(
        f"{FILES}/uploads/{upload_token}/parts/{number}", data, content_type="application/octet-stream"
    )


def test_a_large_file_goes_up_in_8_mib_parts(alice, world, folder):
    data = os.urandom(PART_SIZE + 123_456)
    before = used(world.tenant)
    started = start(alice, f"{folder}big.fastq", len(data))
    assert started.status_code == 201 and started.json()["part_size"] == PART_SIZE
    token = started.json()["upload"]
    parts = []
    for number, offset in enumerate(range(0, len(data), PART_SIZE), start=1):
        response = put_part(alice, token, number, data[offset : offset + PART_SIZE])
        assert response.status_code == 200, response.content
        parts.append(response.json())
    done = alice.post(f"{FILES}/uploads/{token}/complete", {"parts": parts}, format="json")
    assert done.status_code == 201 and done.json()["size"] == len(data)

    body = downloaded(alice.get(f"{FILES}/download", {"key": f"{folder}big.fastq"}))
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert used(world.tenant) == (before[0] + len(data), before[1] + 1)


def test_parts_cannot_add_up_to_more_than_was_declared(alice, folder):
    token = start(alice, f"{folder}small.bin", 1000).json()["upload"]
    response = put_part(alice, token, 1, b"x" * 1001)
    assert response.status_code == 400 and "declared size" in error_text(response)
    assert put_part(alice, token, 2, b"x").status_code == 400
    assert alice.delete(f"{FILES}/uploads/{token}").status_code == 204


def test_csv_previews_as_rows_and_yaml_as_text(alice, folder):
    upload(alice, folder, "samples.csv", b"sample,fastq\nS1,s1.fq.gz\nS2,s2.fq.gz\n")
    upload(alice, folder, "config.yaml", b"genome: hg38\nthreads: 8\n")
    table = alice.get(f"{FILES}/preview", {"key": f"{folder}samples.csv"}).json()
    assert table["kind"] == "table"
    assert table["rows"] == [["sample", "fastq"], ["S1", "s1.fq.gz"], ["S2", "s2.fq.gz"]]
    text = alice.get(f"{FILES}/preview", {"key": f"{folder}config.yaml"}).json()
    assert text == {
        "key": f"{folder}config.yaml",
        "kind": "text",
        "text": "genome: hg38\nthreads: 8\n",
        "truncated": False,
    }


def test_large_or_binary_files_are_not_previewed(alice, folder):
    upload(alice, folder, "big.txt", b"a" * (256 * 1024 + 1))
    upload(alice, folder, "reads.fq.gz", b"\x1f\x8b\x08\x00" + os.urandom(64))
    big = alice.get(f"{FILES}/preview", {"key": f"{folder}big.txt"})
    assert big.status_code == 400 and "too large to preview" in error_text(big)
    binary = alice.get(f"{FILES}/preview", {"key": f"{folder}reads.fq.gz"})
    assert binary.status_code == 400 and "binary" in error_text(binary)


def test_a_created_folder_is_listed_empty_and_can_be_deleted(alice, folder):
    response = alice.post(f"{FILES}/folders", {"prefix": folder, "name": "runs"}, format="json")
    assert response.status_code == 201 and response.json() == {"prefix": f"{folder}runs/"}
    assert [entry["name"] for entry in alice.get(FILES, {"prefix": folder}).json()["folders"]] == ["runs"]
    inside = alice.get(FILES, {"prefix": f"{folder}runs/"}).json()
    assert inside["folders"] == [] and inside["files"] == []

    upload(alice, f"{folder}runs/", "a.txt", b"a")
    refused = alice.delete(f"{FILES}/object?key={folder}runs/")
    assert refused.status_code == 400 and "Only empty folders" in error_text(refused)
    alice.delete(f"{FILES}/object?key={folder}runs/a.txt")
    assert alice.delete(f"{FILES}/object?key={folder}runs/").status_code == 204
    # Nothing current is left in the folder. Whether its parent still lists it is the backend's call:
    # AWS drops it, moto 5.2 keeps a prefix whose keys carry delete markers (see test_storage_backends).
    inside = alice.get(FILES, {"prefix": f"{folder}runs/"}).json()
    assert inside["folders"] == [] and inside["files"] == []
    deleted = alice.get(f"{FILES}/object", {"key": f"{folder}runs/a.txt"})
    assert deleted.status_code == 404


def test_a_deleted_file_is_gone_from_the_listing(alice, world, folder):
    upload(alice, folder, "keep.txt", b"keep")
    upload(alice, folder, "drop.txt", b"drop me")
    before = used(world.tenant)
    response = alice.delete(f"{FILES}/object?key={folder}drop.txt")
    assert response.status_code == 204
    listing = alice.get(FILES, {"prefix": folder}).json()
    assert [entry["name"] for entry in listing["files"]] == ["keep.txt"]
    assert used(world.tenant) == (before[0] - 7, before[1] - 1)
    assert AuditEvent.objects.filter(action="file.deleted", target=f"{folder}drop.txt").exists()
    assert alice.delete(f"{FILES}/object?key={folder}drop.txt").status_code == 404


@pytest.mark.parametrize("trick", TRICKS)
def test_traversal_and_encoded_tricks_answer_400(alice, trick):
    calls = [
        alice.get(f"{FILES}/object", {"key": trick}),
        alice.get(f"{FILES}/download", {"key": trick}),
        alice.get(f"{FILES}/preview", {"key": trick}),
        alice.get(f"{FILES}/link", {"key": trick}),
        alice.delete(f"{FILES}/object", QUERY_STRING=urlencode({"key": trick})),
        alice.get(FILES, {"prefix": trick}),
        upload(alice, trick, "x.txt", b"x"),
        alice.post(f"{FILES}/folders", {"prefix": "", "name": trick}, format="json"),
        start(alice, trick, 10),
    ]
    for response in calls:
        assert response.status_code == 400, (response.request, response.content)
        assert response.json()["error"]["code"] == "invalid"


def test_a_member_of_another_tenant_gets_404_on_alpha_files(client_for, alice, world, folder):
    upload(alice, folder, "secret.txt", b"alpha only")
    mallory = client_for(world.mallory, world.tenant)
    for path in ("", "/object", "/download", "/preview", "/link"):
        assert mallory.get(f"{FILES}{path}", {"key": f"{folder}secret.txt"}).status_code == 404, path
    assert mallory.delete(f"{FILES}/object?key={folder}secret.txt").status_code == 404
    assert mallory.post(f"{FILES}/folders", {"name": "x"}, content_type="application/json").status_code == 404


def test_an_upload_token_of_alpha_is_refused_on_beta(alice, api_for, world, folder):
    token = start(alice, f"{folder}shared.bin", 10).json()["upload"]
    mallory = api_for(world.mallory, world.other)
    assert put_part(mallory, token, 1, b"0123456789").status_code == 404
    done = mallory.post(
        f"{FILES}/uploads/{token}/complete", {"parts": [{"number": 1, "etag": "x"}]}, format="json"
    )
    assert done.status_code == 404
    assert mallory.delete(f"{FILES}/uploads/{token}").status_code == 404
    assert put_part(alice, token, 1, b"0123456789").status_code == 200  # still alice's on alpha
    assert put_part(alice, token + "x", 1, b"0123456789").status_code == 404


def test_a_viewer_may_read_but_not_upload_or_delete(api_for, alice, world, folder):
    upload(alice, folder, "read-only.txt", b"look")
    carol = api_for(world.carol)
    assert carol.get(FILES, {"prefix": folder}).status_code == 200
    assert downloaded(carol.get(f"{FILES}/download", {"key": f"{folder}read-only.txt"})) == b"look"
    assert upload(carol, folder, "new.txt", b"x").status_code == 403
    assert carol.delete(f"{FILES}/object?key={folder}read-only.txt").status_code == 403
    assert carol.post(f"{FILES}/folders", {"prefix": folder, "name": "x"}, format="json").status_code == 403
    assert start(carol, f"{folder}big.bin", 10).status_code == 403
    names = [entry["name"] for entry in alice.get(FILES, {"prefix": folder}).json()["files"]]
    assert names == ["read-only.txt"]


def fill_quota_but(tenant, room: int) -> None:
    quota = Quota.objects.get(tenant=tenant)
    Bucket.objects.filter(tenant=tenant).update(bytes_used=quota.max_storage_gb * GB - room)


def test_an_upload_over_the_storage_quota_answers_400_and_stores_nothing(alice, world, folder):
    fill_quota_but(world.tenant, room=50)
    response = upload(alice, folder, "too-big.txt", b"x" * 100)
    assert response.status_code == 400 and response.json()["error"]["code"] == "storage_quota"
    assert "Not enough storage" in error_text(response) and "quota" in error_text(response)
    assert alice.get(f"{FILES}/object", {"key": f"{folder}too-big.txt"}).status_code == 404
    assert start(alice, f"{folder}huge.bin", 100).status_code == 400
    assert upload(alice, folder, "fits.txt", b"x" * 50).status_code == 201


def test_two_uploads_racing_for_the_last_free_space_cannot_both_get_it(db, world, folder, django_db_blocker):
    import threading
    from io import BytesIO

    from tenants.services.files import upload_file
    from tenants.services.quotas import QuotaExceeded

    with django_db_blocker.unblock():
        before = Bucket.objects.filter(tenant=world.tenant).values_list("bytes_used", flat=True).get()
    committed(None, lambda: fill_quota_but(world.tenant, room=100))
    start_together, outcomes = threading.Barrier(2), []

    def upload(name: str) -> None:
        start_together.wait()
        try:
            data = BytesIO(b"x" * 60)
            outcomes.append(upload_file(world.tenant, f"{folder}{name}", data, 60, actor=None))
        except QuotaExceeded as refused:
            outcomes.append(refused)

    try:
        racers = [threading.Thread(target=committed, args=(None, lambda n=n: upload(n))) for n in ("a", "b")]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
        assert len(outcomes) == 2 and len(refused) == 1, outcomes
        used = committed(None, lambda: Bucket.objects.get(tenant=world.tenant).bytes_used)
        quota = Quota.objects.get(tenant=world.tenant).max_storage_gb * GB
        assert used == quota - 100 + 60  # the winner's bytes, counted once; nothing left reserved
    finally:
        committed(None, lambda: Bucket.objects.filter(tenant=world.tenant).update(bytes_used=before))


def test_a_multipart_upload_refused_at_completion_leaves_nothing(alice, world, folder, s3_server, buckets):
    token = start(alice, f"{folder}late.bin", 100).json()["upload"]
    part = put_part(alice, token, 1, b"y" * 100).json()
    fill_quota_but(world.tenant, room=10)  # meanwhile, other uploads filled the quota
    response = alice.post(f"{FILES}/uploads/{token}/complete", {"parts": [part]}, format="json")
    assert response.status_code == 400 and "Not enough storage" in error_text(response)
    assert alice.get(f"{FILES}/object", {"key": f"{folder}late.bin"}).status_code == 404
    client = s3_config(s3_server.region).client()
    pending = client.list_multipart_uploads(Bucket=buckets["alpha"].name, Prefix=folder).get("Uploads", [])
    assert pending == []


def test_parts_that_do_not_make_the_file_are_a_400_not_a_storage_failure(alice, folder):
    token = start(alice, f"{folder}parts.bin", 10).json()["upload"]
    part = put_part(alice, token, 1, b"0123456789").json()
    wrong = alice.post(
        f"{FILES}/uploads/{token}/complete", {"parts": [{**part, "etag": '"0000"'}]}, format="json"
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "upload_rejected", wrong.json()
    assert "do not fit together" in error_text(wrong)


def test_a_presigned_link_downloads_the_file(alice, folder):
    upload(alice, folder, "shared.txt", b"for the pipeline")
    link = alice.get(f"{FILES}/link", {"key": f"{folder}shared.txt"}).json()
    assert link["expires_in"] == 3600
    assert httpx.get(link["url"]).content == b"for the pipeline"


def test_a_signed_portal_link_serves_its_file_without_a_session_on_its_own_host_only(
    alice, client_for, world, folder, buckets
):
    upload(alice, folder, "linked.txt", b"linked")
    token = sign_link(buckets["alpha"].name, f"{folder}linked.txt").removeprefix(LINK_PATH)
    response = client_for(None).get(f"{LINK_PATH}{token}")
    assert response.status_code == 200 and downloaded(response) == b"linked"
    assert client_for(None, world.other).get(f"{LINK_PATH}{token}").status_code == 404
    assert client_for(None).get(f"{LINK_PATH}{token[:-2]}xx").status_code == 404
    put_link = sign_link(buckets["alpha"].name, f"{folder}linked.txt", method="PUT").removeprefix(LINK_PATH)
    assert client_for(None).get(f"{LINK_PATH}{put_link}").status_code == 404


def test_the_file_page_renders_for_each_role(client_for, world):
    for user, can_write in ((world.alice, True), (world.bob, True), (world.carol, False)):
        response = client_for(user).get("/files/")
        assert response.status_code == 200, user.email
        body = response.content.decode()
        assert 'id="file-browser"' in body and "js/files.js" in body and 'href="/files/"' in body
        assert ('id="file-input"' in body) is can_write, user.email
        assert f'data-can-write="{str(can_write).lower()}"' in body
        assert "csrftoken" in response.cookies


def test_the_file_page_starts_in_the_folder_of_the_address(client_for, world):
    body = client_for(world.bob).get("/files/", {"prefix": "runs/2024"}).content.decode()
    assert 'data-prefix="runs/2024/"' in body
    body = client_for(world.bob).get("/files/", {"prefix": "../etc"}).content.decode()
    assert 'data-prefix=""' in body


def test_the_local_backend_serves_the_same_api_and_its_links(alice, client_for, world, settings, tmp_path):
    settings.STORAGE_LOCAL_ROOT = tmp_path
    Bucket.objects.filter(tenant=world.tenant).update(backend="local")
    assert alice.post(f"{FILES}/folders", {"name": "runs"}, format="json").status_code == 201
    assert upload(alice, "runs/", "sheet.tsv", b"a\tb\n1\t2\n").status_code == 201
    listing = alice.get(FILES).json()
    assert [entry["prefix"] for entry in listing["folders"]] == ["runs/"]
    assert alice.get(f"{FILES}/preview", {"key": "runs/sheet.tsv"}).json()["rows"] == [["a", "b"], ["1", "2"]]

    url = alice.get(f"{FILES}/link", {"key": "runs/sheet.tsv"}).json()["url"]
    assert url.startswith(f"http://alpha.localhost{LINK_PATH}")
    response = client_for(None).get(url.removeprefix("http://alpha.localhost"))
    assert response.status_code == 200 and downloaded(response) == b"a\tb\n1\t2\n"

    assert alice.delete(f"{FILES}/object?key=runs/sheet.tsv").status_code == 204
    assert alice.delete(f"{FILES}/object?key=runs/").status_code == 204
    assert alice.get(FILES).json() == {"prefix": "", "folders": [], "files": [], "next": None}
