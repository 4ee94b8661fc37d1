"""Session-wide world: two tenants and the personas, created once and committed.

alpha (primary): alice owner, bob member, carol viewer. beta (other): mallory member.
operator: staff, no memberships. Each test runs in a transaction that is rolled back.
"""

import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from portal.celery import app as celery_app
from tests.builders import PASSWORD, ensure_user, make_token

PRIMARY, OTHER = "alpha", "beta"


@dataclass(frozen=True)
class World:
    tenant: object
    other: object
    alice: object
    bob: object
    carol: object
    mallory: object
    operator: object


@pytest.fixture(scope="session")
def world(django_db_setup, django_db_blocker) -> World:
    from tenants.models import Membership, Role, Tenant
    from tenants.services import onboard_tenant, setup_database

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        assert name.startswith("test_"), f"refusing to build the test world in {name!r}"
        setup_database(verbosity=0)
        tenants = {}
        for slug, owner in ((PRIMARY, "alice@example.com"), (OTHER, "mallory@example.com")):
            tenants[slug] = Tenant.objects.filter(slug=slug).first() or onboard_tenant(
                slug.title(), slug=slug, owner_email=owner, owner_password=PASSWORD
            )
        people = {name: ensure_user(f"{name}@example.com") for name in ("alice", "bob", "carol", "mallory")}
        operator = ensure_user("operator@example.com", is_staff=True, is_superuser=True)
        for name, role in (("bob", Role.MEMBER), ("carol", Role.VIEWER)):
            Membership.objects.get_or_create(
                user=people[name], tenant=tenants[PRIMARY], defaults={"role": role}
            )
        Membership.objects.filter(user=people["mallory"], tenant=tenants[OTHER]).update(role=Role.MEMBER)
        Membership.objects.filter(user=people["alice"], tenant=tenants[PRIMARY]).update(role=Role.OWNER)
    return World(tenant=tenants[PRIMARY], other=tenants[OTHER], operator=operator, **people)


@pytest.fixture(scope="session", autouse=True)
def _cache_of_this_run():
    """Keys of this run only: rate-limit counters and used TOTP codes of an earlier run stay out,
    and the shared Redis (broker, channel layer) is never flushed."""
    from django.test import override_settings

    caches = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
        for alias, config in settings.CACHES.items()
    }
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """Requests leave the connection in their tenant's schema; start each test from public."""
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _eager_celery():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


def host(tenant) -> str:
    return f"{tenant.slug}.localhost"


@pytest.fixture
def client_for(db, world):
    """A browser-like client signed in as ``user`` on ``tenant``'s host (anonymous if user is None)."""

    def make(user, tenant=None) -> Client:
        client = Client(HTTP_HOST=host(tenant or world.tenant))
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def api_for(db, world):
    """An API client using a fresh bearer token of ``user`` bound to ``tenant``."""

    def make(user, tenant=None, token_tenant=None) -> APIClient:
        tenant = tenant or world.tenant
        key = make_token(user, token_tenant or tenant)
        client = APIClient(HTTP_HOST=host(tenant))
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def session_cookie(db):
    """A ``Cookie`` header value carrying a real session for ``user`` (for websocket tests)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    def make(user) -> str:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    return make


@pytest.fixture
def operator_client(db, world) -> Client:
    """The operator, signed in on the public host (admin and operators' API)."""
    client = Client(HTTP_HOST="localhost")
    client.force_login(world.operator, backend="django.contrib.auth.backends.ModelBackend")
    return client
