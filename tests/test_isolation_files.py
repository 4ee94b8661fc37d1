"""Files across tenants: from her own host, with keys that name alpha's bucket or folders every way we know,
mallory lists, previews, downloads, links and writes nothing of alpha's; alice cannot reach beta's bucket
the same way. Links (presigned S3 URLs, the portal's signed links) name one bucket and key of their own
tenant, and are worthless on another host.

The walker (``test_isolation``) already sends mallory's requests to alpha's host with alpha's keys; these
tests aim at the other door: a tenant's own file API asked for another tenant's objects.
"""

from dataclasses import dataclass
from io import BytesIO
from urllib.parse import unquote, urlsplit
from uuid import uuid4

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from tenants.models import Bucket
from tenants.services.files import upload_file
from tenants.storage.links import LINK_PATH, sign_link
from tests.isolation_targets import bucket_fingerprint, changed, delete_prefix

FILES = "/api/v1/files"
READERS = ("/object", "/download", "/preview", "/link")


@dataclass(frozen=True)
class Side:
    """One tenant's secret file, and what its bucket holds."""

    tenant: object
    bucket: Bucket
    folder: str
    key: str
    data: bytes


def _put_secret(tenant, actor) -> Side:
    folder = f"secret-{uuid4().hex[:8]}/"
    data = f"{tenant.slug} only {uuid4().hex}\n".encode()
    with tenant_context(tenant):
        upload_file(tenant, f"{folder}sheet.csv", BytesIO(data), len(data), actor=actor)
    return Side(tenant, Bucket.objects.get(tenant=tenant), folder, f"{folder}sheet.csv", data)


@pytest.fixture
def alpha(db, world):
    side = _put_secret(world.tenant, world.alice)
    yield side
    delete_prefix(side.bucket, side.folder)


@pytest.fixture
def beta(db, world):
    side = _put_secret(world.other, world.mallory)
    yield side
    delete_prefix(side.bucket, side.folder)


def crafted(target: Side) -> list[str]:
    """Keys and folders that try to name ``target``'s object from another tenant's file API."""
    bucket, key, folder = target.bucket.name, target.key, target.folder
    return [
        key,  # the same key: it names the asker's own bucket, where there is no such object
        f"{bucket}/{key}",
        f"../{bucket}/{key}",
        f"{folder}../../{bucket}/{key}",
        f"%2e%2e/{bucket}/{key}",
        f"s3://{bucket}/{key}",
        f"arn:aws:s3:::{bucket}/{key}",
        f"https://{bucket}.s3.amazonaws.com/{key}",
    ]


def assert_reaches_nothing(client, target: Side):
    """Every reader and the listing, with every crafted key: 400 or 404, and no byte or key of ``target``."""
    for raw in crafted(target):
        for reader in READERS:
            response = client.get(f"{FILES}{reader}", {"key": raw})
            assert response.status_code in (400, 404), (reader, raw, response.status_code)
            assert target.data not in response.content, (reader, raw)
        folder = raw.rsplit("/", 1)[0] + "/"
        listing = client.get(FILES, {"prefix": folder})
        assert listing.status_code in (200, 400), (folder, listing.status_code)
        if listing.status_code == 200:  # a folder of the asker's own bucket, empty here
            assert listing.json()["files"] == [] and listing.json()["folders"] == [], folder


def test_mallorys_file_api_cannot_read_alphas_bucket_by_any_key(world, api_for, alpha):
    assert_reaches_nothing(api_for(world.mallory, world.other), alpha)


def test_alices_file_api_cannot_read_betas_bucket_by_any_key(world, api_for, beta):
    assert_reaches_nothing(api_for(world.alice, world.tenant), beta)


def test_mallory_writes_nothing_into_alphas_bucket_by_any_key(world, api_for, alpha):
    """Her writes with those keys are refused (400) or land in her own bucket (201: a folder of hers named
    like alpha's bucket or folder, removed afterwards); alpha's bucket is unchanged."""
    mallory = api_for(world.mallory, world.other)
    before = bucket_fingerprint(alpha.bucket)
    try:
        for raw in crafted(alpha):
            folder = raw.rsplit("/", 1)[0]
            upload = {"prefix": folder, "file": SimpleUploadedFile("x.csv", b"x")}
            statuses = [
                mallory.post(f"{FILES}/upload", upload, format="multipart").status_code,
                mallory.post(f"{FILES}/folders", {"prefix": folder, "name": "x"}, format="json").status_code,
                mallory.post(f"{FILES}/uploads", {"key": raw, "size": 10}, format="json").status_code,
            ]
            assert set(statuses) <= {201, 400}, (raw, statuses)
            assert mallory.delete(f"{FILES}/object?key={raw}").status_code in (400, 404), raw
        assert changed(before, bucket_fingerprint(alpha.bucket)) == []
    finally:
        beta = Bucket.objects.get(tenant=world.other)
        for prefix in (alpha.folder, f"{alpha.bucket.name}/"):
            delete_prefix(beta, prefix)


