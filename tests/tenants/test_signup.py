"""Self-service sign-up on the public host: register, verify the email, a workspace is provisioned."""

import re
import time
from datetime import timedelta

import boto3
import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_exists

from tenants.models import Bucket, Membership, Quota, Signup, Tenant, User
from tests.broker import broker_down

pytestmark = pytest.mark.django_db

PASSWORD = "quiet-lantern-harbour-47"


@pytest.fixture
def signup_on(settings):
    settings.SELF_SERVICE_SIGNUP = True


@pytest.fixture
def public():
    return Client(HTTP_HOST="localhost")


def _form(**overrides) -> dict:
    return {
        "organisation": "Kappa Labs",
        "slug": "kappa",
        "email": "founder@kappa.example",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


def _register(client, capture, **overrides):
    with capture(execute=True):
        return client.post("/signup/", _form(**overrides))


def _link_from_mail() -> str:
    match = re.search(r"http://localhost:\d+(/signup/verify/[^/\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_signup_pages_do_not_exist_while_the_setting_is_off(world, public, settings):
    settings.SELF_SERVICE_SIGNUP = False
    code = "00000000-0000-0000-0000-000000000000"
    for path in ("/signup/", f"/signup/{code}/", f"/signup/{code}/status", "/signup/verify/x/"):
        assert public.get(path).status_code == 404, path
    assert public.post("/signup/", _form()).status_code == 404
    landing = public.get("/")
    assert landing.status_code == 200 and "/signup/" not in landing.content.decode()
    assert not User.objects.filter(email="founder@kappa.example").exists()


def test_the_landing_page_links_to_signup_when_it_is_on(world, public, signup_on):
    assert 'href="/signup/"' in public.get("/").content.decode()
    page = public.get("/signup/")
    assert page.status_code == 200
    assert "js/signup.js" in page.content.decode()


def test_a_new_customer_registers_verifies_and_gets_a_workspace(
    world, public, signup_on, s3_server, django_capture_on_commit_callbacks
):
    response = _register(public, django_capture_on_commit_callbacks)
    signup = Signup.objects.get(slug="kappa")
    assert response.status_code == 302 and response["Location"] == f"/signup/{signup.code}/"
    assert signup.state == "pending"
    user = User.objects.get(email="founder@kappa.example")
    assert not user.memberships.exists()
    assert not user.emailaddress_set.get().verified
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["founder@kappa.example"]
    assert public.get(f"/signup/{signup.code}/status").json()["state"] == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        verified = public.get(_link_from_mail())
    assert verified.status_code == 302 and verified["Location"] == f"/signup/{signup.code}/"

    signup.refresh_from_db()
    assert signup.state == "ready" and signup.tenant.slug == "kappa"
    tenant = Tenant.objects.get(slug="kappa")
    assert schema_exists(tenant.schema_name)
    assert Membership.objects.get(tenant=tenant, user=user).role == "owner"
    assert user.emailaddress_set.get().verified
    assert Quota.objects.filter(tenant=tenant).exists()
    bucket = Bucket.objects.get(tenant=tenant)
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )
    assert bucket.name in {b["Name"] for b in s3.list_buckets()["Buckets"]}

    status = public.get(f"/signup/{signup.code}/status").json()
    assert status["state"] == "ready" and status["percent"] == 100
    assert [step["state"] for step in status["steps"]] == ["done"] * 4
    assert status["login_url"] == "http://kappa.localhost:8000/accounts/login/"
    page = public.get(f"/signup/{signup.code}/").content.decode()
    assert "http://kappa.localhost:8000/accounts/login/" in page

    owner = Client(HTTP_HOST="kappa.localhost")
    signed_in = owner.post("/accounts/login/", {"login": "founder@kappa.example", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    assert "founder@kappa.example" in owner.get("/").content.decode()


def test_provisioning_twice_does_nothing_the_second_time(
    world, public, signup_on, django_capture_on_commit_callbacks
):
    from tenants.tasks import provision_signup_task

    _register(public, django_capture_on_commit_callbacks, slug="lambda-co", email="l@lambda.example")
    with django_capture_on_commit_callbacks(execute=True):
        public.get(_link_from_mail())
    signup = Signup.objects.get(slug="lambda-co")
    assert signup.state == "ready"
    assert provision_signup_task.delay(str(signup.code)).get() == "ready"
    assert Tenant.objects.filter(slug="lambda-co").count() == 1
    assert public.get(_link_from_mail()).status_code == 302  # a second click changes nothing


def _status(client, signup) -> str:
    return client.get(f"/signup/{signup.code}/status").json()["state"]


def _resume() -> list[str]:
    """What beat sends each minute (public schema)."""
    from tenants.tasks import resume_signups_task

    return resume_signups_task.delay().get()


def test_a_signup_verified_while_the_broker_is_down_is_provisioned_by_the_sweep_once(
    world, public, signup_on, django_capture_on_commit_callbacks
):
    _register(public, django_capture_on_commit_callbacks, slug="nu-lab", email="n@nu.example")
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        verified = public.get(_link_from_mail())
    signup = Signup.objects.get(slug="nu-lab")
    assert verified.status_code == 302 and _status(public, signup) == "queued"  # the send was lost

    assert _resume() == []  # verified just now: its first send may still be on its way
    Signup.objects.filter(pk=signup.pk).update(verified_at=timezone.now() - timedelta(seconds=301))
    assert _resume() == [str(signup.code)]
    assert _status(public, signup) == "ready"
    assert _resume() == []
    assert Tenant.objects.filter(slug="nu-lab").count() == 1
    assert Membership.objects.get(tenant__slug="nu-lab").user.email == "n@nu.example"


def test_a_provisioning_that_died_half_way_is_queued_again_once_its_run_is_surely_gone(
    world, public, signup_on, django_capture_on_commit_callbacks
):
    _register(public, django_capture_on_commit_callbacks, slug="xi-lab", email="x@xi.example")
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        public.get(_link_from_mail())
    signup = Signup.objects.get(slug="xi-lab")
    claimed = timezone.now() - timedelta(seconds=200)  # a worker claimed it 200 s ago, then died
    Signup.objects.filter(pk=signup.pk).update(
        state="provisioning", claimed_at=claimed, verified_at=claimed - timedelta(seconds=1)
    )

    assert _resume() == []  # within the task's 300 s limit its run may still be going
    assert _status(public, signup) == "provisioning"
    Signup.objects.filter(pk=signup.pk).update(claimed_at=claimed - timedelta(seconds=161))
    assert _resume() == [str(signup.code)]
    assert _status(public, signup) == "ready"
    assert Tenant.objects.filter(slug="xi-lab").count() == 1


def test_a_slug_taken_before_provisioning_fails_with_a_readable_error(
    world, public, signup_on, django_capture_on_commit_callbacks
):
    _register(public, django_capture_on_commit_callbacks, slug="mu-lab", email="m@mu.example")
    from tests.builders import make_tenant

    make_tenant("mu-lab")  # an operator onboarded the same address in between
    with django_capture_on_commit_callbacks(execute=True):
        public.get(_link_from_mail())
    signup = Signup.objects.get(slug="mu-lab")
    assert signup.state == "failed"
    assert "mu-lab" in signup.error and "already exists" in signup.error
    status = public.get(f"/signup/{signup.code}/status").json()
    assert status["state"] == "failed" and status["error"] == signup.error
    assert status["login_url"] == ""

    again = _register(public, django_capture_on_commit_callbacks, slug="mu-lab-2", email="m@mu.example")
    assert again.status_code == 302  # the failed attempt does not lock the address out
    assert Signup.objects.filter(email="m@mu.example", state="pending").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"slug": "alpha"}, "slug", "already exists"),
        ({"slug": "Not A Slug"}, "slug", "lowercase"),
        ({"slug": "www"}, "slug", "reserved"),
        ({"email": "alice@example.com"}, "email", "already exists"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password1": "1234567890123", "password2": "1234567890123"}, "password1", "entirely numeric"),
        ({"password2": "something-else-entirely"}, "password2", "differ"),
    ],
)
def test_bad_sign_ups_show_form_errors_and_create_nothing(
    world, public, signup_on, django_capture_on_commit_callbacks, overrides, field, message
):
    users, signups = User.objects.count(), Signup.objects.count()
    response = _register(public, django_capture_on_commit_callbacks, **overrides)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert message in response.content.decode().replace("&#x27;", "'")
    assert (User.objects.count(), Signup.objects.count()) == (users, signups)
    assert mail.outbox == []


