import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from portal.asgi import application
from portal.consumers import CLOSE_NOT_FOUND
from tenants.tasks import ping_task

pytestmark = pytest.mark.django_db


def _ping_socket(host: bytes, cookie: str | None):
    headers = [(b"host", host), (b"origin", b"http://" + host)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/ping/", headers=headers)


def test_ping_socket_knows_the_tenant_and_the_user(world, session_cookie):
    cookie = session_cookie(world.carol)

    async def talk():
        socket = _ping_socket(b"alpha.localhost", cookie)
        connected, _ = await socket.connect()
        hello = await socket.receive_json_from()
        await socket.send_json_to({"type": "ping"})
        pong = await socket.receive_json_from()
        await socket.disconnect()
        return connected, hello, pong

    connected, hello, pong = async_to_sync(talk)()
    assert connected
    assert hello == {"type": "hello", "tenant": "alpha", "user": "carol@example.com", "role": "viewer"}
    assert pong["type"] == "pong" and pong["tenant"] == "alpha"


def test_ping_socket_refuses_anonymous_and_unknown_hosts(world, session_cookie):
    async def attempt(host, cookie):
        socket = _ping_socket(host, cookie)
        return await socket.connect()

    assert async_to_sync(attempt)(b"alpha.localhost", None) == (False, CLOSE_NOT_FOUND)
    cookie = session_cookie(world.alice)
    assert async_to_sync(attempt)(b"nowhere.localhost", cookie) == (False, CLOSE_NOT_FOUND)


def test_ping_socket_refuses_foreign_origins(world, session_cookie):
    cookie = session_cookie(world.alice).encode()

    async def attempt():
        socket = WebsocketCommunicator(
            application,
            "/ws/ping/",
            headers=[(b"host", b"alpha.localhost"), (b"origin", b"http://evil.example"), (b"cookie", cookie)],
        )
        return await socket.connect()

    connected, _ = async_to_sync(attempt)()
    assert not connected


def test_ping_task_runs_in_the_schema_it_was_sent_from(world):
    with schema_context("alpha"):
        result = ping_task.delay().get(timeout=10)
    assert result == {"schema": "alpha"}
    with schema_context("beta"):
        assert ping_task.delay().get(timeout=10)["schema"] == "beta"


def test_periodic_work_fans_out_to_every_active_tenant(world):
    from portal.celery import fan_out_to_tenants_task
    from tenants.models import Tenant

    Tenant.objects.filter(slug="beta").update(status="suspended")
    schemas = fan_out_to_tenants_task.delay("tenants.ping_task").get(timeout=10)
    assert "alpha" in schemas and "beta" not in schemas
