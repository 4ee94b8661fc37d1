"""The pages work under the Content-Security-Policy: Chromium reports no violation on any of them.

Chromium logs every refused script, style, image or connection as a console error that names the policy;
the chat page streams an answer over its websocket (connect-src) and renders it with markdown-it.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in_and_tokens import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

PAGES = [
    *("/", "/worksets/", "/worksets/new/", "/worksets/generator/", "/profiles/", "/costs/", "/files/"),
    *("/usage/", "/billing/", "/notifications/", "/members/", "/tokens/", "/knowledge/", "/api/docs/"),
]


def _violations(page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda m: found.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text else None,
    )
    return found


def test_every_page_loads_without_a_policy_violation(page, portal_server):
    violations = _violations(page)
    sign_in(page, portal_server, "alice@example.com")
    for path in PAGES:
        response = page.goto(portal_server.url("alpha", path))
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Runyard API")  # the docs page drew
    assert violations == []


def test_the_chat_streams_and_renders_markdown_under_the_policy(page, portal_server):
    violations = _violations(page)
    sign_in(page, portal_server, "alice@example.com")
    page.goto(portal_server.url("alpha", "/chat/"))
    expect(page.locator("[data-live-status]")).to_have_text("Live updates: on")
    page.get_by_test_id("chat-input").fill("Which worksets failed this week?")
    page.get_by_test_id("chat-send").click()
    answer = page.get_by_test_id("answer").last
    expect(page.locator(".chat-message.streaming")).to_have_count(0)
    expect(answer.locator("p, ul, ol, table").first).to_be_visible()  # HTML that markdown-it made
    assert violations == []
