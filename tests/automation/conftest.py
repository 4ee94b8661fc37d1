"""A local HWA engine (tests/hwa_server.py) and a tenant connected to it."""

import pytest
from django.test import override_settings

from jobs.automation.models import HwaConnection
from tests.hwa_server import PASSWORD, USERNAME, HwaServer


def connect(tenant, server: HwaServer, **overrides) -> HwaConnection:
    values = {
        "base_url": server.url,
        "engine_name": "PROD-MDM",
        "username": USERNAME,
        "timeout": 2.0,
        **overrides,
    }
    return HwaConnection.objects.create(tenant=tenant, **values)


@pytest.fixture
def server():
    with HwaServer() as running, override_settings(HWA_PASSWORDS={"alpha": PASSWORD, "beta": PASSWORD}):
        yield running


@pytest.fixture
def connected(world, server) -> HwaServer:
    """alpha is connected to the local engine; beta is not."""
    connect(world.tenant, server)
    return server
