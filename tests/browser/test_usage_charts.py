"""The usage page's charts in real Chromium: drawn from the page's JSON, recoloured with the theme.

A tenant of its own (unique slug) holds this month's usage, committed so the server sees it.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_sign_in_and_tokens import THEME, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

CHARTS = ("chart-daily", "chart-categories", "chart-comparison")
TICK_COLOUR = "Chart.getChart(document.getElementById('chart-daily')).options.scales.x.ticks.color"
TEXT_COLOUR = "getComputedStyle(document.documentElement).getPropertyValue('--text').trim()"


@pytest.fixture(scope="module")
def metered_tenant(django_db_blocker, world):
    from tenants.models import UsageRecord
    from tenants.services.usage import record_usage
    from tests.builders import make_tenant

    with django_db_blocker.unblock():
        tenant = make_tenant(f"usage-{uuid4().hex[:8]}")
        now = timezone.now()
        for day in range(1, now.day + 1):
            start = datetime(now.year, now.month, day, tzinfo=UTC)
            for kind, quantity, dimension in (
                (UsageRecord.Kind.STORAGE, 250 + 10 * day, ""),
                (UsageRecord.Kind.VCPU, 40 + 7 * (day % 5), "normal"),
                (UsageRecord.Kind.EGRESS, 3, "internet"),
            ):
                record_usage(
                    tenant,
                    kind,
                    Decimal(quantity),
                    basis=UsageRecord.Basis.MEASURED,
                    source="browser-test",
                    period_start=start,
                    period_end=start + timedelta(days=1),
                    dimension=dimension,
                )
    return tenant


def test_the_usage_charts_draw_and_follow_dark_mode(page, portal_server, metered_tenant, shots_dir):
    sign_in(page, portal_server, f"owner@{metered_tenant.slug}.example", slug=metered_tenant.slug)
    page.get_by_role("link", name="Usage", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage and costs")
    for chart in CHARTS:
        page.wait_for_function(f"() => window.Chart && Chart.getChart(document.getElementById('{chart}'))")
    expect(page.get_by_test_id("categories-current")).to_contain_text("Storage")
    assert page.evaluate(TICK_COLOUR) == page.evaluate(TEXT_COLOUR)
    page.screenshot(path=shots_dir / "usage-light.png", full_page=True)

    light = page.evaluate(TICK_COLOUR)
    page.locator("#theme-toggle").click()
    assert page.evaluate(THEME) == "dark"
    page.wait_for_function(f"() => {TICK_COLOUR} !== '{light}'")
    assert page.evaluate(TICK_COLOUR) == page.evaluate(TEXT_COLOUR)
    page.screenshot(path=shots_dir / "usage-dark.png", full_page=True)