def test_a_presigned_link_names_its_own_tenants_bucket_and_key_only(world, api_for, alpha, beta):
    """moto does not check signatures, so this checks the URLs Runyard issues: alpha's link names alpha's
    bucket and that one key, signed; mallory's links, whatever key she asks for, never name alpha's bucket."""
    url = api_for(world.alice).get(f"{FILES}/link", {"key": alpha.key}).json()["url"]
    parts = urlsplit(url)
    assert unquote(parts.path) in (f"/{alpha.bucket.name}/{alpha.key}", f"/{alpha.key}")
    assert alpha.bucket.name in parts.netloc + parts.path
    assert "X-Amz-Signature=" in parts.query and "X-Amz-Expires=3600" in parts.query
    mallory = api_for(world.mallory, world.other)
    own = mallory.get(f"{FILES}/link", {"key": beta.key}).json()["url"]
    assert beta.bucket.name in own and alpha.bucket.name not in own
    for raw in crafted(alpha):
        response = mallory.get(f"{FILES}/link", {"key": raw})
        assert response.status_code in (400, 404) and alpha.bucket.name not in response.content.decode(), raw


def test_a_signed_portal_link_serves_only_its_own_tenants_bucket(world, client_for, settings, tmp_path):
    """The local backend's links (``/files/link/<token>``) carry the bucket they were signed for: a link of
    beta's bucket is refused on alpha's host and the reverse, and even a validly signed link whose key
    climbs out of the bucket serves nothing."""
    settings.STORAGE_LOCAL_ROOT = tmp_path
    Bucket.objects.filter(tenant__in=[world.tenant, world.other]).update(backend="local")
    alpha, beta = _put_secret(world.tenant, world.alice), _put_secret(world.other, world.mallory)

    def fetch(tenant, bucket: Side, key: str):
        token = sign_link(bucket.bucket.name, key).removeprefix(LINK_PATH)
        return client_for(None, tenant).get(f"{LINK_PATH}{token}")

    assert b"".join(fetch(world.tenant, alpha, alpha.key).streaming_content) == alpha.data  # the control
    assert fetch(world.other, alpha, alpha.key).status_code == 404
    assert fetch(world.tenant, beta, beta.key).status_code == 404
    assert fetch(world.other, beta, f"../{alpha.bucket.name}/files/{alpha.key}").status_code == 404
    assert fetch(world.other, beta, f"../../{alpha.bucket.name}/files/{alpha.key}").status_code == 404
    assert fetch(world.other, beta, alpha.key).status_code == 404  # the same key in beta's bucket: none


def test_mallorys_worksets_cannot_point_at_alphas_objects(world, api_for, alpha):
    """A spec's inputs and the generator's FASTQ search take keys too: alpha's bucket is refused by name,
    alpha's keys are looked for in beta's bucket (and not found there)."""
    from tests.builders import workset_spec

    mallory = api_for(world.mallory, world.other)
    for prefix in (f"s3://{alpha.bucket.name}/{alpha.folder}", f"../{alpha.bucket.name}/{alpha.folder}"):
        response = mallory.get("/api/v1/worksets/discover", {"prefix": prefix})
        assert response.status_code == 400 and alpha.key not in response.content.decode(), prefix
    sample = {"sample_id": "S1", "fastq_r1": f"s3://{alpha.bucket.name}/{alpha.key}", "fastq_r2": alpha.key}
    report = mallory.post("/api/v1/worksets/validate", workset_spec(samples=[sample]), format="json").json()
    problems = {problem["field"]: problem["code"] for problem in report["problems"]}
    assert problems == {
        "samples[0].fastq_r1": "WS-CFG-005",
        "samples[0].fastq_r2": "WS-CFG-004",
    }  # outside, absent
