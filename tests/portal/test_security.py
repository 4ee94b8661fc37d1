"""Security settings through the public surface: production checks, headers, CORS, rate limits, passwords."""

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from tenants.models import Tenant
from tests.builders import PASSWORD, ensure_user, make_token

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _production_env(**extra) -> dict[str, str]:
    return {
        **os.environ,
        "RUNYARD_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "RUNYARD_BASE_DOMAIN": "runyard.example.com",
        "DEBUG": "false",
        **extra,
    }


def _production_settings(**extra) -> dict:
    names = [
        "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SESSION_COOKIE_AGE", "SESSION_SAVE_EVERY_REQUEST",
        "CORS_ALLOWED_ORIGINS",
    ]  # fmt: skip
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=_production_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_pass_django_s_deployment_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=TEMPLATES.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Deployment checks (security.*, csp, corsheaders) report nothing, not even a warning.
    output = result.stdout + result.stderr
    assert re.findall(r"\((security|csp|corsheaders)\.[A-Z]\d+\)", output) == [], output


def test_production_cookies_are_secure_and_https_is_enforced_behind_the_proxy():
    values = _production_settings(SECURE_HSTS_SECONDS="600", SESSION_COOKIE_AGE="3600")
    assert (
        values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    )
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] == 600 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SESSION_COOKIE_AGE"] == 3600 and values["SESSION_SAVE_EVERY_REQUEST"] is True
    assert values["CORS_ALLOWED_ORIGINS"] == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS must be an integer"),
        ({"RUNYARD_RATE_UPLOADS": "lots"}, "RUNYARD_RATE_UPLOADS must be a rate such as 20/5m"),
        ({"RUNYARD_RATE_API_TOKEN": "0/m"}, "RUNYARD_RATE_API_TOKEN must be a rate"),
        ({"RUNYARD_BEHIND_PROXY": "perhaps"}, "RUNYARD_BEHIND_PROXY must be a boolean"),
    ],
)
def test_bad_security_settings_stop_the_process_with_a_clear_message(env, message):
    script = "import django; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_behind_the_proxy_plain_http_is_redirected_and_https_gets_hsts(client_for, world):
    with override_settings(
        SECURE_SSL_REDIRECT=True,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        SECURE_HSTS_SECONDS=600,
    ):
        plain = client_for(world.alice).get("/")
        assert plain.status_code == 301 and plain["Location"] == "https://alpha.localhost/"
        secure = client_for(world.alice).get("/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=600; includeSubDomains"


def test_pages_carry_a_strict_content_security_policy(client_for, world):
    response = client_for(world.bob).get("/chat/")
    assert response.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["connect-src"] == "'self' ws://alpha.localhost"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_inline_scripts_styles_or_event_handlers():
    """The CSP forbids them: every script is a file under static/js (JSON data blocks are not run)."""
    problems = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                problems.append(f"{template}: {tag}")
        problems += [f"{template}: {m}" for m in re.findall(r"<[^>]*\son[a-z]+\s*=", text)]
        problems += [f"{template}: {m}" for m in re.findall(r"<style\b|\sstyle\s*=", text)]
    assert problems == []


def test_cors_is_closed_by_default_and_open_to_a_configured_origin(api_for, world):
    client = api_for(world.bob)
    unknown = client.get("/api/v1/me", HTTP_ORIGIN="https://evil.example.net")
    assert unknown.status_code == 200
    assert "Access-Control-Allow-Origin" not in unknown
    with override_settings(CORS_ALLOWED_ORIGINS=["https://dash.example.com"]):
        preflight = client.options(
            "/api/v1/me",
            HTTP_ORIGIN="https://dash.example.com",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
        )
        allowed = client.get("/api/v1/me", HTTP_ORIGIN="https://dash.example.com")
        still_unknown = client.get("/api/v1/me", HTTP_ORIGIN="https://evil.example.net")
    assert preflight["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert allowed["Access-Control-Allow-Origin"] == "https://dash.example.com"
    assert "Access-Control-Allow-Credentials" not in allowed
    assert "Access-Control-Allow-Origin" not in still_unknown


@override_settings(RUNYARD_RATE_API_TOKEN="3/h")
def test_a_token_past_its_rate_gets_429_in_the_error_shape_and_other_tokens_still_work(api_for, world):
    client = api_for(world.bob)
    assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/me")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert "too many requests" in refused.json()["error"]["message"]
    assert int(refused["Retry-After"]) >= 1
    assert api_for(world.bob).get("/api/v1/me").status_code == 200  # a new token counts on its own
    assert api_for(world.mallory, world.other).get("/api/v1/me").status_code == 200


def _upload(name: str) -> dict:
    return {"file": SimpleUploadedFile(name, b"ACGT\n"), "prefix": "inputs/"}


@override_settings(RUNYARD_RATE_UPLOADS="2/h")
def test_uploads_are_limited_per_user_across_session_and_token(client_for, api_for, world):
    user = ensure_user(f"uploader-{uuid.uuid4().hex[:6]}@example.com")
    world.tenant.memberships.create(user=user, role="member")
    page_client = client_for(user)
    assert page_client.post("/api/v1/files/upload", _upload("a.txt")).status_code == 201
    token_client = api_for(user)
    assert token_client.post("/api/v1/files/upload", _upload("b.txt")).status_code == 201
    refused = token_client.post("/api/v1/files/upload", _upload("c.txt"))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    page = page_client.post("/profiles/", {"file": SimpleUploadedFile("p.callgrind", b"events: Ir\n")})
    assert page.status_code == 429
    assert b"Too many uploads" in page.content
    assert api_for(world.bob).post("/api/v1/files/upload", _upload("d.txt")).status_code == 201


def _sign_in(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_failed_sign_ins_are_limited_per_account(db, world):
    limits = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "100/5m/ip,2/5m/key"}
    client = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR=f"10.{uuid.uuid4().int % 250}.1.1")
    with override_settings(ACCOUNT_RATE_LIMITS=limits):
        for _ in range(2):
            assert b"not correct" in _sign_in(client, "carol@example.com", "wrong-password-1").content
        blocked = _sign_in(client, "carol@example.com", PASSWORD)  # even the right password, now
        assert blocked.status_code == 200 and b"Too many failed login attempts" in blocked.content
        other = _sign_in(client, "bob@example.com", PASSWORD)  # another account from the same address
    assert other.status_code == 302


def test_sign_in_attempts_are_limited_per_address(db, world):
    limits = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    address = f"10.{uuid.uuid4().int % 250}.2.2"
    client = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR=address)
    with override_settings(ACCOUNT_RATE_LIMITS=limits):
        statuses = [_sign_in(client, "carol@example.com", "wrong-password-1").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw-9", "at least 12 characters"),
        ("123456789012345", "entirely numeric"),
        ("password1234", "too common"),
        ("carol-example-com", "too similar"),
    ],
)
def test_password_changes_follow_the_password_policy(client_for, world, password, message):
    client = client_for(world.carol)
    response = client.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": password, "password2": password}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Client(HTTP_HOST="alpha.localhost").login(email="carol@example.com", password=PASSWORD)


