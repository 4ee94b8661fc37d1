import re

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time


def _totp(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def _sign_in(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_a_member_signs_in_with_email_and_password(client_for, world):
    from tests.builders import PASSWORD

    client = client_for(None)
    response = _sign_in(client, "bob@example.com", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert "bob@example.com" in client.get("/").content.decode()


def test_a_non_member_is_refused_like_a_wrong_password(client_for, world):
    from tests.builders import PASSWORD

    client = client_for(None)
    refused = _sign_in(client, "mallory@example.com", PASSWORD)
    wrong = _sign_in(client_for(None), "bob@example.com", "not-the-password")
    assert refused.status_code == wrong.status_code == 200
    assert refused.context["form"].errors == wrong.context["form"].errors
    assert client.get("/").status_code == 302  # still signed out


def test_totp_is_set_up_and_then_asked_at_sign_in(client_for, world):
    from tenants.models import Membership
    from tests.builders import PASSWORD, ensure_user

    user = ensure_user("erin@example.com")
    Membership.objects.create(user=user, tenant=world.tenant, role="member")
    client = client_for(None)
    assert _sign_in(client, user.email, PASSWORD).status_code == 302

    reauth = client.post(
        "/accounts/reauthenticate/", {"password": PASSWORD}
    )  # allauth asks before MFA changes
    assert reauth.status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    activated = client.post("/accounts/2fa/totp/activate/", {"code": _totp(secret)})
    assert activated.status_code == 302
    client.post("/accounts/logout/")

    response = _sign_in(client, user.email, PASSWORD)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/").status_code == 302, "not signed in before the second factor"
    wrong = client.post(
        "/accounts/2fa/authenticate/", {"code": "000000" if _totp(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and wrong.context["form"].errors
    done = client.post("/accounts/2fa/authenticate/", {"code": _totp(secret)})
    assert done.status_code == 302, done.context["form"].errors if done.context else done.content[:500]
    assert client.get("/").status_code == 200


def test_password_reset_mail_points_at_the_tenant_host(client_for, world, mailoutbox):
    client = client_for(None)
    client.post("/accounts/password/reset/", {"email": "bob@example.com"})
    assert len(mailoutbox) == 1
    link = re.search(r"http://alpha\.localhost\S+", mailoutbox[0].body)
    assert link, mailoutbox[0].body


def test_repeated_wrong_passwords_are_throttled(client_for, world):
    from tests.builders import PASSWORD

    client = client_for(None)
    for n in range(5):
        _sign_in(client, "carol@example.com", f"wrong-{n}")
    blocked = _sign_in(client, "carol@example.com", PASSWORD)  # even the right password, for a while
    assert blocked.status_code == 200
    assert "Too many failed login attempts" in blocked.content.decode()
    assert client.get("/").status_code == 302


def test_an_invited_person_sets_a_password_from_the_email_and_signs_in(
    client_for, world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.alice).post("/members/", {"email": "frank@example.com", "role": "member"})
    link = re.search(r"http://alpha\.localhost(?::\d+)?(/\S+)", mailoutbox[-1].body).group(1)
    client = client_for(None)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200, form_page.redirect_chain
    new_password = "a-fresh-passphrase-42"
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": new_password, "password2": new_password},
    )
    assert done.status_code == 302, done.context["form"].errors if done.context else done.content[:500]
    signed_in = _sign_in(client_for(None), "frank@example.com", new_password)
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/"  # the emailed link proved the address: no second verification
