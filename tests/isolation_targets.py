"""What mallory aims at in the isolation tests: one real thing of each kind in alpha (a workset, a parsed
profile, a notification channel and delivery, a conversation, a knowledge document, cost data, an ingest, an
invoice, a token, a membership, a file and an upload in alpha's bucket), and a fingerprint of everything
alpha holds, to prove that nothing she sends changes any of it.

The fingerprint enumerates the models itself: every model of the tenant apps (rows of alpha's schema) and
every public model with a foreign key or one-to-one link to the tenant (alpha's rows), so a new model is
covered the day it is added.
"""

from __future__ import annotations

import hashlib
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from io import BytesIO

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone
from django_tenants.utils import get_tenant_model, tenant_context

from tenants.storage import s3_config
from tests.builders import make_token, make_workset

# A word that appears only in alpha's names and contents: an answer to mallory that holds it leaks.
MARK = "zanzibarite"
# Tables whose rows the walker's own requests write by design, not alpha's data: none so far.
VOLATILE: set[str] = set()
# A profile waiting to be parsed (parsing one costs seconds): enough to be found, refused, or claimed.
PROFILE = f"events: Ir\nfn=main\n1 {len(MARK)}\n".encode()


@dataclass
class AlphaThings:
    workset: object
    profile: object
    channel: object
    delivery: object
    conversation: object
    document: object
    ingest: object
    team: object
    gpu_job: object
    rate: object
    invoice: object
    token_code: str
    membership: object
    bucket: object
    folder: str
    file_key: str
    file_bytes: bytes
    upload_token: str
    secrets: set[str] = field(default_factory=set)

    @property
    def rate_key(self) -> str:
        return f"{self.rate.day}/{self.rate.provider}/{self.rate.gpu_type}"


@contextmanager
def made_alpha_things(world):
    """Alpha's things for one test; the objects they put in alpha's bucket are deleted afterwards (the
    database rolls back, the bucket does not)."""
    things = make_alpha_things(world)
    try:
        yield things
    finally:
        for prefix in (things.folder, things.profile.raw_key):
            delete_prefix(things.bucket, prefix)


def delete_prefix(bucket, prefix: str) -> None:
    """Every object, version and unfinished upload under ``prefix`` of the tenant's bucket, gone."""
    client = s3_config(bucket.region).client()
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket.name, Prefix=prefix):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=bucket.name, Key=entry["Key"], VersionId=entry["VersionId"])
    for upload in client.list_multipart_uploads(Bucket=bucket.name, Prefix=prefix).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket.name, Key=upload["Key"], UploadId=upload["UploadId"])


