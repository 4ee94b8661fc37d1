"""Live worksets in real Chromium against daphne: alice watches a workset's page, the list and the dashboard
while this process moves the workset (committed, so the server sees it; the channel layer is Redis, so the
update crosses from this process to the server's socket). The pages redraw without a reload.

A page marks itself with a window property first: if it reloaded, the property would be gone.
"""

from uuid import uuid4

import pytest
from playwright.sync_api import Page, expect

from jobs import live
from jobs.models import CANCELLABLE, State, Workset, WorksetStep
from tests.browser.test_sign_in_and_tokens import THEME, sign_in
from tests.builders import committed, make_workset

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

STEPS = ("fetch", "align", "call")
NOT_RELOADED = "window.__notReloaded === true"


@pytest.fixture
def queued_workset(world):
    """Makes committed queued worksets with three pending steps; removes them afterwards, so tests that
    count alpha's worksets or read the queue never meet them."""
    made: list[Workset] = []

    def make() -> Workset:
        def create():
            workset = make_workset(world.tenant, state="queued", name=f"Live {uuid4().hex[:6]}")
            for position, name in enumerate(STEPS, start=1):
                WorksetStep.objects.create(workset=workset, position=position, name=name)
            made.append(workset)

        committed(world.tenant, create)
        return made[-1]

    yield make
    committed(world.tenant, lambda: remove(made))


def remove(worksets: list[Workset]) -> None:
    """Cancelled first, so the queue index lets go of them as it does of any cancelled workset; then gone."""
    for workset in Workset.objects.filter(pk__in=[w.pk for w in worksets], state__in=CANCELLABLE):
        workset.transition_to(State.CANCELLED, reason="browser test done")
    Workset.objects.filter(pk__in=[w.pk for w in worksets]).delete()


def start_running(workset: Workset) -> None:
    WorksetStep.objects.filter(workset=workset, name="fetch").update(status="succeeded", exit_code=0)
    WorksetStep.objects.filter(workset=workset, name="align").update(status="running")
    workset.transition_to(State.DISPATCHED, cluster="local-1")
    workset.transition_to(State.RUNNING, current_step="align", progress=33)


def open_live(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("[data-live-status]").first).to_have_attribute("data-live-status", "live")
    page.evaluate("window.__notReloaded = true")


def test_the_workset_page_follows_state_steps_and_log_without_reload(
    page, portal_server, world, queued_workset, shots_dir
):
    workset = queued_workset()
    sign_in(page, portal_server, "alice@example.com")
    open_live(page, portal_server.url("alpha", f"/worksets/{workset.code}/"))
    state = page.locator("[data-live-state]")
    expect(state).to_have_text("queued")
    expect(page.locator("[data-live-steps-done]")).to_have_text("0 of 3 steps done")
    expect(page.locator("[data-live-stale]")).to_be_hidden()

    committed(world.tenant, lambda: start_running(workset))

    expect(state).to_have_text("running")
    expect(state).to_have_class("pill state state-running")
    expect(page.locator("[data-live-progress]")).to_have_js_property("value", 33)
    expect(page.locator("[data-live-current-step]")).to_have_text("align")
    expect(page.locator("[data-live-steps-done]")).to_have_text("1 of 3 steps done")
    expect(page.locator("[data-live-cluster]")).to_have_text("local-1")
    expect(page.locator('[data-step="fetch"] .step-status')).to_have_text("succeeded")
    expect(page.locator('[data-step="align"] .step-status')).to_have_text("running")
    expect(page.locator("[data-live-stale]")).to_be_visible()  # the buttons were drawn for "queued"

    committed(world.tenant, lambda: live.announce(workset, log_tail="align: 50% of reads mapped\n"))
    expect(page.get_by_test_id("log-tail")).to_have_text("align: 50% of reads mapped\n")
    assert page.evaluate(NOT_RELOADED)
    page.screenshot(path=shots_dir / "workset-live-light.png", full_page=True)
    page.locator("#theme-toggle").click()
    assert page.evaluate(THEME) == "dark"
    page.screenshot(path=shots_dir / "workset-live-dark.png", full_page=True)


def test_a_row_of_the_list_follows_its_workset_without_reload(page, portal_server, world, queued_workset):
    workset = queued_workset()
    sign_in(page, portal_server, "carol@example.com")  # a viewer watches too
    open_live(page, portal_server.url("alpha", "/worksets/"))
    row = page.locator(f'[data-workset-row="{workset.code}"]')
    expect(row.locator("[data-live-state]")).to_have_text("queued")

    committed(world.tenant, lambda: start_running(workset))

    expect(row.locator("[data-live-state]")).to_have_text("running")
    expect(row.locator("[data-live-current-step]")).to_have_text("align")
    expect(row.locator("[data-live-progress]")).to_have_js_property("value", 33)
    committed(world.tenant, lambda: workset.transition_to(State.FAILED, failure_code="WS-RUN-001"))
    expect(row.locator("[data-live-state]")).to_have_text("failed")
    expect(page.locator("[data-live-new]")).to_be_hidden()

    queued_workset()  # submitted while the list is open: not a row yet
    expect(page.locator("[data-live-new]")).to_be_visible()
    assert page.evaluate(NOT_RELOADED)


def test_the_dashboard_counts_follow_the_queue_without_reload(page, portal_server, world, queued_workset):
    workset = queued_workset()
    sign_in(page, portal_server, "bob@example.com")
    open_live(page, portal_server.url("alpha", "/"))
    running, queued = page.get_by_test_id("count-running"), page.get_by_test_id("count-queued")
    before = {"running": int(running.inner_text()), "queued": int(queued.inner_text())}

    committed(world.tenant, lambda: workset.transition_to(State.DISPATCHED, cluster="local-1"))

    expect(running).to_have_text(str(before["running"] + 1))
    expect(queued).to_have_text(str(before["queued"] - 1))
    assert page.evaluate(NOT_RELOADED)
