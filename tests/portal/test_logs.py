"""Request ids in JSON log lines (requests, Celery tasks, websockets) and no secrets in the logs."""

import io
import json
import logging

import pytest
import structlog
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from portal.asgi import application  # imported first: it sets Django up, which configures logging anew
from portal.celery import app as celery_app
from portal.consumers import CLOSE_NOT_FOUND
from portal.logs import logging_settings


@pytest.fixture
def json_log():
    """What the root logger writes, rendered as in production (LOG_FORMAT=json)."""
    formatter_config = logging_settings("json", "info")["formatters"]["structured"]
    formatter = formatter_config["()"](
        processors=formatter_config["processors"], foreign_pre_chain=formatter_config["foreign_pre_chain"]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    logging.getLogger().removeHandler(handler)


# --- request ids and logs ---


def test_a_request_id_is_generated_returned_and_logged(client_for, world, json_log):
    response = client_for(world.alice).get("/")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = [line for line in json_log() if line.get("request_id") == request_id]
    assert any(line["event"] == "request" and line["status"] == response.status_code for line in lines)


def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced(client_for, world, json_log):
    kept = client_for(world.alice).get("/", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")
    assert kept["X-Request-ID"] == "lb-7f3a9c2e-0001"
    assert any(line.get("request_id") == "lb-7f3a9c2e-0001" for line in json_log())
    replaced = client_for(world.alice).get("/", HTTP_X_REQUEST_ID="bad id\n{}")
    assert replaced["X-Request-ID"] != "bad id\n{}" and len(replaced["X-Request-ID"]) == 32


def test_no_secret_reaches_the_logs(api_for, world, json_log):
    api = api_for(world.alice)
    key = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    api.get("/api/worksets/", HTTP_COOKIE="sessionid=cookie-secret-value")
    logging.getLogger("runyard.test").warning("Calling with Authorization: Bearer %s", key)
    structlog.get_logger("runyard.test").info("called", token=key, authorization=f"Bearer {key}")
    text = json.dumps(json_log())
    assert key not in text and "cookie-secret-value" not in text
    assert "[redacted]" in text


def test_the_request_log_line_names_the_route_not_a_token_in_the_path(db, world, json_log):
    Client().get("/signup/verify/secret-verify-token-123/", HTTP_HOST="localhost")
    text = json.dumps(json_log())
    assert "secret-verify-token-123" not in text
    assert "/signup/verify/<str:token>/" in text


# --- Celery ---


@celery_app.task(name="tests.observability.log_request_id")
def log_request_id_task() -> str | None:
    structlog.get_logger("runyard.test").info("inside the task")
    return structlog.contextvars.get_contextvars().get("request_id")


def test_a_published_task_carries_the_request_id_in_its_headers(db):
    with (
        structlog.contextvars.bound_contextvars(request_id="req-published-0001"),
        celery_app.connection_for_write("memory://") as conn,
    ):
        celery_app.conf.task_always_eager = False  # published for real (here to an in-memory broker)
        log_request_id_task.apply_async(producer=celery_app.amqp.Producer(conn), queue="observability-test")
        message = conn.SimpleQueue("observability-test").get(timeout=5)
    assert message.headers["request_id"] == "req-published-0001"
    assert message.headers["task"] == "tests.observability.log_request_id"


def test_a_task_logs_with_the_request_id_of_the_request_that_sent_it(db, json_log):
    with structlog.contextvars.bound_contextvars(request_id="req-eager-00000002"):
        result = log_request_id_task.apply_async(headers={"request_id": "req-eager-00000002"})
        assert structlog.contextvars.get_contextvars()["request_id"] == "req-eager-00000002"
    assert result.get() == "req-eager-00000002"
    line = next(line for line in json_log() if line["event"] == "inside the task")
    assert line["request_id"] == "req-eager-00000002"
    assert line["task"] == "tests.observability.log_request_id"


# --- websockets ---


def test_a_websocket_connection_logs_every_line_with_its_request_id(
    world, session_cookie, consumer_connection, json_log
):

    headers = [
        (b"host", b"alpha.localhost"),
        (b"origin", b"http://alpha.localhost"),
        (b"cookie", session_cookie(world.carol).encode()),
        (b"x-request-id", b"ws-req-000000000042"),
    ]

    async def talk():
        socket = WebsocketCommunicator(application, "/ws/ping/", headers=headers)
        connected, _ = await socket.connect()
        await socket.receive_json_from()
        await socket.send_json_to({"type": "ping"})
        await socket.receive_json_from()
        await socket.disconnect()
        return connected

    assert async_to_sync(talk)()
    lines = {line["event"]: line for line in json_log() if line["logger"] == "portal.consumers"}
    assert lines["websocket accepted"]["request_id"] == "ws-req-000000000042"
    assert lines["websocket accepted"]["tenant"] == "alpha"
    assert lines["websocket closed"]["request_id"] == "ws-req-000000000042"  # a later message, same id


def test_mallory_is_refused_on_the_other_tenants_socket_and_nothing_is_accepted(
    world, session_cookie, consumer_connection, json_log
):

    headers = [
        (b"host", b"alpha.localhost"),
        (b"origin", b"http://alpha.localhost"),
        (b"cookie", session_cookie(world.mallory).encode()),
    ]

    async def attempt():
        socket = WebsocketCommunicator(application, "/ws/ping/", headers=headers)
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    assert async_to_sync(attempt)() == (False, CLOSE_NOT_FOUND)
    assert not [line for line in json_log() if line["event"] == "websocket accepted"]


def test_probes_that_succeed_write_no_request_line_but_keep_their_id(db, json_log):
    response = Client().get("/healthz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200 and len(response["X-Request-ID"]) == 32
    assert not [line for line in json_log() if line["event"] == "request"]


def test_celerys_lines_for_every_periodic_task_are_left_to_debug_but_failures_are_logged():
    """Beat polls every 2 s: its sending/received/succeeded lines would drown the log at info."""
    for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
        logger = logging.getLogger(name)  # as Django configured this process (LOG_LEVEL=info)
        assert not logger.isEnabledFor(logging.INFO) and logger.isEnabledFor(logging.ERROR), name
    debug = logging_settings("console", "debug")["loggers"]
    assert {debug[name]["level"] for name in ("celery.beat", "celery.app.trace")} == {"DEBUG"}
