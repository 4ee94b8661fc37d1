"""Mallory (member of beta) tries every URL and socket of alpha. Everything answers 404 or refuses.

The walker reads the tenant URLconf itself, so a new page or endpoint is covered the day it is added. It
aims at alpha's real things (every route parameter names one, or says why not), sends every method the
route answers with her session (a valid CSRF token, so a CSRF refusal cannot pass for isolation) and with
her beta token, and checks afterwards that alpha's rows and bucket are unchanged. Files across buckets,
Celery tasks and the assistant's tools have walkers of their own (``test_isolation_*.py``).
"""

import itertools
import re
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from jobs.views.worksets import ACTIONS as WORKSET_ACTIONS
from portal.asgi import application
from portal.consumers import CLOSE_NOT_FOUND
from portal.routing import websocket_urlpatterns
from tests.conftest import host
from tests.isolation_targets import bucket_fingerprint, changed, fingerprint, made_alpha_things

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
    return next((sample for sample in REGEX_SAMPLES if re.fullmatch(match.group(1), sample)), "x")


def _concrete(route: str) -> str:
    """Turn ``tokens/<uuid:code>/revoke/`` (or a regex route) into a path to request."""
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


# --- in depth: every method, alpha's real identifiers, and nothing of alpha's changes ---

WRITE_METHODS = ("post", "put", "patch", "delete")
# How a route parameter names one of alpha's things, by the route's start (after ``api/v1/``) and the
# parameter's name; a list tries each value. The longest matching start wins.
IDENTIFIERS = {
    ("worksets/", "code"): lambda t: t.workset.code,
    ("worksets/", "verb"): lambda t: sorted(WORKSET_ACTIONS),
    ("profiles/", "code"): lambda t: t.profile.code,
    ("notification-channels/", "code"): lambda t: str(t.channel.code),
    ("notifications/channels/", "code"): lambda t: str(t.channel.code),
    ("notification-deliveries/", "code"): lambda t: str(t.delivery.code),
    ("chat/", "code"): lambda t: str(t.conversation.code),
    ("invoices/", "code"): lambda t: str(t.invoice.code),
    ("billing/", "code"): lambda t: str(t.invoice.code),
    ("tokens/", "code"): lambda t: t.token_code,
    ("members/", "code"): lambda t: str(t.membership.code),
    ("knowledge/", "code"): lambda t: str(t.document.code),
    ("analytics/ingests/", "code"): lambda t: t.ingest.code,
    ("costs/data/ingests/", "code"): lambda t: t.ingest.code,
    ("analytics/jobs/", "job_id"): lambda t: t.gpu_job.job_id,
    ("analytics/rates/", "key"): lambda t: t.rate_key,
    ("analytics/teams/", "name"): lambda t: t.team.name,
    ("costs/teams/", "name"): lambda t: t.team.name,
    ("costs/teams/", "fmt"): lambda t: ["csv", "xlsx"],
    ("costs/export/", "table"): lambda t: ["jobs", "teams", "rates"],
    ("files/uploads/", "upload"): lambda t: t.upload_token,
    ("files/uploads/", "number"): lambda t: "1",
}
# Parameters that name nothing stored in alpha: the walker's sample value is as good as any.
NOT_ALPHA_ROWS = {
    ("iss/", "job_id"): "a job of the tenant's ISS service, fetched with the tenant's own credentials",
    ("iss/", "platform_id"): "an ISS platform, the same for everyone",
    ("profiles/iss/", "job_id"): "a job of the tenant's ISS service (as above)",
    ("automation/", "job_id"): "a job of the tenant's HWA engine, fetched with the tenant's own connection",
    # A valid link works without a session on its own tenant's host (it is a bearer capability): the walker
    # sends a forged one; test_isolation_files sends beta's links to alpha and links that climb out.
    ("files/link/", "token"): "a signed link: a forged one here",
}


@pytest.fixture
def alpha_things(db, world):
    with made_alpha_things(world) as things:
        yield things


# The body of every write: fields of the forms and serializers that would change alpha's things.
FORM = {
    "name": "x",
    "title": "x",
    "role": "owner",
    "enabled": "false",
    "state": "cancelled",
    "confirm": "yes",
}


def _parameters(route: str) -> list[str]:
    return re.findall(r"\(\?P<(\w+)>", route) + re.findall(r"<(?:\w+:)?(\w+)>", route)


def _start(route: str) -> str:
    return route.replace("^", "").removeprefix("api/v1/")


def _identifier(route: str, name: str):
    """(alpha's identifier getter or None, the table it came from) for one parameter of ``route``."""
    start = _start(route)
    for table in (IDENTIFIERS, NOT_ALPHA_ROWS):
        found = [(prefix, key) for prefix, key in table if key == name and start.startswith(prefix)]
        if found:
            return table[max(found, key=lambda pair: len(pair[0]))], table
    return None, None


