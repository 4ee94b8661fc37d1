"""The Activity page in real Chromium against daphne: an owner's change shows with the browser's address and
user agent, the filters narrow it, the export link carries them, and the page keeps to the CSP."""

from uuid import uuid4

import pytest
from playwright.sync_api import expect

from tests.browser.test_content_security_policy import _violations
from tests.browser.test_sign_in_and_tokens import click_and_load, create_token, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def test_an_owner_finds_her_change_on_the_activity_page(page, portal_server):
    violations = _violations(page)
    name = f"activity-{uuid4().hex[:8]}"
    sign_in(page, portal_server, "alice@example.com")
    page.goto(portal_server.url("alpha", "/tokens/"))
    create_token(page, name)
    click_and_load(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity"))
    page.get_by_label("Search").fill(name)
    click_and_load(page, page.get_by_role("button", name="Filter"))
    rows = page.get_by_test_id("activity").locator("tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("token.created")
    expect(row).to_contain_text("alice@example.com")
    expect(row).to_contain_text("127.0.0.1")
    expect(row.locator("[title]")).to_have_attribute("title", page.evaluate("navigator.userAgent"))
    export = page.get_by_test_id("export-csv").get_attribute("href")
    assert export == f"/activity.csv?q={name}"
    with portal_server.api("alpha") as client:
        client.cookies.update({c["name"]: c["value"] for c in page.context.cookies()})
        body = client.get(export).text
    assert body.splitlines()[0].startswith("created,tenant,actor,action,target,source,ip")
    assert len(body.splitlines()) == 2 and f",token.created,{name},web,127.0.0.1," in body
    assert violations == []
