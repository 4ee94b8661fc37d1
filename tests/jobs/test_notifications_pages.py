"""Notification pages and API: every member edits their own email preferences; owners and admins manage
channels and read the delivery log; to anyone else (and to other tenants) those do not exist."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from jobs.notifications.models import Channel, Delivery, Preference
from tests.recording_server import RecordingServer

pytestmark = pytest.mark.django_db
ROLES = ("alice", "bob", "carol")


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


@pytest.fixture
def alpha_channel(world, server) -> Channel:
    with tenant_context(world.tenant):
        return Channel.objects.create(kind="webhook", name="Ops hook", url=server.url)


def in_alpha(world, query):
    with tenant_context(world.tenant):
        return query()


@pytest.mark.parametrize("role", ROLES)
def test_the_page_renders_for_each_role_with_a_nav_link(client_for, world, alpha_channel, role):
    response = client_for(getattr(world, role)).get("/notifications/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/notifications/"' in html and 'data-testid="preferences"' in html
    manages = role == "alice"
    assert ('data-testid="channels"' in html) == manages
    assert ("Ops hook" in html) == manages and ('href="/notifications/deliveries/"' in html) == manages


@pytest.mark.parametrize("role", ROLES)
def test_every_member_saves_their_own_email_preferences(client_for, world, role):
    user = getattr(world, role)
    response = client_for(user).post("/notifications/", {"started": "on", "failed": "on"}, follow=True)
    assert "Your email preferences are saved." in response.content.decode()
    chosen = in_alpha(world, lambda: dict(Preference.objects.filter(user=user).values_list("event", "email")))
    assert chosen["started"] and chosen["failed"] and not chosen["completed"] and not chosen["budget"]
    assert in_alpha(world, lambda: Preference.objects.exclude(user=user).count()) == 0


def test_defaults_show_as_ticked_boxes(client_for, world):
    html = client_for(world.alice).get("/notifications/").content.decode()
    assert 'name="completed" id="id_completed" checked' in html
    assert 'name="budget" id="id_budget" checked' in html  # owners get budget alerts
    html = client_for(world.bob).get("/notifications/").content.decode()
    assert 'name="budget" id="id_budget" checked' not in html
    assert 'name="started" id="id_started" checked' not in html


def test_an_owner_adds_a_webhook_and_sees_its_secret(client_for, world, server):
    client = client_for(world.alice)
    form = {
        "kind": "webhook",
        "name": "CI",
        "url": server.url,
        "events": ["failed", "completed"],
        "enabled": "on",
    }
    response = client.post("/notifications/channels/new/", form, follow=True)
    channel = in_alpha(world, lambda: Channel.objects.get(name="CI"))
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/notifications/channels/{channel.code}/"
    assert channel.secret in html and 'data-testid="webhook-secret"' in html
    assert channel.events == ["failed", "completed"] and channel.enabled


def test_the_form_says_what_a_kind_needs(client_for, world):
    response = client_for(world.alice).post("/notifications/channels/new/", {"kind": "linear", "name": "L"})
    html = response.content.decode()
    assert response.status_code == 200 and "needs an API key" in html and "id of the team" in html
    assert in_alpha(world, lambda: Channel.objects.count()) == 0


def test_edit_send_test_disable_and_delete(
    client_for, world, alpha_channel, server, django_capture_on_commit_callbacks
):
    client = client_for(world.alice)
    base = f"/notifications/channels/{alpha_channel.code}"
    client.post(f"{base}/", {"kind": "webhook", "name": "Renamed", "url": server.url, "enabled": "on"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{base}/test/", follow=True)
    assert "Test event sent to “Renamed”" in response.content.decode()
    [request] = server.requests
    assert request.json()["event"] == "test" and request.json()["details"] == {
        "requested_by": "alice@example.com"
    }
    client.post(f"{base}/toggle/")
    assert not in_alpha(world, lambda: Channel.objects.get(pk=alpha_channel.pk).enabled)
    log = client.get("/notifications/deliveries/").content.decode()
    assert "Renamed" in log and "delivered" in log and "HTTP 200" in log
    client.post(f"{base}/delete/")
    assert not in_alpha(world, lambda: Channel.objects.filter(pk=alpha_channel.pk).exists())
    assert in_alpha(world, lambda: Delivery.objects.filter(target="Renamed", status="delivered").count()) == 1


@pytest.mark.parametrize("role", ("bob", "carol"))
def test_members_and_viewers_cannot_manage_channels(client_for, world, alpha_channel, role):
    client = client_for(getattr(world, role))
    base = f"/notifications/channels/{alpha_channel.code}"
    assert client.get("/notifications/channels/new/").status_code == 404
    assert (
        client.post(
            "/notifications/channels/new/", {"kind": "email", "name": "x", "email": "a@b.c"}
        ).status_code
        == 404
    )
    for path in (f"{base}/", "/notifications/deliveries/"):
        assert client.get(path).status_code == 404, path
    for path in (f"{base}/", f"{base}/test/", f"{base}/toggle/", f"{base}/delete/"):
        assert client.post(path, {"name": "taken over"}).status_code == 404, path
    assert in_alpha(world, lambda: list(Channel.objects.values_list("name", "enabled"))) == [
        ("Ops hook", True)
    ]
    assert in_alpha(world, lambda: Delivery.objects.count()) == 0


def test_mallory_gets_404_for_alphas_channels_and_log(client_for, api_for, world, alpha_channel):
    pages = client_for(world.mallory, world.tenant)
    base = f"/notifications/channels/{alpha_channel.code}"
    for path in ("/notifications/", f"{base}/", "/notifications/deliveries/"):
        assert pages.get(path).status_code == 404, path
    assert pages.post(f"{base}/test/").status_code == 404
    own = client_for(world.mallory, world.other)  # on beta's host alpha's channel does not exist either
    assert own.get(f"{base}/").status_code == 404
    api = api_for(world.mallory, world.other)
    for path in (f"/api/v1/notification-channels/{alpha_channel.code}", "/api/v1/notification-channels"):
        assert api.get(path).status_code == 404, path
    connection.set_schema_to_public()
    assert in_alpha(world, lambda: Channel.objects.get(pk=alpha_channel.pk).name) == "Ops hook"


def test_owners_manage_channels_through_the_api(api_for, world, server, django_capture_on_commit_callbacks):
    api = api_for(world.alice)
    created = api.post(
        "/api/v1/notification-channels",
        {"kind": "webhook", "name": "API hook", "url": server.url, "events": ["dead_lettered"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    channel = created.json()
    assert channel["secret"].startswith("whsec_") and channel["events"] == ["dead_lettered"]
    code = channel["code"]
    listed = api.get("/api/v1/notification-channels").json()["results"]
    assert [c["code"] for c in listed] == [code]
    patched = api.patch(f"/api/v1/notification-channels/{code}", {"enabled": False}, format="json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    with django_capture_on_commit_callbacks(execute=True):
        tested = api.post(f"/api/v1/notification-channels/{code}/test")
    assert tested.status_code == 202 and tested.json()["event"] == "test"
    assert server.requests[0].headers["x-runyard-delivery"] == tested.json()["code"]
    deliveries = api.get("/api/v1/notification-deliveries").json()["results"]
    assert [(d["event"], d["status"], d["attempts"], d["channel"]) for d in deliveries] == [
        ("test", "delivered", 1, code)
    ]
    assert api.post("/api/v1/notification-deliveries", {}, format="json").status_code == 405
    assert api.delete(f"/api/v1/notification-channels/{code}").status_code == 204
    assert api.get("/api/v1/notification-deliveries").json()["results"][0]["channel"] is None


def test_the_api_refuses_an_incomplete_channel_in_the_error_shape(api_for, world):
    api = api_for(world.alice)
    response = api.post("/api/v1/notification-channels", {"kind": "linear", "name": "L"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert set(response.json()["error"]["fields"]) == {"linear_api_key", "linear_team_id"}
    body = {"kind": "slack", "name": "S", "url": "https://hooks.slack.com/x", "events": ["nope"]}
    response = api.post("/api/v1/notification-channels", body, format="json")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"events"}


def test_the_linear_key_is_write_only(api_for, world):
    api = api_for(world.alice)
    body = {"kind": "linear", "name": "L", "linear_api_key": "lin_api_x", "linear_team_id": "t"}
    created = api.post("/api/v1/notification-channels", body, format="json").json()
    assert "linear_api_key" not in created and created["has_linear_api_key"] is True
    assert created["url"] == "https://api.linear.app/graphql"


@pytest.mark.parametrize("role", ("bob", "carol"))
def test_the_api_answers_404_below_admin(api_for, world, alpha_channel, role):
    api = api_for(getattr(world, role))
    for path in (
        "/api/v1/notification-channels",
        f"/api/v1/notification-channels/{alpha_channel.code}",
        "/api/v1/notification-deliveries",
    ):
        assert api.get(path).status_code == 404, path
    refused = api.post("/api/v1/notification-channels", {"kind": "email", "name": "x", "email": "a@b.c"})
    assert refused.status_code == 404
    assert api.post(f"/api/v1/notification-channels/{alpha_channel.code}/test").status_code == 404
    assert in_alpha(world, lambda: Channel.objects.count()) == 1


def test_the_delivery_log_does_not_grow_its_queries_with_rows(
    client_for, api_for, world, alpha_channel, django_assert_max_num_queries
):
    def add(count):
        with tenant_context(world.tenant):
            Delivery.objects.bulk_create(
                Delivery(channel=alpha_channel, kind="webhook", target="Ops hook", event="started")
                for _ in range(count)
            )

    add(3)
    client, api = client_for(world.alice), api_for(world.alice)
    with django_assert_max_num_queries(40) as few:
        client.get("/notifications/deliveries/")
        api.get("/api/v1/notification-deliveries")
    add(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/notifications/deliveries/").status_code == 200
        assert len(api.get("/api/v1/notification-deliveries").json()["results"]) == 33
