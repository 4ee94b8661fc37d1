"""Liveness and readiness: ``/healthz`` says the process answers, ``/readyz`` checks each dependency."""

import os
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

CHECK_TIMEOUT_SECONDS = 3


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_channel_layer() -> None:
    layer = get_channel_layer()
    channel = f"readyz.{uuid.uuid4().hex}"

    async def roundtrip():
        import asyncio

        await layer.send(channel, {"type": "readyz"})
        await asyncio.wait_for(layer.receive(channel), CHECK_TIMEOUT_SECONDS)

    async_to_sync(roundtrip)()


def check_broker() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        # retried at once (kombu waits 2 s before a retry by default, and a probe must answer quickly)
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT_SECONDS)


def check_storage() -> None:
    """S3: one cheap signed call against the endpoint, no retries (a tenant's bucket when there is one,
    else the bucket listing). Local storage: the directory is there and writable."""
    from django.conf import settings

    if settings.STORAGE_BACKEND != "s3":
        root = settings.STORAGE_LOCAL_ROOT
        if not (root.is_dir() and os.access(root, os.W_OK)):
            raise RuntimeError(f"the storage directory {root} is missing or not writable")
        return
    from tenants.storage import s3_config

    client = s3_config().client(probe_seconds=CHECK_TIMEOUT_SECONDS)  # one short attempt: never hang
    bucket = _known_bucket()
    if bucket:
        client.head_bucket(Bucket=bucket)
    else:
        client.list_buckets()


def _known_bucket() -> str | None:
    from tenants.models import Bucket

    return Bucket.objects.filter(backend="s3").order_by("pk").values_list("name", flat=True).first()


def check_slurm() -> None:
    """The Slurm controller answers ``scontrol ping`` (only asked when an enabled Slurm cluster exists)."""
    from jobs.backends.slurm import SlurmBackend

    ping = SlurmBackend().command("scontrol", "ping", timeout=CHECK_TIMEOUT_SECONDS)
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        answer = (ping.stdout + ping.stderr).strip().splitlines()
        raise RuntimeError(
            f"the Slurm controller does not answer: {answer[0] if answer else ping.returncode}"
        )


def slurm_configured() -> bool:
    from jobs.catalog.models import Cluster

    return Cluster.objects.enabled().filter(backend=Cluster.Backend.SLURM).exists()


CHECKS = {
    "database": check_database,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
    "storage": check_storage,
}


def active_checks() -> dict:
    """Every check, plus Slurm when a Slurm cluster is enabled (a failing database fails its own check)."""
    try:
        with_slurm = slurm_configured()
    except Exception:  # noqa: BLE001 - the database check reports the cause
        with_slurm = False
    return {**CHECKS, "slurm": check_slurm} if with_slurm else CHECKS


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in active_checks().items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as error:  # noqa: BLE001 - any failure makes the dependency not ready
            results[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
        results[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = run_checks()
    ready = all(result["ok"] for result in checks.values())
    return JsonResponse({"status": "ok" if ready else "fail", "checks": checks}, status=200 if ready else 503)
