"""Every tenant gets its bucket at onboarding; what S3 holds is read back from moto's server with boto3."""

import io
import re
from io import StringIO

import boto3
import pytest
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings
from django_tenants.utils import schema_exists

from tenants import services
from tenants.models import AuditEvent, Bucket, Tenant
from tenants.storage import storage_for
from tests.builders import PASSWORD, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(s3_server):
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )


def _exists(s3, name: str) -> bool:
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        return False
    return True


def _lifecycle(s3, name: str) -> dict:
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    by_prefix = {rule["Filter"]["Prefix"]: rule for rule in rules}
    return {
        "worksets": by_prefix["worksets/"]["Expiration"]["Days"],
        "results_ia": [(t["Days"], t["StorageClass"]) for t in by_prefix["results/"]["Transitions"]],
        "noncurrent": by_prefix[""]["NoncurrentVersionExpiration"]["NoncurrentDays"],
    }


def _tags(s3, name: str) -> dict:
    return {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=name)["TagSet"]}


def _own_bucket(s3, name: str) -> str:
    s3.create_bucket(Bucket=name)
    return name


def test_onboarding_creates_a_configured_bucket(world, s3):
    tenant = services.onboard_tenant(
        "Gamma Labs", slug="gamma", owner_email="g@example.com", owner_password=PASSWORD, cost_center="cc-42"
    )
    bucket = Bucket.objects.get(tenant=tenant)
    assert re.fullmatch(r"runyard-gamma-[0-9a-f]{6}", bucket.name)
    assert (bucket.backend, bucket.managed, bucket.region) == ("s3", True, "us-east-1")
    assert s3.get_bucket_versioning(Bucket=bucket.name)["Status"] == "Enabled"
    assert _lifecycle(s3, bucket.name) == {
        "worksets": 90,
        "results_ia": [(30, "STANDARD_IA")],
        "noncurrent": 30,
    }
    assert _tags(s3, bucket.name) == {
        "Customer": "gamma",
        "ManagedBy": "runyard",
        "Environment": settings.BUCKET_ENVIRONMENT_TAG,
        "CostCenter": "cc-42",
    }
    encryption = s3.get_bucket_encryption(Bucket=bucket.name)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket.name)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert AuditEvent.objects.filter(action="bucket.provisioned", target=bucket.name).exists()


def test_the_worlds_tenants_have_their_own_buckets(world, s3):
    names = {Bucket.objects.get(tenant=t).name for t in (world.tenant, world.other)}
    assert len(names) == 2
    assert all(_exists(s3, name) for name in names)


def test_operators_onboard_with_the_admin_form_and_see_the_bucket(operator_client, s3):
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {"name": "Delta", "slug": "delta", "owner_email": "d@example.com", "cost_center": "genomics"},
    )
    assert response.status_code == 302
    bucket = Bucket.objects.get(tenant__slug="delta")
    assert _tags(s3, bucket.name)["CostCenter"] == "genomics"
    page = operator_client.get(f"/admin/tenants/bucket/{bucket.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert bucket.name in content and "STANDARD_IA" in content and "AES256" in content
    tenant_page = operator_client.get(f"/admin/tenants/tenant/{bucket.tenant.pk}/change/")
    assert bucket.name in tenant_page.content.decode()


def test_lifecycle_numbers_edited_by_an_operator_are_applied(operator_client, world, s3):
    bucket = Bucket.objects.get(tenant=make_tenant("sigma"))
    response = operator_client.post(
        f"/admin/tenants/bucket/{bucket.pk}/change/",
        {
            "cost_center": "finance",
            "worksets_expire_days": 14,
            "results_to_ia_days": 60,
            "noncurrent_expire_days": 7,
        },
    )
    assert response.status_code == 302
    assert _lifecycle(s3, bucket.name) == {
        "worksets": 14,
        "results_ia": [(60, "STANDARD_IA")],
        "noncurrent": 7,
    }
    assert _tags(s3, bucket.name)["CostCenter"] == "finance"
    assert AuditEvent.objects.filter(action="bucket.configured", actor=world.operator).exists()


def test_lifecycle_numbers_outside_what_s3_accepts_are_refused(operator_client, world):
    bucket = Bucket.objects.get(tenant=world.tenant)
    response = operator_client.post(
        f"/admin/tenants/bucket/{bucket.pk}/change/",
        {"worksets_expire_days": 0, "results_to_ia_days": 10, "noncurrent_expire_days": 30},
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"worksets_expire_days", "results_to_ia_days"}


def test_an_existing_bucket_is_verified_and_left_as_it_is(world, s3):
    name = _own_bucket(s3, "customer-owned-data")
    tenant = make_tenant_with_bucket("epsilon", name)
    bucket = Bucket.objects.get(tenant=tenant)
    assert (bucket.name, bucket.managed) == (name, False)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)  # never reconfigured
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=name)
    assert s3.list_objects_v2(Bucket=name).get("KeyCount", 0) == 0  # the access probe cleaned up
    assert services.apply_bucket_settings(bucket, actor=None) is False


