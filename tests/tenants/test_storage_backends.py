"""One contract for every storage backend: S3 (boto3 against moto's server over HTTP) and a local directory.

The same tests run on both, so the file browser, the metering and the admin can treat them alike.
"""

import io
import uuid

import httpx
import pytest
from django.core import signing

from tenants.storage import InvalidKey, ObjectNotFound, StorageError, UploadGone, UploadRejected, clean_key
from tenants.storage.links import read_link, sign_link
from tenants.storage.local import LocalStorage
from tenants.storage.s3 import Lifecycle, S3Config, S3Storage, configure_bucket, create_bucket

MIB = 1024 * 1024


def _s3_storage(server) -> S3Storage:
    config = S3Config(server.endpoint_url, server.region, server.access_key_id, server.secret_access_key)
    name = f"contract-{uuid.uuid4().hex[:12]}"
    create_bucket(name, server.region, config=config)
    configure_bucket(name, config=config, lifecycle=Lifecycle(), tags={"ManagedBy": "runyard"})
    return S3Storage(name, config)


@pytest.fixture(params=["s3", "local"])
def storage(request, tmp_path):
    if request.param == "s3":
        return _s3_storage(request.getfixturevalue("s3_server"))
    local = LocalStorage(f"contract-{uuid.uuid4().hex[:12]}", tmp_path)
    local.create()
    return local


def put(storage, key: str, data: bytes = b"x"):
    return storage.upload(key, io.BytesIO(data))


def test_a_prefix_pages_through_folders_and_files_in_key_order(storage):
    for name in ("b.txt", "a.txt", "c.txt", "d.txt"):
        put(storage, f"runs/{name}")
    put(storage, "runs/sub/deep.txt")
    put(storage, "runs/empty/", b"")
    put(storage, "other.txt")
    keys, token, pages = [], None, 0
    while True:
        page = storage.list("runs/", token=token, limit=2)
        keys += page.folders + [info.key for info in page.objects]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert sorted(keys) == sorted(
        ["runs/a.txt", "runs/b.txt", "runs/c.txt", "runs/d.txt", "runs/empty/", "runs/sub/"]
    )
    assert pages == 3
    root = storage.list("")
    assert root.folders == ["runs/"] and [o.key for o in root.objects] == ["other.txt"]


def test_objects_within_a_page_come_in_key_order(storage):
    for name in ("b", "a-1", "a.txt", "c"):
        put(storage, f"p/{name}")
    page = storage.list("p/")
    assert [o.key for o in page.objects] == ["p/a-1", "p/a.txt", "p/b", "p/c"]
    assert page.next_token is None


def test_an_empty_folder_marker_is_a_folder_not_a_file(storage):
    put(storage, "inputs/", b"")
    assert storage.list("").folders == ["inputs/"]
    listing = storage.list("inputs/")
    assert listing.folders == [] and listing.objects == []
    assert storage.usage().objects == 0


def test_head_reports_size_and_a_missing_key_is_not_found(storage):
    put(storage, "sample.csv", b"a,b\n1,2\n")
    info = storage.head("sample.csv")
    assert info.size == 8 and info.key == "sample.csv" and info.content_type
    with pytest.raises(ObjectNotFound):
        storage.head("missing.csv")


def test_an_upload_replaces_the_object_as_a_whole(storage):
    put(storage, "a.txt", b"first version")
    put(storage, "a.txt", b"second")
    assert b"".join(storage.download("a.txt")) == b"second"


def test_multipart_upload_joins_parts_in_order(storage):
    first, second, last = b"a" * (5 * MIB), b"b" * (5 * MIB), b"tail"
    upload_id = storage.start_multipart("big/genome.fa", content_type="text/plain")
    etags = [
        (number, storage.upload_part("big/genome.fa", upload_id, number, data))
        for number, data in ((1, first), (2, second), (3, last))
    ]
    info = storage.complete_multipart("big/genome.fa", upload_id, etags)
    assert info.size == 10 * MIB + 4
    assert b"".join(storage.download("big/genome.fa")) == first + second + last
    assert storage.list("big/").objects[0].key == "big/genome.fa"


def test_an_aborted_multipart_upload_leaves_nothing(storage):
    upload_id = storage.start_multipart("gone.bin")
    storage.upload_part("gone.bin", upload_id, 1, b"data")
    storage.abort_multipart("gone.bin", upload_id)
    assert storage.list("").objects == []
    assert storage.usage().objects == 0
    with pytest.raises(StorageError):
        storage.complete_multipart("gone.bin", upload_id, [(1, "x")])


def test_parts_that_do_not_make_the_file_are_rejected_as_the_clients_mistake(storage):
    upload_id = storage.start_multipart("parts.bin")
    storage.upload_part("parts.bin", upload_id, 1, b"data")
    with pytest.raises(UploadRejected):
        storage.complete_multipart("parts.bin", upload_id, [(1, '"0000"')])


def test_completing_an_aborted_upload_says_it_is_gone(tmp_path):
    """On the local backend; S3 answers NoSuchUpload (mapped the same way), moto 5.2 a bare 500."""
    local = LocalStorage(f"contract-{uuid.uuid4().hex[:12]}", tmp_path)
    local.create()
    upload_id = local.start_multipart("gone.bin")
    local.abort_multipart("gone.bin", upload_id)
    with pytest.raises(UploadGone, match="does not exist"):
        local.complete_multipart("gone.bin", upload_id, [(1, "x")])


def test_download_streams_in_chunks(storage):
    put(storage, "reads.fastq", b"0123456789" * 10)
    chunks = list(storage.download("reads.fastq", chunk_size=30))
    assert len(chunks) >= 4 and b"".join(chunks) == b"0123456789" * 10


