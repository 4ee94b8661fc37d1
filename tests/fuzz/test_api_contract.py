"""Schemathesis against the portal's OpenAPI schema: every operation, called as alice with a real API token
on alpha's host, never answers 5xx and answers only what the schema documents (status code, content type,
body). ``RUNYARD_FUZZ_EXAMPLES`` raises the examples per operation (README, "Security").

The schema is generated while the tests are collected (one test per operation needs it before any database
exists); a test checks that it is the very schema ``/api/schema/`` serves to alpha's members.
"""

import os

import pytest
import schemathesis
from django.test import override_settings
from django.test.client import ClientHandler
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenants.services.files import storage_of
from tests.builders import make_token
from tests.conftest import host

EXAMPLES = int(os.environ.get("RUNYARD_FUZZ_EXAMPLES", "5"))
# Schemathesis's coverage phase (boundary and negative values of every parameter, ~20 requests an operation)
# triples the run: on with RUNYARD_FUZZ_COVERAGE=1.
COVERAGE = os.environ.get("RUNYARD_FUZZ_COVERAGE", "") == "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The contract is what the API answers, not how often: the token and upload limits stay out of the way.
NO_LIMITS = override_settings(RUNYARD_RATE_API_TOKEN="1000000/m", RUNYARD_RATE_UPLOADS="1000000/h")


def generated_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(
    generated_schema(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "deterministic": True},
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": COVERAGE}},
        }
    ),
)
handler = ClientHandler(enforce_csrf_checks=True)


def portal(environ, start_response):
    """The portal as a WSGI app on the test's own connection: Django's test handler keeps the connection
    (inside the test's transaction) open between requests, as the test client does."""
    response = handler(environ)
    cookies = [("Set-Cookie", cookie.output(header="").strip()) for cookie in response.cookies.values()]
    start_response(f"{response.status_code} {response.reason_phrase}", [*response.items(), *cookies])
    return response


def keys_in(storage, prefix: str = "") -> set[str]:
    keys, token = set(), None
    while True:
        page = storage.list(prefix, token=token)
        keys |= {item.key for item in page.objects}
        for folder in page.folders:
            keys |= {folder, *keys_in(storage, folder)}
        token = page.next_token
        if not token:
            return keys


@pytest.fixture(scope="module")
def alpha_bucket_kept_as_found(world, django_db_blocker):
    """The database rolls back after each test, alpha's bucket does not: what the generated uploads and
    folders leave there is deleted at the end."""
    with django_db_blocker.unblock():
        bucket = storage_of(world.tenant)
    before = keys_in(bucket)
    yield
    for key in keys_in(bucket) - before:
        bucket.delete(key)


@pytest.fixture
def alice_on_alpha(db, world, alpha_bucket_kept_as_found, consumer_connection, private_channel_layer):
    """The chat's ask answers through the channel layer and closes connections like a consumer: it gets
    the same test fixtures as the chat API's own tests."""
    with NO_LIMITS:
        yield {
            "base_url": f"http://{host(world.tenant)}",
            "headers": {"Authorization": f"Bearer {make_token(world.alice, world.tenant)}"},
        }


def test_the_schema_under_test_is_the_one_alpha_is_served(api_for, world):
    served = api_for(world.carol).get("/api/schema/?format=json")
    assert served.status_code == 200
    assert served.json() == generated_schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_5xx(case, alice_on_alpha):
    case.call_and_validate(app=portal, checks=CHECKS, **alice_on_alpha)


# Schemathesis sends what the schema describes; JSON nested past Python's recursion limit is outside it,
# and both DRF's JSON parser and its JSONField let the RecursionError through as a 500.
@pytest.mark.django_db
@settings(max_examples=max(EXAMPLES, 8), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    depth=st.integers(1, 100_000),
    target=st.sampled_from(
        [("/api/v1/worksets/validate", "json"), ("/api/v1/tokens", "json"), ("/api/v1/worksets", "multipart")]
    ),
)
def test_json_nested_at_any_depth_is_answered_never_a_500(api_for, world, depth, target):
    path, fmt = target
    nested = "[" * depth + "]" * depth
    client = api_for(world.alice)
    with NO_LIMITS:  # the multipart posts would count against alice's uploads for the rest of the session
        if fmt == "json":
            response = client.generic("POST", path, nested, content_type="application/json")
        else:
            response = client.post(path, {"spec": nested}, format="multipart")
    assert response.status_code < 500, response.content[:200]
    if depth > 10_000:
        assert response.status_code == 400
        assert response.json()["error"]["code"] in ("parse_error", "invalid")