def make_alpha_things(world) -> AlphaThings:
    """Alpha's things, made by alice inside the test's transaction (use ``made_alpha_things``, which also
    deletes what they put in alpha's bucket)."""
    from analysis.models import CostIngest, GpuJob, RateSnapshot, Team
    from analysis.rollups import rebuild_rollups
    from analysis.services.profiles import create_profile
    from chat.knowledge.services import add_document
    from chat.services import start_conversation
    from jobs.notifications.models import Channel, Delivery
    from tenants.models import ApiToken, Bucket, Membership
    from tenants.services.billing import current_draft
    from tenants.services.files import start_upload, upload_file

    alpha, alice = world.tenant, world.alice
    folder = f"{MARK}-{uuid.uuid4().hex[:8]}/"
    file_bytes = f"{MARK} alpha's confidential sheet\n".encode()
    with tenant_context(alpha):
        workset = make_workset(alpha, actor=alice, name=f"{MARK} batch")
        profile = create_profile(
            name=f"{MARK} run",
            filename="callgrind.out.1",
            data=BytesIO(PROFILE),
            size=len(PROFILE),
            actor=alice,
        )
        channel = Channel.objects.create(kind="webhook", name=f"{MARK} hook", url="http://127.0.0.1:9/hook")
        delivery = Delivery.objects.create(
            channel=channel, kind="webhook", target=channel.name, event="failed", workset_code=workset.code
        )
        conversation = start_conversation(actor=alice, title=f"{MARK} talk")
        text = f"# {MARK} runbook\n\nRestore the {MARK} bucket from its versions.\n".encode()
        document = add_document(title=f"{MARK} runbook", filename="runbook.md", data=text, actor=alice)
        team = Team.objects.create(name=f"{MARK}-team", description="")
        yesterday = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        gpu_job = GpuJob.objects.create(
            job_id=f"{MARK}-job-1",
            team=team,
            model_name=f"{MARK}-model",
            provider="aws",
            gpu_type="a100",
            gpu_count=1,
            start_time=yesterday,
            end_time=yesterday + timedelta(hours=2),
            status="completed",
        )
        rate = RateSnapshot.objects.create(
            day=yesterday.date(), provider="aws", gpu_type="a100", usd_per_gpu_hour=3
        )
        rebuild_rollups()  # the cost answers read the rollups
        ingest = CostIngest.objects.create(
            kind="jobs", filename=f"{MARK}.json", format="json", raw_key=f"{folder}{MARK}.json", size=2
        )
        upload_file(alpha, f"{folder}sheet.csv", BytesIO(file_bytes), len(file_bytes), actor=alice)
        upload_token = start_upload(alpha, f"{folder}big.bin", 10, actor=alice)
    make_token(alice, alpha, name=f"{MARK} token")
    things = AlphaThings(
        workset=workset,
        profile=profile,
        channel=channel,
        delivery=delivery,
        conversation=conversation,
        document=document,
        ingest=ingest,
        team=team,
        gpu_job=gpu_job,
        rate=rate,
        invoice=current_draft(alpha, date.today()),
        token_code=str(ApiToken.objects.filter(tenant=alpha, name=f"{MARK} token").get().code),
        membership=Membership.objects.get(user=world.bob, tenant=alpha),
        bucket=Bucket.objects.get(tenant=alpha),
        folder=folder,
        file_key=f"{folder}sheet.csv",
        file_bytes=file_bytes,
        upload_token=upload_token,
    )
    things.secrets = {
        MARK,
        "confidential sheet",
        workset.name,
        profile.name,
        channel.name,
        conversation.title,
        document.title,
        team.name,
        gpu_job.job_id,
        gpu_job.model_name,
        things.file_key,
        workset.code,
        things.profile.code,
        str(channel.code),
        str(delivery.code),
        str(conversation.code),
        str(document.code),
        ingest.code,
        things.bucket.name,
        things.token_code,
        str(things.membership.code),
    }
    return things


# --- the fingerprint ---


def _tenant_models() -> list[type[models.Model]]:
    shared = set(settings.SHARED_APPS)
    found = []
    for name in settings.TENANT_APPS:
        if name in shared and name != "chat.knowledge":  # contenttypes: the same in every schema
            continue
        config = next(c for c in apps.get_app_configs() if c.name == name)
        found += [m for m in config.get_models() if not m._meta.proxy and m._meta.label not in VOLATILE]
    return found


def _public_models() -> list[tuple[type[models.Model], str]]:
    """(model, field) of every public model that names a tenant."""
    tenant_model = get_tenant_model()
    tenant_apps = {c.label for c in apps.get_app_configs() if c.name in settings.TENANT_APPS}
    found = []
    for model in apps.get_models():
        if model._meta.app_label in tenant_apps - {"knowledge", "contenttypes"} or model._meta.proxy:
            continue
        for f in model._meta.get_fields():
            if (
                getattr(f, "related_model", None) is tenant_model
                and f.concrete
                and (f.many_to_one or f.one_to_one)
            ):
                found.append((model, f.name))
    return found


def _digest(queryset) -> str:
    rows = [repr(row) for row in queryset.order_by("pk").values_list()]
    return f"{len(rows)} rows {hashlib.sha256(chr(10).join(rows).encode()).hexdigest()[:12]}"


def fingerprint(tenant) -> dict[str, str]:
    """Every row alpha holds, as {table: "n rows <hash>"}: in its schema, and its rows of public tables."""
    prints = {}
    with tenant_context(tenant):
        for model in _tenant_models():
            prints[f"{tenant.schema_name}.{model._meta.label}"] = _digest(model.objects.all())
    for model, name in _public_models():
        prints[f"public.{model._meta.label}"] = _digest(model.objects.filter(**{name: tenant}))
    return prints


def bucket_fingerprint(bucket) -> dict[str, str]:
    """Every object (and version) in the tenant's bucket: key → etag."""
    client = s3_config(bucket.region).client()
    found = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket.name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found[f"{entry['Key']}@{entry['VersionId']}"] = entry.get("ETag", "deleted")
    return found


def changed(before: dict, after: dict) -> list[str]:
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