def test_downloading_a_missing_key_fails_before_any_byte(storage):
    with pytest.raises(ObjectNotFound):
        storage.download("nothing-here")


def test_delete_can_be_undone_by_restore(storage):
    put(storage, "results/report.html", b"<h1>done</h1>")
    put(storage, "results/keep.txt")
    storage.delete("results/report.html")
    with pytest.raises(ObjectNotFound):
        storage.head("results/report.html")
    deleted = storage.list_deleted("results/")
    assert [(d.key, d.size) for d in deleted] == [("results/report.html", 13)]
    assert deleted[0].version_id
    storage.restore("results/report.html")
    assert b"".join(storage.download("results/report.html")) == b"<h1>done</h1>"
    assert storage.list_deleted() == []


def test_restoring_a_key_that_was_never_deleted_is_not_found(storage):
    put(storage, "here.txt")
    with pytest.raises(ObjectNotFound):
        storage.restore("here.txt")
    with pytest.raises(ObjectNotFound):
        storage.restore("never.txt")


def test_deleting_the_last_file_of_a_folder_empties_it(storage):
    put(storage, "tmp/only.txt")
    storage.delete("tmp/only.txt")
    assert storage.list("tmp/").objects == []
    if isinstance(storage, LocalStorage):
        # AWS, MinIO and Ceph drop the folder too; moto 5.2 still lists a prefix whose only
        # object carries a delete marker, so this part is checked on the local backend only.
        assert storage.list("").folders == []


def test_usage_counts_current_objects_only(storage):
    put(storage, "a/1.bin", b"1" * 100)
    put(storage, "a/b/2.bin", b"2" * 50)
    put(storage, "gone.bin", b"3" * 1000)
    storage.delete("gone.bin")
    upload_id = storage.start_multipart("pending.bin")
    storage.upload_part("pending.bin", upload_id, 1, b"4" * 10)
    usage = storage.usage()
    assert (usage.bytes, usage.objects) == (150, 2)


def test_a_presigned_s3_url_downloads_the_object(s3_server):
    storage = _s3_storage(s3_server)
    put(storage, "shared/report.txt", b"hello")
    url = storage.presigned_url("shared/report.txt", expires=60)
    assert "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    assert httpx.get(url).content == b"hello"


def test_a_presigned_s3_put_url_uploads_the_object(s3_server):
    storage = _s3_storage(s3_server)
    url = storage.presigned_url("incoming/data.txt", method="PUT")
    assert httpx.put(url, content=b"uploaded").status_code == 200
    assert b"".join(storage.download("incoming/data.txt")) == b"uploaded"


def test_a_local_link_names_one_key_and_method(tmp_path):
    storage = LocalStorage("links", tmp_path)
    path = storage.presigned_url("results/a b.txt", method="PUT", expires=60)
    assert path.startswith("/files/link/")
    assert read_link(path.removeprefix("/files/link/")) == ("links", "results/a b.txt", "PUT")


def test_a_local_link_expires():
    token = sign_link("links", "a.txt", "GET", expires=-1).removeprefix("/files/link/")
    with pytest.raises(signing.SignatureExpired):
        read_link(token)


def test_a_tampered_local_link_is_refused():
    token = sign_link("links", "a.txt", "GET", expires=60).removeprefix("/files/link/")
    forged = signing.dumps({"b": "other", "k": "a.txt", "m": "GET", "e": 2**40}, salt="another-salt")
    for bad in (token[:-2] + "xx", forged, "not-a-token"):
        with pytest.raises(signing.BadSignature):
            read_link(bad)


def test_s3_errors_are_translated_for_people(s3_server):
    config = S3Config(
        s3_server.endpoint_url, s3_server.region, s3_server.access_key_id, s3_server.secret_access_key
    )
    storage = S3Storage("no-such-bucket-here", config)
    with pytest.raises(StorageError, match="Bucket no-such-bucket-here does not exist"):
        storage.list("")


def test_a_local_key_cannot_be_both_a_file_and_a_folder(tmp_path):
    storage = LocalStorage("clash", tmp_path)
    put(storage, "a")
    with pytest.raises(StorageError):
        put(storage, "a/b")


@pytest.mark.parametrize(
    "raw",
    [
        "..",
        "../etc/passwd",
        "a/../../b",
        "/abs/path",
        "s3://other/x",
        "arn:aws:s3:::other/x",
        "https://example.com/x",
        "%2e%2e/x",
        "..%2fx",
        "%252e%252e/x",
        "a\\..\\b",
        "a\\b",
        "nul\x00byte",
        "./a",
        "",
    ],
)
def test_clean_key_refuses_escapes(raw):
    with pytest.raises(InvalidKey):
        clean_key(raw)


@pytest.mark.parametrize(
    ("raw", "kwargs", "clean"),
    [
        ("a//b///c.txt", {}, "a/b/c.txt"),
        ("  runs/x.txt  ", {}, "runs/x.txt"),
        ("Cafe\u0301.txt", {}, "Café.txt"),
        ("inputs", {"folder": True}, "inputs/"),
        ("inputs//", {"folder": True}, "inputs/"),
        ("", {"folder": True, "allow_empty": True}, ""),
        ("100%.txt", {}, "100%.txt"),
    ],
)
def test_clean_key_normalises(raw, kwargs, clean):
    assert clean_key(raw, **kwargs) == clean


def test_clean_key_refuses_a_file_key_ending_in_a_slash_and_overlong_keys():
    with pytest.raises(InvalidKey):
        clean_key("folder/")
    with pytest.raises(InvalidKey):
        clean_key("a" * 1025)
