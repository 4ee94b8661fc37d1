"""Mallory (member of beta) tries every URL and socket of alpha. Everything answers 404 or refuses.

The walker reads the tenant URLconf itself, so a new page or endpoint is covered the day it is added.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.urls import URLPattern, URLResolver, get_resolver

from portal.asgi import application
from portal.consumers import CLOSE_NOT_FOUND
from portal.routing import websocket_urlpatterns

# Reachable without a membership by design: signing in/out, recovering a password, confirming an email.
OPEN_PREFIXES = ("accounts/",)
# A fixed UUID that names nothing: the routes are test ids, which pytest-xdist's workers must collect alike.
SAMPLE_UUID = "5f0c3b1e-8d2a-4e67-9b41-7a2c6e0d9f38"
SAMPLE_VALUES = {"uuid": SAMPLE_UUID, "int": "1", "slug": "x", "str": "x", "path": "x"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


REGEX_SAMPLES = ("x", "x-0123abcd", "1", SAMPLE_VALUES["uuid"])  # "x-0123abcd": a workset code


def _regex_sample(match) -> str:
    import re

    return next((sample for sample in REGEX_SAMPLES if re.fullmatch(match.group(1), sample)), "x")


def _concrete(route: str) -> str:
    """Turn ``tokens/<uuid:code>/revoke/`` (or a regex route) into a path to request."""
    import re

    # regex routes (DRF routers, workset codes) before path converters: a sample the group's regex accepts
    route = re.sub(r"\(\?P<\w+>([^)]*)\)", _regex_sample, route)
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES[m.group(1) or "str"], route)
    route = route.replace("^", "").replace("$", "").replace("\\", "").replace("/?", "/")
    return "/" + route.lstrip("/")


def tenant_routes() -> list[str]:
    routes = {_concrete(route) for route in _walk(get_resolver("portal.urls").url_patterns)}
    return sorted(route for route in routes if not route.lstrip("/").startswith(OPEN_PREFIXES))


def test_the_walker_sees_pages_and_api():
    routes = tenant_routes()
    assert {"/", "/tokens/", "/members/", "/api/v1/me", "/api/v1/tokens", "/api/schema/"} <= set(routes)
    assert {"/api/v1/worksets/validate", "/api/v1/worksets/estimate"} <= set(routes)
    worksets = {"/worksets/", "/worksets/new/", "/worksets/x-0123abcd/", "/worksets/x-0123abcd/x/"}
    assert worksets | {"/api/v1/worksets", "/api/v1/worksets/x-0123abcd/retry"} <= set(routes)
    generator = {"/api/v1/worksets/generate-yaml", "/api/v1/worksets/parse", "/api/v1/worksets/discover"}
    assert generator | {"/worksets/generator/"} <= set(routes)
    channel = f"/notifications/channels/{SAMPLE_VALUES['uuid']}/"
    notifications = {"/notifications/", "/notifications/deliveries/", channel, f"{channel}test/"}
    api = {"/api/v1/notification-channels", "/api/v1/notification-channels/x/test"}
    assert notifications | api | {"/api/v1/notification-deliveries/x"} <= set(routes)
    assert "/api/v1/queue/stats" in routes


def test_the_socket_walker_sees_every_socket():
    assert {"ws/ping/", "ws/worksets/"} <= {str(p.pattern) for p in websocket_urlpatterns}


@pytest.mark.parametrize("route", tenant_routes())
def test_a_member_of_another_tenant_gets_404_everywhere(client_for, world, route):
    client = client_for(world.mallory, world.tenant)
    for method in ("get", "post"):
        response = getattr(client, method)(route)
        assert response.status_code == 404, f"{method.upper()} {route} answered {response.status_code}"


@pytest.mark.parametrize("route", [r for r in tenant_routes() if r.startswith("/api/")])
def test_a_token_of_another_tenant_is_invalid_everywhere(api_for, world, route):
    client = api_for(world.mallory, tenant=world.tenant, token_tenant=world.other)
    response = client.get(route)
    assert response.status_code == 401, f"GET {route} answered {response.status_code}"
    if response["Content-Type"].startswith("application/json"):  # /api/docs/ is an HTML page
        assert response.json()["error"]["code"] == "authentication_failed"


def test_account_pages_do_not_serve_a_non_member(client_for, world):
    client = client_for(world.mallory, world.tenant)
    for route in ("/accounts/email/", "/accounts/password/change/", "/accounts/2fa/"):
        assert client.get(route).status_code == 404, route


@pytest.mark.parametrize("route", [str(p.pattern) for p in websocket_urlpatterns])
def test_websockets_refuse_a_member_of_another_tenant(world, session_cookie, route):
    communicator = WebsocketCommunicator(
        application,
        "/" + route,
        headers=[
            (b"host", b"alpha.localhost"),
            (b"origin", b"http://alpha.localhost"),
            (b"cookie", session_cookie(world.mallory).encode()),
        ],
    )
    connected, code = async_to_sync(communicator.connect)()
    assert not connected and code == CLOSE_NOT_FOUND


def public_api_routes() -> list[str]:
    """The operators' API on the public host (``portal.urls_public``): staff only."""
    routes = {_concrete(route) for route in _walk(get_resolver("portal.urls_public").url_patterns)}
    return sorted(route for route in routes if route.startswith("/api/v1/"))


def test_the_public_walker_sees_the_customers_api():
    expected = {"/api/v1/customers", "/api/v1/customers/x", "/api/v1/customers/x/usage"}
    assert expected <= set(public_api_routes())


@pytest.mark.parametrize("route", public_api_routes())
def test_a_customer_gets_404_on_the_operators_api(db, client, world, route):
    client.force_login(world.mallory, backend="django.contrib.auth.backends.ModelBackend")
    for method in ("get", "post"):
        response = getattr(client, method)(route, HTTP_HOST="localhost")
        assert response.status_code == 404, f"{method.upper()} {route} answered {response.status_code}"