def test_sessions_renew_on_every_request_and_cookies_are_http_only(client_for, world):
    response = client_for(world.bob).get("/")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_secrets_never_reach_the_logs_of_refused_requests(db, world, caplog):
    key = make_token(world.mallory, world.other)
    with caplog.at_level(logging.DEBUG):
        stranger = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
        stranger.cookies[settings.SESSION_COOKIE_NAME] = "s3cr3t-session-value-0123456789"
        assert stranger.get("/api/v1/me").status_code == 401
        assert stranger.get("/worksets/no-such/").status_code in (302, 404)
    assert caplog.records  # the refusals were logged ...
    assert key not in caplog.text and key.split("_")[-1] not in caplog.text  # ... without the token
    assert "s3cr3t-session-value" not in caplog.text


def test_behind_a_proxy_sign_in_limits_count_per_forwarded_client_address(db, world):
    limits = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    proxy = f"10.{uuid.uuid4().int % 250}.3.3"
    first, second = (f"203.0.113.{uuid.uuid4().int % 250}", f"198.51.100.{uuid.uuid4().int % 250}")

    def attempt(client_address: str, claimed: str = "") -> int:
        forwarded = ", ".join(filter(None, [claimed, client_address]))  # the proxy appends the real one
        client = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded)
        return _sign_in(client, "carol@example.com", "wrong-password-1").status_code

    with override_settings(ACCOUNT_RATE_LIMITS=limits, RUNYARD_CLIENT_IP_HEADER="X-Forwarded-For"):
        assert [attempt(first), attempt(first, claimed="192.0.2.7"), attempt(first)] == [200, 200, 429]
        assert attempt(second) == 200  # another client behind the same proxy is not blocked