def make_tenant_with_bucket(slug: str, bucket: str):
    return services.onboard_tenant(
        slug.title(), slug=slug, owner_email=f"o@{slug}.example", owner_password=PASSWORD, bucket=bucket
    )


def test_a_missing_own_bucket_is_refused_and_nothing_is_written(world):
    tenants, users = Tenant.objects.count(), world.alice.__class__.objects.count()
    with pytest.raises(ValidationError) as error:
        make_tenant_with_bucket("zeta", "no-such-customer-bucket")
    assert "does not exist" in error.value.message_dict["bucket"][0]
    assert Tenant.objects.count() == tenants
    assert world.alice.__class__.objects.count() == users
    assert not schema_exists("zeta")


def test_the_admin_form_shows_a_missing_own_bucket_next_to_the_field(operator_client):
    response = operator_client.post(
        "/admin/tenants/tenant/add/",
        {"name": "Eta", "slug": "eta", "owner_email": "e@example.com", "bucket": "absent-bucket"},
    )
    assert response.status_code == 200
    assert "Bucket absent-bucket does not exist" in response.content.decode()
    assert response.context["form"].errors["bucket"]
    assert not Tenant.objects.filter(slug="eta").exists() and not schema_exists("eta")


def test_a_bucket_already_used_by_a_tenant_cannot_be_claimed_again(world):
    taken = Bucket.objects.get(tenant=world.tenant).name
    with pytest.raises(ValidationError) as error:
        make_tenant_with_bucket("theta", taken)
    assert "another tenant" in error.value.message_dict["bucket"][0]


def test_deleting_a_tenant_keeps_its_bucket(world, s3):
    tenant = make_tenant("iota")
    name = Bucket.objects.get(tenant=tenant).name
    services.delete_tenant(tenant, actor=world.operator)
    assert not Tenant.objects.filter(slug="iota").exists() and not schema_exists("iota")
    assert _exists(s3, name)
    event = AuditEvent.objects.get(action="tenant.deleted", target="iota")
    assert event.data == {"bucket": name, "bucket_kept": True}


def test_deleting_a_tenant_with_its_bucket_removes_every_version(world, s3):
    tenant = make_tenant("kappa")
    bucket = Bucket.objects.get(tenant=tenant)
    storage = storage_for(bucket)
    storage.upload("results/a.txt", io.BytesIO(b"one"))
    storage.upload("results/a.txt", io.BytesIO(b"two"))
    storage.delete("results/a.txt")
    out = StringIO()
    call_command("tenant", "delete", "kappa", "--delete-bucket", stdout=out)
    assert f"bucket {bucket.name} deleted" in out.getvalue()
    assert not _exists(s3, bucket.name)
    assert AuditEvent.objects.get(action="tenant.deleted", target="kappa").data["bucket_kept"] is False


def test_a_customers_own_bucket_is_never_deleted(world, s3):
    name = _own_bucket(s3, "customer-owned-keep")
    tenant = make_tenant_with_bucket("lambda", name)
    with pytest.raises(ValidationError):
        services.delete_tenant(tenant, actor=None, delete_bucket=True)
    assert Tenant.objects.filter(slug="lambda").exists() and _exists(s3, name)


def test_the_command_creates_a_tenant_on_an_existing_bucket_with_a_cost_center(world, s3):
    name = _own_bucket(s3, "customer-owned-cli")
    out = StringIO()
    call_command(
        "tenant",
        "create",
        "mu-labs",
        "--name",
        "Mu",
        "--owner",
        "m@example.com",
        "--bucket",
        name,
        stdout=out,
    )
    assert Bucket.objects.get(tenant__slug="mu-labs").name == name
    call_command(
        "tenant", "create", "nu-labs", "--name", "Nu", "--owner", "n@example.com", "--cost-center", "x1"
    )
    assert _tags(s3, Bucket.objects.get(tenant__slug="nu-labs").name)["CostCenter"] == "x1"
    with pytest.raises(CommandError, match="does not exist"):
        call_command(
            "tenant", "create", "xi-labs", "--name", "Xi", "--owner", "x@example.com", "--bucket", "nope"
        )