def test_a_slug_held_by_a_pending_signup_is_taken(
    world, public, signup_on, django_capture_on_commit_callbacks
):
    _register(public, django_capture_on_commit_callbacks, slug="nu-lab", email="first@nu.example")
    second = _register(public, django_capture_on_commit_callbacks, slug="nu-lab", email="second@nu.example")
    assert "already taken" in " ".join(second.context["form"].errors["slug"])
    assert Signup.objects.filter(slug="nu-lab").count() == 1


class FourDaysAgo(signing.TimestampSigner):
    """Signs as if it were four days ago: a link one day past its three days."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 4 * 24 * 3600)


@pytest.mark.parametrize("reason", ["tampered", "expired", "unknown"])
def test_a_bad_verification_link_shows_a_clear_page_and_creates_nothing(
    world, public, signup_on, django_capture_on_commit_callbacks, reason
):
    from tenants.services.signup import VERIFY_SALT, verification_token

    _register(public, django_capture_on_commit_callbacks, slug="xi-lab", email="x@xi.example")
    signup = Signup.objects.get(slug="xi-lab")
    if reason == "tampered":
        token = verification_token(signup)[:-2] + "xx"
    elif reason == "expired":
        token = FourDaysAgo(salt=VERIFY_SALT).sign_object({"signup": str(signup.code)})
    else:
        token = signing.dumps({"signup": "00000000-0000-0000-0000-000000000000"}, salt=VERIFY_SALT)
    response = public.get(f"/signup/verify/{token}/")
    assert response.status_code == 400
    page = response.content.decode()
    expected = {"tampered": "not valid", "expired": "expired", "unknown": "does not belong"}[reason]
    assert expected in page and 'href="/signup/"' in page
    signup.refresh_from_db()
    assert signup.state == "pending" and signup.tenant is None
    assert not signup.user.emailaddress_set.get().verified
    assert not Tenant.objects.filter(slug="xi-lab").exists()


def test_the_progress_page_renders_and_unknown_codes_are_404(
    world, public, signup_on, django_capture_on_commit_callbacks
):
    _register(public, django_capture_on_commit_callbacks, slug="omicron", email="o@omicron.example")
    signup = Signup.objects.get(slug="omicron")
    page = public.get(f"/signup/{signup.code}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "o@omicron.example" in body and 'data-step="workspace"' in body and "js/signup.js" in body
    missing = "00000000-0000-0000-0000-000000000000"
    assert public.get(f"/signup/{missing}/").status_code == 404
    assert public.get(f"/signup/{missing}/status").status_code == 404


def test_signup_urls_do_not_exist_on_tenant_hosts(client_for, world, signup_on):
    assert client_for(world.mallory, world.tenant).get("/signup/").status_code == 404
