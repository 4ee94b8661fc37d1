from tenants.models import Membership, Tenant
from tenants.services import set_tenant_status


def test_anonymous_visitors_are_sent_to_sign_in(client_for):
    response = client_for(None).get("/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/members/")


def test_each_role_sees_every_page(client_for, world):
    for user in (world.alice, world.bob, world.carol):
        client = client_for(user)
        for page in ("/", "/tokens/", "/members/"):
            response = client.get(page)
            assert response.status_code == 200, (user.email, page)
            body = response.content.decode()
            assert "Alpha" in body and user.email in body


def test_viewers_may_read_but_not_write_through_the_api(api_for, world):
    api = api_for(world.carol)
    assert api.get("/api/v1/members").status_code == 200
    # tokens are personal: even viewers manage their own
    assert api.post("/api/v1/tokens", {"name": "mine"}, format="json").status_code == 201


def test_only_owners_and_admins_manage_members(client_for, world):
    bob = client_for(world.bob)
    assert bob.post("/members/", {"email": "new@example.com", "role": "member"}).status_code == 403
    carol = Membership.objects.get(user=world.carol, tenant=world.tenant)
    assert bob.post(f"/members/{carol.code}/role/", {"role": "admin"}).status_code == 403
    assert bob.post(f"/members/{carol.code}/remove/").status_code == 403
    assert not Membership.objects.filter(user__email="new@example.com").exists()
    assert Membership.objects.get(pk=carol.pk).role == "viewer"


def test_an_owner_invites_someone_who_gets_an_email_to_set_a_password(
    client_for, world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.alice).post("/members/", {"email": "Dave@Example.com ", "role": "viewer"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="dave@example.com", tenant=world.tenant)
    assert membership.role == "viewer"
    assert len(mailoutbox) == 1 and "alpha.localhost" in mailoutbox[0].body
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_roles_change_but_the_last_owner_stays(client_for, world):
    alice = client_for(world.alice)
    bob = Membership.objects.get(user=world.bob, tenant=world.tenant)
    alice.post(f"/members/{bob.code}/role/", {"role": "admin"})
    assert Membership.objects.get(pk=bob.pk).role == "admin"
    own = Membership.objects.get(user=world.alice, tenant=world.tenant)
    response = alice.post(f"/members/{own.code}/role/", {"role": "member"}, follow=True)
    assert "A tenant keeps at least one owner." in response.content.decode()
    assert Membership.objects.get(pk=own.pk).role == "owner"


def test_an_admin_cannot_make_owners(client_for, world):
    Membership.objects.filter(user=world.bob, tenant=world.tenant).update(role="admin")
    carol = Membership.objects.get(user=world.carol, tenant=world.tenant)
    response = client_for(world.bob).post(f"/members/{carol.code}/role/", {"role": "owner"}, follow=True)
    assert "Only an owner can make someone an owner." in response.content.decode()
    assert Membership.objects.get(pk=carol.pk).role == "viewer"


def test_membership_codes_of_another_tenant_answer_404(client_for, world):
    mallory = Membership.objects.get(user=world.mallory, tenant=world.other)
    response = client_for(world.alice).post(f"/members/{mallory.code}/remove/")
    assert response.status_code == 404
    assert Membership.objects.filter(pk=mallory.pk).exists()


def test_a_suspended_tenant_shows_a_clear_page_and_refuses_writes(client_for, api_for, world):
    api = api_for(world.alice)
    set_tenant_status(world.tenant, Tenant.Status.SUSPENDED, actor=None)
    page = client_for(world.alice).get("/")
    assert page.status_code == 403
    assert "Alpha is suspended" in page.content.decode()
    assert api.get("/api/v1/me").status_code == 200
    refused = api.post("/api/v1/tokens", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "tenant_suspended"


def test_member_list_queries_do_not_grow_with_rows(api_for, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.builders import ensure_user

    api = api_for(world.alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert api.get("/api/v1/members").status_code == 200
        return len(context.captured_queries)

    queries()  # the first call also records the token's last use
    few = queries()
    for n in range(10):
        Membership.objects.create(user=ensure_user(f"m{n}@example.com"), tenant=world.tenant, role="viewer")
    assert queries() == few


def test_removing_members_follows_the_same_rules(client_for, world):
    from tenants.models import AuditEvent

    Membership.objects.filter(user=world.bob, tenant=world.tenant).update(role="admin")
    alice = Membership.objects.get(user=world.alice, tenant=world.tenant)
    response = client_for(world.bob).post(f"/members/{alice.code}/remove/", follow=True)
    assert "Only an owner can remove an owner." in response.content.decode()
    assert Membership.objects.filter(pk=alice.pk).exists()
    carol = Membership.objects.get(user=world.carol, tenant=world.tenant)
    client_for(world.bob).post(f"/members/{carol.code}/remove/")
    assert not Membership.objects.filter(pk=carol.pk).exists()
    assert AuditEvent.objects.filter(
        action="member.removed", actor=world.bob, target="carol@example.com"
    ).exists()