def test_the_tenant_command_refuses_an_owner_password_that_fails_the_policy(db):
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("tenant", "create", "weakpw", "--name", "Weak", "--owner", "o@weakpw.example",
                     "--owner-password", "short-9")  # fmt: skip
    assert not Tenant.objects.filter(slug="weakpw").exists()


@pytest.mark.usefixtures("private_channel_layer", "consumer_connection")
def test_a_model_provider_key_never_reaches_the_logs_when_the_model_fails(db, world, api_for, caplog):
    from tenants.models import AssistantSettings
    from tests.chat.model_server import ModelServer, status

    provider_key = f"sk-secret-{uuid.uuid4().hex}"
    api = api_for(world.bob)
    with (
        ModelServer() as model,
        override_settings(CHAT_PROVIDER_KEYS={"alpha": provider_key}),
        caplog.at_level(logging.DEBUG),
    ):
        AssistantSettings.objects.create(
            tenant=world.tenant, provider="openai", base_url=f"{model.url}/v1", model="gpt-test", timeout=5
        )
        model.play(status(401, {"error": {"message": f"Incorrect API key {provider_key}"}}))
        response = api.post("/api/v1/chat/conversations/ask", {"text": "How is the queue?"}, format="json")
    assert response.status_code == 201
    assert response.json()["reply"]["provider"] == "analyst"  # the model failed; the analyst answered
    assert model.requests and model.requests[0].headers["authorization"] == f"Bearer {provider_key}"
    assert caplog.records
    assert provider_key not in caplog.text and provider_key not in response.content.decode()


def _admin_sign_in(address: str, username: str) -> int:
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR=address)
    return client.post("/admin/login/", {"username": username, "password": "wrong-password-1"}).status_code


@override_settings(RUNYARD_RATE_LOGIN_PER_IP="100/h", RUNYARD_RATE_LOGIN_FAILURES_PER_ACCOUNT="2/h")
def test_the_admin_sign_in_is_limited_per_account(db, world):
    account = f"op-{uuid.uuid4().hex[:6]}@example.com"
    addresses = [f"10.{n}.{uuid.uuid4().int % 250}.4" for n in (1, 2, 3)]  # a spread-out attacker
    assert [_admin_sign_in(address, account) for address in addresses] == [200, 200, 429]
    assert _admin_sign_in(addresses[0], "operator@example.com") == 200


@override_settings(RUNYARD_RATE_LOGIN_PER_IP="2/h", RUNYARD_RATE_LOGIN_FAILURES_PER_ACCOUNT="100/h")
def test_the_admin_sign_in_is_limited_per_address(db, world):
    address = f"10.{uuid.uuid4().int % 250}.5.5"
    statuses = [_admin_sign_in(address, f"guess-{n}@example.com") for n in range(3)]
    assert statuses == [200, 200, 429]
    assert _admin_sign_in(f"10.{uuid.uuid4().int % 250}.6.6", "operator@example.com") == 200
