"""Reads from a tenant's HWA engine that cannot stall the portal: every call goes through a short cache
and a circuit breaker, both kept in Django's cache so every process (web, websocket, worker) shares them.

The breaker counts consecutive failures where the engine did not answer (timeouts, connection errors,
5xx). After ``failure_threshold`` of them the engine is not called at all until the cool-down ends; the
caller gets ``HwaEngineDown`` at once, with the time of the next try. After the cool-down one call goes
through: a success closes the breaker, a failure opens it again for another cool-down. A refused password
or an unknown job is an answer, not a failure, and never opens it.

Cache keys are tenant-aware (``django_tenants.cache.make_key`` adds the schema) and carry the connection's
id and version, so an operator's change in the admin starts from a clean slate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache

from jobs.automation.client import HwaClient, HwaError, HwaUnreachable, HwaUpstreamError
from jobs.automation.connections import HwaNotConfigured, client_for_connection, connection_for
from jobs.automation.models import HwaConnection

log = logging.getLogger(__name__)


class HwaEngineDown(HwaError):
    """The breaker is open: the engine is not being called until ``retry_at``."""

    def __init__(self, message: str, *, retry_at: datetime):
        super().__init__(message, status=503)
        self.retry_at = retry_at


@dataclass(frozen=True)
class BreakerState:
    open: bool
    failures: int
    retry_at: datetime | None = None


class Breaker:
    """Consecutive failures and the end of the cool-down, in the shared cache."""

    def __init__(self, connection: HwaConnection, *, clock: Callable[[], float] = time.time):
        self.connection = connection
        self.clock = clock
        prefix = _prefix(connection)
        self.failures_key, self.open_key = f"{prefix}:failures", f"{prefix}:open-until"

    def state(self) -> BreakerState:
        until = cache.get(self.open_key)
        failures = cache.get(self.failures_key) or 0
        if until is not None and self.clock() < until:
            return BreakerState(True, failures, datetime.fromtimestamp(until, UTC))
        return BreakerState(False, failures, datetime.fromtimestamp(until, UTC) if until else None)

    def check(self) -> None:
        state = self.state()
        if state.open and state.retry_at is not None:
            raise HwaEngineDown(down_message(self.connection, state.retry_at), retry_at=state.retry_at)

    def succeeded(self) -> None:
        cache.delete_many([self.failures_key, self.open_key])

    def failed(self) -> None:
        """One more failure; open for the cool-down at the threshold, or at once after a cool-down."""
        keep = self.connection.cooldown_seconds * 10
        cache.add(self.failures_key, 0, keep)
        try:
            failures = cache.incr(self.failures_key)
        except ValueError:  # expired between add and incr
            cache.set(self.failures_key, 1, keep)
            failures = 1
        tripped_before = cache.get(self.open_key) is not None
        if failures >= self.connection.failure_threshold or tripped_before:
            until = self.clock() + self.connection.cooldown_seconds
            cache.set(self.open_key, until, keep)
            cache.set(self.failures_key, 0, keep)
            log.warning(
                "HWA engine of %s is not answering; breaker open until %s",
                self.connection.tenant.slug,
                datetime.fromtimestamp(until, UTC).isoformat(),
            )


def down_message(connection: HwaConnection, retry_at: datetime) -> str:
    return f"The engine {connection.label} is not answering, retrying at {retry_at:%H:%M} UTC."


class Engine:
    """The tenant's engine as the pages and tools read it: cached, behind the breaker."""

    def __init__(self, connection: HwaConnection, client: HwaClient | None = None):
        self.connection = connection
        self.client = client or client_for_connection(connection)
        self.breaker = Breaker(connection)

    def info(self) -> dict[str, Any]:
        return self._read("info", lambda c: c.engine_info())

    def workstations(self) -> list[dict[str, Any]]:
        return self._read("workstations", lambda c: c.workstations())

    def jobs(self, *, job_name: str | None = None, workstation: str | None = None) -> list[dict[str, Any]]:
        return self._read(
            "jobs", lambda c: c.jobs(job_name=job_name, workstation=workstation), job_name, workstation
        )

    def job_streams(self) -> list[dict[str, Any]]:
        return self._read("jobstreams", lambda c: c.job_streams())

    def job(self, job_id: str) -> dict[str, Any]:
        return self._read("job", lambda c: c.job(job_id), job_id)

    def job_log(self, job_id: str) -> str:
        return self._read("joblog", lambda c: c.job_log(job_id), job_id)

    def _read(self, what: str, call: Callable[[HwaClient], Any], *arguments: Any) -> Any:
        key = f"{_prefix(self.connection)}:{what}:{_digest(arguments)}"
        ttl = self.connection.cache_seconds
        if ttl:
            hit = cache.get(key)
            if hit is not None:
                return hit
        self.breaker.check()
        try:
            answer = call(self.client)
        except (HwaUnreachable, HwaUpstreamError) as error:
            if isinstance(error, HwaUnreachable) or (error.status or 500) >= 500:
                self.breaker.failed()
            raise
        self.breaker.succeeded()
        if ttl:
            cache.set(key, answer, ttl)
        return answer


def engine_for(tenant) -> Engine:
    """The tenant's engine; HwaNotConfigured when operators have not set HWA up (or disabled it)."""
    connection = connection_for(tenant)
    if connection is None:
        raise HwaNotConfigured(
            f"No HWA connection is configured for {tenant.name}; an operator sets it up in the admin."
        )
    return Engine(connection)


def _prefix(connection: HwaConnection) -> str:
    version = int(connection.updated.timestamp() * 1000) if connection.updated else 0
    return f"hwa:{connection.tenant.slug}:{connection.pk}:{version}"


def _digest(arguments: tuple) -> str:
    return hashlib.sha256(json.dumps(arguments, default=str).encode()).hexdigest()[:16]
