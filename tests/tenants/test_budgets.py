"""Budgets that act: alerts at 80 % and 100 %, once per month each, email, banner, hold and its release."""

from decimal import Decimal

import pytest
from django.utils import timezone

from tenants.models import AuditEvent, BudgetAlert, Quota
from tenants.services import QuotaExceeded, check_quota
from tenants.services.budgets import check_budget, release_billing_hold
from tenants.services.quotas import ApprovalRequired
from tests.builders import spend_vcpu_hours

pytestmark = pytest.mark.django_db


def set_budget(tenant, usd: str, action: str = Quota.BudgetAction.WARN) -> None:
    Quota.objects.filter(tenant=tenant).update(monthly_budget_usd=Decimal(usd), budget_action=action)


def test_the_80_percent_alert_fires_once_with_one_email_to_owners_and_admins(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    set_budget(world.tenant, "10")
    spend_vcpu_hours(world.tenant, "200", reference="ws-1")  # $8.00 = 80 %
    with django_capture_on_commit_callbacks(execute=True):
        first = check_budget(world.tenant)
    with django_capture_on_commit_callbacks(execute=True):
        second = check_budget(world.tenant)
    assert [alert.threshold for alert in first] == [80] and second == []
    assert BudgetAlert.objects.filter(tenant=world.tenant).count() == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alice@example.com"]  # the owner; bob is a member, carol a viewer
    assert "80 %" in mail.subject and "$8.00 of its $10.00" in mail.body
    assert "http://alpha.localhost" in mail.body and "/usage/" in mail.body


def test_crossing_100_after_80_fires_only_the_new_alert(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    set_budget(world.tenant, "10")
    spend_vcpu_hours(world.tenant, "200", reference="ws-1")
    with django_capture_on_commit_callbacks(execute=True):
        check_budget(world.tenant)
    spend_vcpu_hours(world.tenant, "100", reference="ws-2")  # $12.00 = 120 %
    with django_capture_on_commit_callbacks(execute=True):
        new = check_budget(world.tenant)
        check_budget(world.tenant)
    assert [alert.threshold for alert in new] == [100]
    assert sorted(BudgetAlert.objects.filter(tenant=world.tenant).values_list("threshold", flat=True)) == [
        80,
        100,
    ]
    assert [m.subject for m in mailoutbox] == [
        "Alpha: 80 % of this month's budget spent",
        "Alpha: 100 % of this month's budget spent",
    ]
    assert AuditEvent.objects.filter(tenant=world.tenant, action="budget.alert").count() == 2


def test_recording_usage_checks_the_budget_after_commit(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    set_budget(world.tenant, "1")
    with django_capture_on_commit_callbacks(execute=True):
        spend_vcpu_hours(world.tenant, "50", reference="ws-1")  # $2.00 = 200 %: both thresholds at once
    assert sorted(BudgetAlert.objects.filter(tenant=world.tenant).values_list("threshold", flat=True)) == [
        80,
        100,
    ]
    assert len(mailoutbox) == 2


def test_hold_blocks_submissions_until_released(world, django_capture_on_commit_callbacks):
    set_budget(world.tenant, "1", Quota.BudgetAction.HOLD)
    spend_vcpu_hours(world.tenant, "25", reference="ws-1")  # $1.00 = 100 %
    check_quota(world.tenant, "submission")  # not yet checked: nothing held
    check_budget(world.tenant)
    quota = Quota.objects.get(tenant=world.tenant)
    assert quota.billing_hold and quota.billing_hold_since is not None
    with pytest.raises(QuotaExceeded, match="billing hold"):
        check_quota(world.tenant, "submission")
    release_billing_hold(world.tenant, actor=world.operator)
    check_quota(world.tenant, "submission")
    assert AuditEvent.objects.filter(tenant=world.tenant, action="budget.hold_released").exists()
    check_budget(world.tenant)  # the 100 % alert already fired this month: the hold stays released
    assert not Quota.objects.get(tenant=world.tenant).billing_hold


def test_approve_requires_an_owner_and_warn_only_warns(world):
    set_budget(world.tenant, "1", Quota.BudgetAction.APPROVE)
    spend_vcpu_hours(world.tenant, "30", reference="ws-1")
    check_budget(world.tenant)
    with pytest.raises(ApprovalRequired):
        check_quota(world.tenant, "submission")
    set_budget(world.tenant, "1", Quota.BudgetAction.WARN)
    check_quota(world.tenant, "submission")
    assert not Quota.objects.get(tenant=world.tenant).billing_hold


def test_no_budget_means_no_alerts(world):
    spend_vcpu_hours(world.tenant, "10000", reference="ws-1")
    assert check_budget(world.tenant) == []
    assert not BudgetAlert.objects.filter(tenant=world.tenant).exists()


def test_every_page_shows_the_banner_while_the_month_has_an_alert(client_for, world):
    set_budget(world.tenant, "10", Quota.BudgetAction.HOLD)
    before = client_for(world.carol).get("/").content.decode()
    assert 'data-testid="budget-banner"' not in before
    spend_vcpu_hours(world.tenant, "200", reference="ws-1")
    check_budget(world.tenant)
    for user in (world.alice, world.bob, world.carol):
        body = client_for(user).get("/members/").content.decode()
        assert 'data-testid="budget-banner"' in body, user.email
        assert "$8.00 of $10.00 spent this month" in body
        assert "At 100 %: hold new submissions (billing hold)." in body
    spend_vcpu_hours(world.tenant, "100", reference="ws-2")
    check_budget(world.tenant)
    body = client_for(world.carol).get("/tokens/").content.decode()
    assert "Budget 100 %:" in body and "$12.00 of $10.00" in body and "on hold" in body
    assert (
        'data-testid="budget-banner"' not in client_for(world.mallory, world.other).get("/").content.decode()
    )


def test_the_operator_releases_a_hold_in_the_admin(operator_client, world):
    set_budget(world.tenant, "1", Quota.BudgetAction.HOLD)
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=True, billing_hold_since=timezone.now())
    quota = Quota.objects.get(tenant=world.tenant)
    response = operator_client.post(
        "/admin/tenants/quota/", {"action": "release_hold", "_selected_action": [quota.pk]}, follow=True
    )
    assert response.status_code == 200 and "Billing hold of" in response.content.decode()
    assert not Quota.objects.get(pk=quota.pk).billing_hold


def test_a_release_whose_send_was_lost_is_caught_up_by_beats_sweep(operator_client, world, api_for):
    """The operator ends the hold while Redis is down: the held workset waits until beat's sweep (every
    minute, in every tenant) queues it, once; a sweep while the hold is on moves nothing."""
    from portal.celery import fan_out_to_tenants_task
    from tests.broker import broker_down
    from tests.builders import make_workset

    set_budget(world.tenant, "1", Quota.BudgetAction.HOLD)
    Quota.objects.filter(tenant=world.tenant).update(billing_hold=True, billing_hold_since=timezone.now())
    held = make_workset(world.tenant, actor=world.bob)
    alice = api_for(world.alice)

    def state() -> str:
        return alice.get(f"/api/v1/worksets/{held.code}").json()["state"]

    def sweep() -> None:
        fan_out_to_tenants_task.delay("jobs.release_held_worksets_task").get()

    assert state() == "billing_hold"
    sweep()
    assert state() == "billing_hold"  # still on hold

    quota = Quota.objects.get(tenant=world.tenant)
    with broker_down():
        released = operator_client.post(
            "/admin/tenants/quota/", {"action": "release_hold", "_selected_action": [quota.pk]}, follow=True
        )
    assert released.status_code == 200 and not Quota.objects.get(pk=quota.pk).billing_hold
    assert state() == "billing_hold"  # the release's message was lost

    sweep()
    assert state() == "queued"
    sweep()
    history = alice.get(f"/api/v1/worksets/{held.code}").json()["transitions"]
    assert [step["reason"] for step in history].count("Billing hold released") == 1
