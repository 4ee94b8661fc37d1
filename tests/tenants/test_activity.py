"""The audit trail: every mutation says who, what, when and from where; owners and admins read their
tenant's on the Activity page and the API, filter and export it as CSV; operators search and export it in the
admin."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.models import AuditEvent, Membership, Quota, Role, UsageRecord
from tenants.services.audit import record_event
from tenants.services.usage import record_usage
from tenants.tasks import check_budget_task

pytestmark = pytest.mark.django_db

BROWSER = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "Mozilla/5.0 (AuditTest)"}
CSV_HEADER = ["created", "tenant", "actor", "action", "target", "source", "ip", "user_agent", "data"]


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def events_of(world, count: int, *, action="test.thing", actor=None, tenant=None) -> list[AuditEvent]:
    return [
        record_event(action, actor=actor or world.bob, tenant=tenant or world.tenant, target=f"thing-{n}")
        for n in range(count)
    ]


def days_ago(event: AuditEvent, days: int) -> None:
    AuditEvent.objects.filter(pk=event.pk).update(created=timezone.now() - timedelta(days=days))


# --- who, what, when and from where ---


def test_a_page_mutation_records_who_what_and_the_browser_it_came_from(client_for, world):
    response = client_for(world.bob).post("/tokens/", {"name": "laptop"}, **BROWSER)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="token.created", target="laptop")
    assert (event.actor, event.tenant) == (world.bob, world.tenant)
    assert (event.source, event.ip, event.user_agent) == ("web", "203.0.113.7", "Mozilla/5.0 (AuditTest)")
    assert timezone.now() - event.created < timedelta(minutes=5)


def test_an_api_mutation_is_marked_api(api_for, world):
    api = api_for(world.alice)
    response = api.post("/api/v1/tokens", {"name": "ci"}, format="json", **BROWSER)
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="token.created", target="ci", actor=world.alice)
    assert (event.source, event.ip, event.tenant) == ("api", "203.0.113.7", world.tenant)


def test_the_proxy_header_counts_only_when_the_settings_name_it(client_for, world):
    forwarded = {**BROWSER, "HTTP_X_FORWARDED_FOR": "10.9.9.9, 198.51.100.20"}
    client_for(world.bob).post("/tokens/", {"name": "direct"}, **forwarded)
    assert AuditEvent.objects.get(target="direct").ip == "203.0.113.7"  # a client can claim any header
    with override_settings(RUNYARD_CLIENT_IP_HEADER="X-Forwarded-For"):
        client_for(world.bob).post("/tokens/", {"name": "proxied"}, **forwarded)
    assert AuditEvent.objects.get(target="proxied").ip == "198.51.100.20"  # the address our proxy appended


@pytest.mark.usefixtures("private_channel_layer", "consumer_connection")
def test_a_websocket_mutation_records_the_sockets_client(world, session_cookie):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from portal.asgi import application

    headers = [
        (b"host", b"alpha.localhost"),
        (b"origin", b"http://alpha.localhost"),
        (b"cookie", session_cookie(world.bob).encode()),
        (b"user-agent", b"SocketTest/2.0"),
    ]

    async def ask():
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
        socket.scope["client"] = ("198.51.100.44", 50123)
        connected, _ = await socket.connect()
        assert connected and await socket.receive_json_from() == {"type": "ready"}
        await socket.send_json_to(
            {"type": "ask", "conversation": None, "text": "Audit trail socket question"}
        )
        while (await socket.receive_json_from(timeout=30))["type"] != "done":
            pass
        await socket.disconnect()

    async_to_sync(ask)()
    event = AuditEvent.objects.filter(
        action="chat.conversation_started", actor=world.bob, tenant=world.tenant
    ).latest("id")
    assert (event.source, event.ip, event.user_agent) == ("websocket", "198.51.100.44", "SocketTest/2.0")


def test_commands_and_tasks_say_so(world):
    call_command("token", email="carol@example.com", tenant="alpha", name="from-cli", stdout=io.StringIO())
    assert AuditEvent.objects.get(action="token.created", target="from-cli").source == "command"
    Quota.objects.filter(tenant=world.tenant).update(monthly_budget_usd=Decimal("10"))
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    record_usage(
        world.tenant,
        UsageRecord.Kind.VCPU,
        Decimal("300"),
        basis=UsageRecord.Basis.MEASURED,
        source="test",
        period_start=start,
        period_end=start + timedelta(hours=1),
        dimension="normal",
        reference="ws-audit",
    )
    check_budget_task.delay(world.tenant.pk)
    alerts = AuditEvent.objects.filter(tenant=world.tenant, action="budget.alert")
    assert alerts.exists() and {event.source for event in alerts} == {"task"}


def test_notification_channel_changes_are_audited_from_the_api_and_the_pages(api_for, client_for, world):
    api = api_for(world.alice)
    body = {"kind": "email", "name": "Ops mail", "email": "ops@example.com"}
    code = api.post("/api/v1/notification-channels", body, format="json", **BROWSER).json()["code"]
    api.patch(f"/api/v1/notification-channels/{code}", {"name": "Ops list"}, format="json")
    page = client_for(world.alice)
    page.post(f"/notifications/channels/{code}/toggle/", **BROWSER)
    page.post("/notifications/", {"failed": "on"}, **BROWSER)  # her own email preferences
    api.delete(f"/api/v1/notification-channels/{code}")
    trail = AuditEvent.objects.filter(
        tenant=world.tenant, actor=world.alice, created__gte=timezone.now() - timedelta(minutes=5)
    )
    actions = list(
        trail.filter(action__startswith="notification").order_by("id").values_list("action", "source")
    )
    assert actions == [
        ("notification_channel.added", "api"),
        ("notification_channel.changed", "api"),
        ("notification_channel.disabled", "web"),
        ("notification.preferences_saved", "web"),
        ("notification_channel.deleted", "api"),
    ]
    assert trail.get(action="notification_channel.changed").target == "Ops list"


def test_sign_ins_failed_sign_ins_and_password_changes_are_audited(client_for, world):
    from tests.builders import PASSWORD

    client = client_for(None)
    client.post("/accounts/login/", {"login": "bob@example.com", "password": "not-it"}, **BROWSER)
    failed = AuditEvent.objects.filter(action="account.sign_in_failed", target="bob@example.com").latest("id")
    assert (failed.actor, failed.tenant, failed.ip) == (None, world.tenant, "203.0.113.7")
    assert "not-it" not in str(failed.data)
    client.post("/accounts/login/", {"login": "bob@example.com", "password": PASSWORD}, **BROWSER)
    signed_in = AuditEvent.objects.filter(
        action="account.signed_in", actor=world.bob, tenant=world.tenant
    ).latest("id")
    assert (signed_in.source, signed_in.user_agent) == ("web", "Mozilla/5.0 (AuditTest)")
    new_password = "a-new-long-passphrase-42"
    form = {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password}
    assert client.post("/accounts/password/change/", form, **BROWSER).status_code == 302
    assert AuditEvent.objects.filter(action="account.password_changed", actor=world.bob).exists()


# --- the Activity page ---


def test_owners_and_admins_see_the_activity_page_in_their_navigation(client_for, world):
    events_of(world, 1, action="workset.created")
    response = client_for(world.alice).get("/activity/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/activity/"' in page and "workset.created" in page and "thing-0" in page
    Membership.objects.filter(user=world.bob, tenant=world.tenant).update(role=Role.ADMIN)
    assert client_for(world.bob).get("/activity/").status_code == 200


@pytest.mark.parametrize("who", ["bob", "carol", "mallory"])
def test_members_viewers_and_outsiders_get_404_and_no_link(client_for, world, who):
    client = client_for(getattr(world, who))
    assert client.get("/activity/").status_code == 404
    assert client.get("/activity.csv").status_code == 404
    if who != "mallory":
        assert 'href="/activity/"' not in client.get("/").content.decode()


def test_a_tenant_page_never_shows_another_tenants_events(client_for, world):
    events_of(world, 2, action="alpha.secret")
    record_event("beta.own", actor=world.mallory, tenant=world.other, target="beta-thing")
    Membership.objects.filter(user=world.mallory, tenant=world.other).update(role=Role.ADMIN)
    client = client_for(world.mallory, world.other)
    page = client.get("/activity/").content.decode()
    assert "beta-thing" in page and "alpha.secret" not in page
    exported = csv_rows(client.get("/activity.csv"))
    assert {row[1] for row in exported[1:]} == {"beta"}
    assert not any(row[3] == "alpha.secret" for row in exported)
    assert client.get("/activity/?q=alpha.secret").content.decode().count("data-event=") == 0


def test_filters_by_action_family_person_dates_and_text(client_for, world):
    created = record_event("workset.created", actor=world.bob, tenant=world.tenant, target="ws-new-1")
    cancelled = record_event("workset.cancelled", actor=world.alice, tenant=world.tenant, target="ws-old-2")
    upload = record_event("file.uploaded", actor=world.bob, tenant=world.tenant, target="reads/sample.bam")
    days_ago(cancelled, 10)
    client = client_for(world.alice)

    def shown(query: str) -> set[int]:
        page = client.get(f"/activity/?{query}").content.decode()
        return {event.pk for event in (created, cancelled, upload) if f'data-event="{event.pk}"' in page}

    assert shown("action=workset.created") == {created.pk}
    assert shown("action=workset.") == {created.pk, cancelled.pk}
    assert shown("person=alice@example.com") == {cancelled.pk}
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    until = (timezone.now() - timedelta(days=5)).date().isoformat()
    assert shown(f"created_after={since}") == {created.pk, upload.pk}
    assert shown(f"created_before={until}") == {cancelled.pk}
    assert shown("q=sample.bam") == {upload.pk}
    assert shown("q=bob@example") == {created.pk, upload.pk}


def test_a_backwards_date_range_is_explained(client_for, world):
    response = client_for(world.alice).get("/activity/?created_after=2025-02-01&created_before=2025-01-01")
    assert response.status_code == 200
    assert "Must be on or after the start day." in response.content.decode()
    refused = client_for(world.alice).get("/activity.csv?created_after=2025-02-01&created_before=2025-01-01")
    assert refused.status_code == 400 and b"created_before" in refused.content


def test_the_list_pages_newest_first(client_for, world):
    events = events_of(world, 55, action="paging.test")
    client = client_for(world.alice)
    first = client.get("/activity/?action=paging.test")
    rows = first.content.decode().split('data-event="')[1:]
    assert len(rows) == 50 and rows[0].startswith(f'{events[-1].pk}"')
    next_link = first.context["next_page"]
    second = client.get(next_link).content.decode()
    assert second.count('data-event="') == 5 and f'data-event="{events[0].pk}"' in second


def test_the_csv_export_has_the_filtered_set_with_headers(client_for, world):
    record_event("file.uploaded", actor=world.bob, tenant=world.tenant, target="a.txt", size=3)
    record_event("workset.created", actor=world.bob, tenant=world.tenant, target="ws-1")
    client = client_for(world.alice)
    client.post("/tokens/", {"name": "exported"}, **BROWSER)
    response = client.get("/activity.csv?q=a.txt")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="runyard-alpha-activity-')
    rows = csv_rows(response)
    assert rows[0] == CSV_HEADER
    assert [row[1:6] for row in rows[1:]] == [
        ["alpha", "bob@example.com", "file.uploaded", "a.txt", "command"]
    ]
    assert rows[1][8] == '{"size": 3}'
    token_row = csv_rows(client.get("/activity.csv?action=token.created&q=exported"))[1]
    assert token_row[5:8] == ["web", "203.0.113.7", "Mozilla/5.0 (AuditTest)"]


def test_the_page_queries_do_not_grow_with_rows(client_for, world):
    client = client_for(world.alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get("/activity/?action=count.test").status_code == 200
        return len(context.captured_queries)

    events_of(world, 2, action="count.test")
    few = queries()
    events_of(world, 20, action="count.test", actor=world.carol)
    assert queries() == few


# --- the API ---


def test_the_api_lists_filters_and_pages_for_owners(api_for, world):
    events_of(world, 3, action="api.test")
    api = api_for(world.alice)
    body = api.get("/api/v1/activity?action=api.test&page_size=2").json()
    assert [row["target"] for row in body["results"]] == ["thing-2", "thing-1"]
    assert body["results"][0]["actor"] == "bob@example.com" and body["next"]
    rest = api.get(body["next"]).json()
    assert [row["target"] for row in rest["results"]] == ["thing-0"]


def test_the_api_refuses_others_and_bad_filters_in_the_one_error_shape(api_for, world):
    for who in (world.bob, world.carol):
        refused = api_for(who).get("/api/v1/activity")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    api = api_for(world.alice)
    refused = api.get("/api/v1/activity?created_after=yesterday")
    assert refused.status_code == 400
    assert "created_after" in refused.json()["error"]["fields"]
    backwards = api.get("/api/v1/activity?created_after=2025-02-01&created_before=2025-01-01").json()
    assert backwards["error"]["fields"]["created_before"] == ["Must be on or after the start day."]


def test_the_api_list_queries_do_not_grow_with_rows(api_for, world):
    api = api_for(world.alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert api.get("/api/v1/activity?action=api.count").status_code == 200
        return len(context.captured_queries)

    queries()  # the first call also records the token's last use
    few = queries()
    events_of(world, 15, action="api.count")
    assert queries() == few


# --- operators ---


def test_operators_search_filter_and_export_in_the_admin(operator_client, world):
    record_event("file.deleted", actor=world.bob, tenant=world.tenant, target="old/run.log")
    record_event("file.deleted", actor=world.mallory, tenant=world.other, target="beta/run.log")
    found = operator_client.get("/admin/tenants/auditevent/?q=old/run.log")
    assert found.status_code == 200
    page = found.content.decode()
    assert "old/run.log" in page and "beta/run.log" not in page and "Export CSV" in page
    by_email = operator_client.get("/admin/tenants/auditevent/?q=mallory@example.com").content.decode()
    assert "beta/run.log" in by_email
    export = operator_client.get(
        f"/admin/tenants/auditevent/export/?action=file.deleted&tenant__id__exact={world.other.pk}"
    )
    rows = csv_rows(export)
    assert rows[0] == CSV_HEADER and [row[4] for row in rows[1:]] == ["beta/run.log"]


def test_the_admin_export_action_and_read_only_trail(operator_client, world):
    event = record_event("file.deleted", actor=world.bob, tenant=world.tenant, target="picked.log")
    response = operator_client.post(
        "/admin/tenants/auditevent/", {"action": "export_selected", "_selected_action": [event.pk]}
    )
    rows = csv_rows(response)
    assert [row[4] for row in rows[1:]] == ["picked.log"]
    assert operator_client.get("/admin/tenants/auditevent/add/").status_code == 403
    assert operator_client.post(f"/admin/tenants/auditevent/{event.pk}/delete/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_people_who_are_not_operators_cannot_reach_the_admin_trail(client_for, world):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(world.alice, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/tenants/auditevent/export/").status_code == 302  # to the admin's sign-in
