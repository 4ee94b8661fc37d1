"""The engine as the portal reads it: a short, tenant-aware cache, and a circuit breaker in the shared cache
that stops calling an engine that keeps failing and says when it will try again."""

import pytest
from django_tenants.utils import tenant_context

from jobs.automation.client import HwaAuthError, HwaUnreachable, HwaUpstreamError
from jobs.automation.engine import Breaker, Engine, HwaEngineDown, engine_for
from tests.automation.conftest import connect
from tests.hwa_server import HwaServer

pytestmark = pytest.mark.django_db


def job_queries(server) -> int:
    return sum(1 for _, path, _ in server.requests if path == "/twsd/plan/current/job/query")


def test_answers_are_reused_for_the_cache_time_only(world, server):
    connection = connect(world.tenant, server, cache_seconds=30)
    with tenant_context(world.tenant):
        engine = engine_for(world.tenant)
        first, again = engine.jobs(), engine.jobs()
        engine.jobs(job_name="PAYROLL_CALC")
    assert first == again and job_queries(server) == 2  # one for the plan, one for the named job

    connection.cache_seconds = 0
    connection.save()  # a change in the admin starts from a clean slate, and 0 means never reuse
    with tenant_context(world.tenant):
        engine = engine_for(world.tenant)
        engine.jobs(), engine.jobs()
    assert job_queries(server) == 4


def test_each_tenant_reads_its_own_engine_through_the_cache(world, server):
    with HwaServer(jobs=[]) as other:
        connect(world.tenant, server)
        connect(world.other, other)
        with tenant_context(world.tenant):
            alpha = engine_for(world.tenant).jobs()
        with tenant_context(world.other):
            beta = engine_for(world.other).jobs()
    assert len(alpha) == 7 and beta == []


def test_the_breaker_opens_after_consecutive_failures_and_stops_calling(world, server):
    connect(world.tenant, server, failure_threshold=2, cooldown_seconds=60, cache_seconds=0)
    server.fail(503, times=2)
    with tenant_context(world.tenant):
        engine = engine_for(world.tenant)
        for _ in range(2):
            with pytest.raises(HwaUpstreamError):
                engine.info()
        calls = len(server.requests)
        with pytest.raises(
            HwaEngineDown, match=r"The engine PROD-MDM is not answering, retrying at \d\d:\d\d UTC"
        ):
            engine.info()
        # another process (a fresh Engine) sees the same open breaker: the state lives in the cache
        with pytest.raises(HwaEngineDown):
            engine_for(world.tenant).jobs()
    assert len(server.requests) == calls


def test_a_refused_password_is_an_answer_and_never_opens_the_breaker(world, server, settings):
    connect(world.tenant, server, failure_threshold=1, cache_seconds=0)
    settings.HWA_PASSWORDS = {"alpha": "wrong"}
    with tenant_context(world.tenant):
        engine = engine_for(world.tenant)
        for _ in range(3):
            with pytest.raises(HwaAuthError):
                engine.info()
        assert not engine.breaker.state().open


def test_after_the_cool_down_one_call_tries_and_a_failure_reopens_at_once(world, server):
    connection = connect(world.tenant, server, failure_threshold=2, cooldown_seconds=60, cache_seconds=0)
    now = [1_000_000.0]
    with tenant_context(world.tenant):
        engine = Engine(connection)
        engine.breaker = Breaker(connection, clock=lambda: now[0])
        server.fail(503, times=3)
        for _ in range(2):
            with pytest.raises(HwaUpstreamError):
                engine.info()
        with pytest.raises(HwaEngineDown):
            engine.info()
        now[0] += 61  # the cool-down is over: one try goes through, fails, and the breaker opens again
        with pytest.raises(HwaUpstreamError):
            engine.info()
        with pytest.raises(HwaEngineDown):
            engine.info()
        now[0] += 61  # the engine is back: a success closes the breaker
        assert engine.info()["engineVersion"] == "10.2.5"
        assert engine.breaker.state().open is False and engine.breaker.state().failures == 0


def test_a_slow_engine_costs_one_timeout_then_nothing(world, server):
    connect(world.tenant, server, timeout=0.2, failure_threshold=1, cooldown_seconds=60, cache_seconds=0)
    server.delay = 1.0
    with tenant_context(world.tenant):
        engine = engine_for(world.tenant)
        with pytest.raises(HwaUnreachable, match="timed out"):
            engine.workstations()
        calls = len(server.requests)
        with pytest.raises(HwaEngineDown):
            engine.workstations()
    assert len(server.requests) == calls
