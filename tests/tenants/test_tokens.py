import re

from django.utils import timezone

from tenants.models import ApiToken
from tests.builders import make_token, minutes_from_now


def _create_on_page(client, name="ci", **extra) -> str:
    response = client.post("/tokens/", {"name": name, **extra}, follow=True)
    assert response.redirect_chain == [("/tokens/", 302)]
    match = re.search(r'id="new-token-key">(ry_[^<]+)<', response.content.decode())
    assert match, "the new key is shown once"
    return match.group(1)


def test_the_tokens_page_shows_a_new_key_once_and_stores_only_its_hash(client_for, world):
    client = client_for(world.bob)
    key = _create_on_page(client)
    token = ApiToken.objects.get(user=world.bob, name="ci")
    secret = key.split("_", 2)[2]  # ry_<key id>_<secret>; the secret itself may hold "_"
    assert secret not in token.secret_hash
    assert token.matches(secret)
    assert key not in client.get("/tokens/").content.decode()


def test_a_token_authenticates_on_its_tenant_host_and_records_last_use(client_for, world):
    key = _create_on_page(client_for(world.bob), name="integration")
    response = client_for(None).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    assert response.json()["role"] == "member"
    assert ApiToken.objects.get(user=world.bob, name="integration").last_used_at is not None


def test_a_token_sent_to_another_tenant_host_is_invalid(client_for, world):
    key = make_token(world.alice, world.tenant)
    response = client_for(None, world.other).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "authentication_failed", "message": "Invalid token."}


def test_expired_and_revoked_tokens_are_refused(client_for, api_for, world):
    expired = make_token(world.bob, world.tenant, name="soon", expires_at=minutes_from_now(1))
    ApiToken.objects.filter(name="soon").update(expires_at=timezone.now())
    anonymous = client_for(None)
    assert anonymous.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {expired}").status_code == 401

    api = api_for(world.bob)
    created = api.post("/api/v1/tokens", {"name": "short-lived"}, format="json").json()
    assert api.delete(f"/api/v1/tokens/{created['code']}").status_code == 204
    assert anonymous.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {created['key']}").status_code == 401
    assert ApiToken.objects.get(code=created["code"]).state == "revoked"


def test_a_token_whose_owner_left_the_tenant_stops_working(client_for, world):
    from tenants.models import Membership

    key = make_token(world.bob, world.tenant)
    Membership.objects.filter(user=world.bob, tenant=world.tenant).delete()
    assert client_for(None).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 404


def test_garbage_tokens_answer_401_not_500(client_for):
    client = client_for(None)
    for header in (
        "Bearer",
        "Bearer a b",
        "Bearer nonsense",
        "Bearer ry__",
        "Bearer ry_abc_def",
        "Token ry_x_y",
    ):
        assert client.get("/api/v1/me", HTTP_AUTHORIZATION=header).status_code == 401, header


def test_people_see_only_their_own_tokens(api_for, client_for, world):
    make_token(world.alice, world.tenant, name="alices")
    names = [row["name"] for row in api_for(world.bob).get("/api/v1/tokens").json()["results"]]
    assert "alices" not in names
    alices = ApiToken.objects.get(name="alices")
    assert api_for(world.bob).delete(f"/api/v1/tokens/{alices.code}").status_code == 404
    assert client_for(world.bob).post(f"/tokens/{alices.code}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=alices.pk).state == "active"


def test_a_token_expiring_in_the_past_is_refused_with_a_field_error(client_for, world):
    response = client_for(world.bob).post("/tokens/", {"name": "x", "expires_in_days": "0"})
    assert "expires_in_days" in response.context["form"].errors
    assert not ApiToken.objects.filter(user=world.bob, name="x").exists()


def test_the_token_command_prints_a_working_key(world, client_for):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("token", email="carol@example.com", tenant="alpha", name="cli", stdout=out)
    key = out.getvalue().strip()
    response = client_for(None).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.json()["role"] == "viewer"
