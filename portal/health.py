"""Liveness and readiness: ``/healthz`` says the process answers, ``/readyz`` checks each dependency."""

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
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


CHECKS = {"database": check_database, "channel_layer": check_channel_layer, "broker": check_broker}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
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
