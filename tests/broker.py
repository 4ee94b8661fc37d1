"""The Celery broker going away in tests: sends fail as they do while Redis is down."""

import socket
from contextlib import contextmanager

from portal.celery import app as celery_app


@contextmanager
def broker_down():
    """Celery sends to a redis:// port nobody listens on, as when Redis is down; back (eager) on leaving."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf, saved = celery_app.conf, {}
    down = {"task_always_eager": False, "broker_url": f"redis://127.0.0.1:{port}/0", "broker_transport": None}
    down |= {"broker_transport_options": {}, "broker_connection_timeout": 1}
    for key, value in down.items():
        saved[key], conf[key] = conf[key], value
    _forget_connections()
    try:
        yield
    finally:
        for key, value in saved.items():
            conf[key] = value
        _forget_connections()


def _forget_connections() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
