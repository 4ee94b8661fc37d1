"""The cost dashboard in real Chromium: the owner opens it from the navigation, picks the sample's period in
the filter form, sees the three charts drawn from the page's JSON, and switches to dark mode.

A tenant of its own (unique slug) holds the Heliox-shaped sample, committed so the server sees it.
"""

from pathlib import Path
from uuid import uuid4

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in_and_tokens import THEME, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SAMPLE = Path(__file__).resolve().parents[2] / "analysis" / "demo_costs"
CHARTS = ("chart-cost-by-day", "chart-cost-by-model", "chart-forecast")
TEXT_COLOUR = "getComputedStyle(document.documentElement).getPropertyValue('--text').trim()"
TICK_COLOUR = "Chart.getChart(document.getElementById('chart-cost-by-day')).options.scales.x.ticks.color"
# A canvas is drawn when some of its pixels are not transparent.
INKED = """(id) => {
  const canvas = document.getElementById(id);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return inked;
}"""


@pytest.fixture(scope="module")
def costed_tenant(django_db_blocker, world):
    from django_tenants.utils import tenant_context

    from tests.builders import load_cost_rows, make_tenant

    with django_db_blocker.unblock():
        tenant = make_tenant(f"costs-{uuid4().hex[:8]}")
        with tenant_context(tenant):
            load_cost_rows((SAMPLE / "heliox-jobs.json").read_text(), (SAMPLE / "rates.csv").read_text())
    return tenant


def test_the_cost_charts_draw_and_follow_dark_mode(page, portal_server, costed_tenant, shots_dir):
    sign_in(page, portal_server, f"owner@{costed_tenant.slug}.example", slug=costed_tenant.slug)
    page.get_by_role("link", name="Costs", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("GPU costs")
    expect(page.get_by_test_id("no-data-in-period")).to_be_visible()  # the sample is in January 2026

    page.get_by_label("From (UTC day)").fill("2026-01-01")
    page.get_by_label("To (inclusive)").fill("2026-01-14")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("total-cost")).to_have_text("$14,257.58")
    for chart in CHARTS:
        page.wait_for_function(f"() => window.Chart && Chart.getChart(document.getElementById('{chart}'))")
        assert page.evaluate(INKED, chart) > 1000, chart
    labels = page.evaluate(
        "Chart.getChart(document.getElementById('chart-cost-by-day')).data.datasets.length"
    )
    assert labels == 3  # one series per team
    forecast = "Chart.getChart(document.getElementById('chart-forecast')).data.datasets.map(d => d.label)"
    assert page.evaluate(forecast) == ["History", "Lower bound", "Upper bound", "Forecast"]
    assert page.evaluate(TICK_COLOUR) == page.evaluate(TEXT_COLOUR)
    page.screenshot(path=shots_dir / "costs-light.png", full_page=True)

    light = page.evaluate(TICK_COLOUR)
    page.locator("#theme-toggle").click()
    assert page.evaluate(THEME) == "dark"
    page.wait_for_function(f"() => {TICK_COLOUR} !== '{light}'")
    assert page.evaluate(TICK_COLOUR) == page.evaluate(TEXT_COLOUR)
    for chart in CHARTS:
        assert page.evaluate(INKED, chart) > 1000, chart
    page.screenshot(path=shots_dir / "costs-dark.png", full_page=True)

    page.get_by_test_id("by-team-table").get_by_role("link", name="ai-platform").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ai-platform")
    expect(page.get_by_test_id("total-cost")).to_have_text("$9,979.69")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('chart-cost-by-model'))"
    )
    expect(page.get_by_test_id("jobs-table").locator("tr[data-job]")).to_have_count(10)
    page.screenshot(path=shots_dir / "costs-team-dark.png", full_page=True)