def test_measuring_a_bucket_stores_what_it_holds(world):
    tenant = make_tenant("omicron")
    bucket = Bucket.objects.get(tenant=tenant)
    storage = storage_for(bucket)
    storage.upload("a.txt", io.BytesIO(b"12345"))
    storage.upload("b/c.txt", io.BytesIO(b"123"))
    usage = services.measure_bucket(bucket)
    bucket.refresh_from_db()
    assert (usage.bytes, usage.objects) == (8, 2)
    assert (bucket.bytes_used, bucket.object_count) == (8, 2) and bucket.measured_at is not None


def test_operators_restore_a_deleted_file(operator_client, world):
    tenant = make_tenant("pi-labs")
    bucket = Bucket.objects.get(tenant=tenant)
    storage = storage_for(bucket)
    storage.upload("results/report.html", io.BytesIO(b"<h1>report</h1>"))
    storage.delete("results/report.html")
    page = operator_client.get(f"/admin/tenants/bucket/{bucket.pk}/deleted/")
    assert page.status_code == 200 and "results/report.html" in page.content.decode()
    response = operator_client.post(
        f"/admin/tenants/bucket/{bucket.pk}/deleted/", {"key": "results/report.html"}
    )
    assert response.status_code == 302
    assert storage.head("results/report.html").size == 15
    assert AuditEvent.objects.filter(action="file.restored", target="results/report.html").exists()
    assert (
        "No deleted files"
        in operator_client.get(f"/admin/tenants/bucket/{bucket.pk}/deleted/").content.decode()
    )


def test_customers_cannot_reach_the_bucket_admin(client, world):
    bucket = Bucket.objects.get(tenant=world.tenant)
    client.force_login(world.alice, backend="django.contrib.auth.backends.ModelBackend")
    for url in (f"/admin/tenants/bucket/{bucket.pk}/change/", f"/admin/tenants/bucket/{bucket.pk}/deleted/"):
        response = client.get(url, HTTP_HOST="localhost")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


@pytest.mark.parametrize(
    ("prefix", "slug"),
    [("runyard", "alpha"), ("runyard", "a" * 40), ("Acme_Corp!", "x-y"), ("", "abc")],
)
def test_bucket_names_are_valid_for_s3(prefix, slug):
    with override_settings(BUCKET_PREFIX=prefix):
        name = services.bucket_name_for(slug)
    assert 3 <= len(name) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name) and "--" not in name
    assert name != services.bucket_name_for(slug)


def test_the_local_backend_provisions_a_directory(world, tmp_path):
    with override_settings(STORAGE_BACKEND="local", STORAGE_LOCAL_ROOT=tmp_path):
        tenant = make_tenant("rho")
        bucket = Bucket.objects.get(tenant=tenant)
        assert bucket.backend == "local" and (tmp_path / bucket.name / "files").is_dir()
        storage_for(bucket).upload("x.txt", io.BytesIO(b"x"))
        services.delete_tenant(tenant, actor=None, delete_bucket=True)
    assert not (tmp_path / bucket.name).exists()


def test_a_tenant_with_a_draft_invoice_is_deleted_but_one_with_an_issued_invoice_is_kept(world, s3):
    from datetime import date

    from tenants.models import Invoice
    from tenants.services.billing import issue_invoice, refresh_draft_invoice

    drafted = make_tenant("lambda")
    refresh_draft_invoice(drafted, date(2024, 3, 1))
    services.delete_tenant(drafted, actor=world.operator)
    assert not Tenant.objects.filter(slug="lambda").exists()

    billed = make_tenant("omicron")
    issue_invoice(refresh_draft_invoice(billed, date(2024, 3, 1)), actor=None, today=date(2024, 4, 2))
    with pytest.raises(ValidationError) as error:
        services.delete_tenant(billed, actor=world.operator)
    assert "suspend it instead" in error.value.message_dict["__all__"][0]
    assert (
        Tenant.objects.filter(slug="omicron").exists() and Invoice.objects.filter(tenant=billed).count() == 1
    )
