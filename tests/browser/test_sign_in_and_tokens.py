"""Signing in, API tokens and dark mode, in real Chromium against a real daphne.

The server commits what the browser does, so every name is unique and no test counts rows globally.
"""

import re
from uuid import uuid4

import pytest
from playwright.sync_api import Page, expect

from tests.builders import PASSWORD

# django_db makes pytest-django create the test database the server runs on; this process writes nothing.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

LOGIN_PATH = "/accounts/login/"
THEME = "document.documentElement.dataset.theme"
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


def click_and_load(page: Page, target) -> None:
    """Click a link or submit button and wait for the page it leads to."""
    with page.expect_navigation():
        target.click()


def submit_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    click_and_load(page, page.get_by_role("button", name="Sign In"))


def sign_in(page: Page, server, email: str, *, slug: str = "alpha") -> None:
    page.goto(server.url(slug, LOGIN_PATH))
    submit_login(page, email, PASSWORD)
    expect(page).to_have_url(server.url(slug, "/"))


@pytest.fixture
def alice(page, portal_server) -> Page:
    sign_in(page, portal_server, "alice@example.com")
    return page


def create_token(page: Page, name: str) -> str:
    page.get_by_label("Name").fill(name)
    click_and_load(page, page.get_by_role("button", name="Create token"))
    expect(page.get_by_test_id("new-token")).to_be_visible()
    return page.locator("#new-token-key").inner_text().strip()


def token_rows(page: Page, name: str):
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))


def revoke_tokens(page: Page, name: str) -> None:
    active = token_rows(page, name).filter(has=page.get_by_role("button", name="Revoke"))
    while active.count():
        click_and_load(page, active.first.get_by_role("button", name="Revoke"))
        expect(page.get_by_text(f"Token “{name}” revoked.")).to_be_visible()


def me(server, slug: str, key: str):
    with server.api(slug) as client:
        return client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})


def luminance(css_rgb: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_rgb)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_alice_is_sent_to_sign_in_and_lands_on_her_dashboard(page, portal_server):
    page.goto(portal_server.url("alpha"))
    expect(page).to_have_url(portal_server.url("alpha", f"{LOGIN_PATH}?next=/"))

    submit_login(page, "alice@example.com", PASSWORD)

    expect(page).to_have_url(portal_server.url("alpha", "/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha")
    expect(page.get_by_test_id("tenant")).to_have_text("Alpha")
    expect(page.get_by_test_id("who")).to_contain_text("alice@example.com")
    expect(page.get_by_test_id("who").locator(".pill")).to_have_text("owner")


def test_a_new_token_is_shown_once_works_only_on_its_tenant_and_stops_when_revoked(
    alice, portal_server, shots_dir
):
    click_and_load(alice, alice.get_by_role("link", name="API tokens", exact=True))
    expect(alice).to_have_url(portal_server.url("alpha", "/tokens/"))
    name = f"browser-{uuid4().hex[:12]}"

    key = create_token(alice, name)

    assert key.startswith("ry_")
    alice.screenshot(path=shots_dir / "tokens-new-key.png", full_page=True)
    alice.goto(portal_server.url("alpha", "/tokens/"))
    expect(alice.get_by_test_id("new-token")).to_have_count(0)
    expect(token_rows(alice, name)).to_have_count(1)
    assert key not in alice.content()

    response = me(portal_server, "alpha", key)
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == "alpha"
    assert response.json()["user"]["email"] == "alice@example.com"
    assert response.json()["role"] == "owner"
    elsewhere = me(portal_server, "beta", key)
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"]["code"] == "authentication_failed"

    revoke_tokens(alice, name)

    expect(token_rows(alice, name).locator(".pill")).to_have_text("revoked")
    revoked = me(portal_server, "alpha", key)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "authentication_failed"


def test_reloading_after_creating_a_token_neither_shows_a_key_nor_creates_another(alice, portal_server):
    alice.goto(portal_server.url("alpha", "/tokens/"))
    name = f"browser-{uuid4().hex[:12]}"
    create_token(alice, name)
    try:
        alice.reload()

        expect(alice.get_by_test_id("new-token")).to_have_count(0, timeout=1000)
        expect(token_rows(alice, name)).to_have_count(1, timeout=1000)
    finally:
        alice.goto(portal_server.url("alpha", "/tokens/"))
        revoke_tokens(alice, name)


def test_dark_mode_changes_the_background_and_survives_a_reload(alice, portal_server, shots_dir):
    assert alice.evaluate(THEME) == "light"
    light = alice.evaluate(BACKGROUND)
    alice.screenshot(path=shots_dir / "dashboard-light.png", full_page=True)

    alice.locator("#theme-toggle").click()

    assert alice.evaluate(THEME) == "dark"
    dark = alice.evaluate(BACKGROUND)
    assert dark != light and luminance(dark) < luminance(light)
    alice.screenshot(path=shots_dir / "dashboard-dark.png", full_page=True)
    alice.reload()
    assert alice.evaluate(THEME) == "dark"
    assert alice.evaluate(BACKGROUND) == dark
    click_and_load(alice, alice.get_by_role("link", name="API tokens", exact=True))
    assert alice.evaluate(THEME) == "dark"
    alice.screenshot(path=shots_dir / "tokens-dark.png", full_page=True)

    alice.locator("#theme-toggle").click()
    alice.reload()
    assert alice.evaluate(THEME) == "light"
    assert alice.evaluate(BACKGROUND) == light


def test_a_member_of_another_tenant_is_refused_like_a_wrong_password(page, portal_server, shots_dir):
    page.goto(portal_server.url("alpha", LOGIN_PATH))
    errors = page.locator(".errorlist.nonfield")
    submit_login(page, "alice@example.com", "not-" + PASSWORD)
    expect(errors).to_be_visible()
    wrong_password = errors.inner_text()

    submit_login(page, "mallory@example.com", PASSWORD)

    expect(page).to_have_url(portal_server.url("alpha", LOGIN_PATH))
    expect(page.get_by_label("Email")).to_have_value("mallory@example.com")
    expect(errors).to_have_text(wrong_password)
    expect(page.get_by_test_id("who")).to_have_count(0)
    page.screenshot(path=shots_dir / "login-refused.png", full_page=True)
    page.goto(portal_server.url("alpha", "/tokens/"))
    expect(page).to_have_url(portal_server.url("alpha", f"{LOGIN_PATH}?next=/tokens/"))
