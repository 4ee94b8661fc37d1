"""The chat in real Chromium: alice opens Chat, asks, watches the answer stream in with its "looked up …"
card, finds the conversation again after a reload, and reads it in dark mode too."""

import re
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in_and_tokens import THEME, sign_in
from tests.builders import committed, make_workset

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# Every length the answer's text takes on screen, so the test sees it grow piece by piece.
WATCH_ANSWER = """() => {
  window.__answerLengths = [];
  new MutationObserver(() => {
    const answers = document.querySelectorAll('[data-testid=answer]');
    if (answers.length) window.__answerLengths.push(answers[answers.length - 1].textContent.length);
  }).observe(document.querySelector('[data-chat-messages]'),
             {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture
def workset(world):
    made = []

    def create():
        made.append(make_workset(world.tenant, state="queued", name=f"Chat browser {uuid4().hex[:6]}"))

    committed(world.tenant, create)
    yield made[0]

    def remove():
        made[0].transition_to("cancelled", reason="test over")

    committed(world.tenant, remove)


def test_alice_asks_and_sees_the_streamed_answer_and_its_tool_card(page, portal_server, workset, shots_dir):
    sign_in(page, portal_server, "alice@example.com")
    page.get_by_role("link", name="Chat", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ask Runyard")
    expect(page.locator("[data-live-status]")).to_have_text("Live updates: on")
    page.evaluate(WATCH_ANSWER)

    page.get_by_test_id("chat-input").fill(f"What's the status of workset {workset.code}?")
    page.get_by_test_id("chat-send").click()

    answer = page.get_by_test_id("answer").last
    expect(answer).to_contain_text(workset.name)
    expect(page.locator(".chat-message.streaming")).to_have_count(0)
    lengths = page.evaluate("window.__answerLengths")
    assert len(set(lengths) - {0}) > 2, lengths  # it grew in pieces (Markdown may shrink as a ** closes)
    card = page.get_by_test_id("tool-card").last
    expect(card).to_contain_text(f"Looked up: Status of workset {workset.code}")
    card.locator("summary").click()
    expect(card.get_by_role("link").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))
    page.screenshot(path=shots_dir / "chat-light.png", full_page=True)

    page.reload()
    expect(page.get_by_test_id("answer").last).to_contain_text(workset.name)
    expect(
        page.get_by_role("link", name=f"What's the status of workset {workset.code}?"[:59])
    ).to_be_visible()
    page.locator("#theme-toggle").click()
    assert page.evaluate(THEME) == "dark"
    page.screenshot(path=shots_dir / "chat-dark.png", full_page=True)


def test_raw_html_in_a_question_is_shown_as_text(page, portal_server):
    sign_in(page, portal_server, "bob@example.com")
    page.goto(portal_server.url("alpha", "/chat/"))
    expect(page.locator("[data-live-status]")).to_have_text("Live updates: on")
    page.get_by_test_id("chat-input").fill('<img src=x onerror="window.__owned=1"> files named "<b>x</b>"')
    page.get_by_test_id("chat-send").click()
    expect(page.locator(".chat-message.role-user").last).to_contain_text("<img src=x")
    expect(page.locator(".chat-message.streaming")).to_have_count(0)
    assert page.evaluate("window.__owned") is None
    assert page.locator(".chat-messages img").count() == 0