def _raw_routes() -> list[str]:
    routes = set(_walk(get_resolver("portal.urls").url_patterns))
    return sorted(r for r in routes if not r.startswith(OPEN_PREFIXES))


def test_every_route_parameter_names_one_of_alphas_things_or_says_why_not():
    unnamed = [
        f"{route} <{name}>"
        for route in _raw_routes()
        for name in _parameters(route)
        if _identifier(route, name)[1] is None
    ]
    assert not unnamed, f"add them to IDENTIFIERS (an alpha thing to aim at) or NOT_ALPHA_ROWS: {unnamed}"


def alpha_routes(things) -> list[str]:
    """Every route with alpha's real identifiers in it (one route per value of a listed parameter)."""
    concrete = []
    for route in _raw_routes():
        names = _parameters(route)
        choices = []
        for name in names:
            getter, table = _identifier(route, name)
            value = getter(things) if table is IDENTIFIERS else None
            choices.append(value if isinstance(value, list) else [value])
        for values in itertools.product(*choices):
            filled = route
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    filled = re.sub(rf"\(\?P<{name}>[^)]*\)|<(?:\w+:)?{name}>", lambda _m, v=value: v, filled)
            concrete.append(_concrete(filled))
    return sorted(set(concrete))


def _query(things) -> str:
    # files and other readers take alpha's key and folder from the query string
    return "?" + urlencode({"key": things.file_key, "prefix": things.folder, "workset": things.workset.code})


CSRF_SECRET = "A" * 16 + "b" * 16  # a well-formed secret: the token check passes, so only access decides


def csrf_client(user, tenant):
    """A browser-like client that enforces CSRF and holds a valid token in its cookie and header."""
    client = Client(enforce_csrf_checks=True, HTTP_HOST=host(tenant), HTTP_X_CSRFTOKEN=CSRF_SECRET)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    return client


def _methods(route: str) -> list[str]:
    """GET, POST (as the first walker did everywhere) and the other methods the route's view answers: a DRF
    viewset's actions, a class's handlers."""
    view = resolve(route, urlconf="portal.urls").func
    if actions := getattr(view, "actions", None):
        return sorted({"get", "post", *(m for m in WRITE_METHODS if m in actions)})
    handlers = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if handlers is None:
        return ["get", "post"]
    return sorted({"get", "post", *(m for m in WRITE_METHODS if hasattr(handlers, m))})


def _send(client, method: str, route: str):
    if route.startswith("/api/"):
        return getattr(client, method)(route, FORM, content_type="application/json")
    if method == "post":
        return client.post(route, FORM)
    return getattr(client, method)(route)


def test_the_csrf_client_passes_the_csrf_check_and_only_it(db, world):
    """The control of the walk below: on her own tenant, mallory's writes get past CSRF with the token and are
    refused without it, so the 404s she gets on alpha come from the access check."""
    client = csrf_client(world.mallory, world.other)
    assert client.post("/api/v1/worksets/validate", {}, content_type="application/json").status_code == 200
    assert client.post("/chat/", {}).status_code != 403
    client.defaults.pop("HTTP_X_CSRFTOKEN")
    assert client.post("/api/v1/worksets/validate", {}, content_type="application/json").status_code == 403
    assert client.post("/chat/", {}).status_code == 403


def _refused(client, method: str, path: str, expected: int) -> str | None:
    response = _send(client, method, path)
    who = "session" if expected == 404 else "beta token"
    if response.status_code != expected:
        return f"{who} {method.upper()} {path}: {response.status_code}"
    json = response["Content-Type"].startswith("application/json")  # /api/docs/ is a page
    if expected == 401 and json and (code := response.json()["error"]["code"]) != "authentication_failed":
        return f"{who} {method.upper()} {path}: 401 {code}"
    return None


def test_mallory_changes_and_reads_nothing_of_alpha_whatever_she_sends(world, api_for, alpha_things):
    """Every route of the tenant URLconf, with alpha's real identifiers in the path and query: mallory's
    session (CSRF token included) gets 404 and her beta token 401, for every method (pages: GET and POST,
    the API: every verb), and afterwards alpha's rows and bucket are exactly as they were."""
    routes = alpha_routes(alpha_things)
    assert f"/api/v1/worksets/{alpha_things.workset.code}/cancel" in routes  # real identifiers, not samples
    session = csrf_client(world.mallory, world.tenant)
    token = api_for(world.mallory, tenant=world.tenant, token_tenant=world.other)
    before, objects = fingerprint(world.tenant), bucket_fingerprint(alpha_things.bucket)
    wrong = []
    for route in routes:
        path = route + _query(alpha_things)
        for method in _methods(route):
            wrong.append(_refused(session, method, path, 404))
            if route.startswith("/api/"):
                wrong.append(_refused(token, method, path, 401))
    wrong = [line for line in wrong if line]
    assert not wrong, "\n".join(wrong)
    assert changed(before, fingerprint(world.tenant)) == []
    assert changed(objects, bucket_fingerprint(alpha_things.bucket)) == []
