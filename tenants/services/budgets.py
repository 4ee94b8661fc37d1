"""Budgets that act: alerts at 80 % and 100 % of the monthly budget, each once per month, and the
tenant's action at 100 % (warn, require owner approval, or hold new submissions)."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.models import BudgetAlert, Invoice, Quota, Tenant
from tenants.services.audit import record_event
from tenants.services.billing import month_start, refresh_draft_invoice
from tenants.services.quotas import quota_of

THRESHOLDS = (80, 100)


def check_budget(tenant: Tenant, *, today: date | None = None) -> list[BudgetAlert]:
    """Compare month-to-date spend (the refreshed draft's total) with the budget; return new alerts.

    The unique constraint on (tenant, month, threshold) makes each alert fire once, also when two workers
    check at the same moment: only the one whose row was created announces it.
    """
    quota = quota_of(tenant)
    budget = quota.monthly_budget_usd
    if budget is None:
        return []
    month = month_start(today or timezone.now().date())
    spent = refresh_draft_invoice(tenant, month).total
    crossed = [t for t in THRESHOLDS if spent > 0 and spent * 100 >= budget * t]
    return [alert for t in crossed if (alert := _raise_alert(tenant, quota, month, t, spent, budget))]


def _raise_alert(tenant, quota, month, threshold, spent, budget) -> BudgetAlert | None:
    with transaction.atomic():
        alert, created = BudgetAlert.objects.get_or_create(
            tenant=tenant, month=month, threshold=threshold, defaults={"spent": spent, "budget": budget}
        )
        if not created:
            return None
        if threshold == 100 and quota.budget_action == Quota.BudgetAction.HOLD:
            Quota.objects.filter(pk=quota.pk, billing_hold=False).update(
                billing_hold=True, billing_hold_since=timezone.now()
            )
        record_event(
            "budget.alert", tenant=tenant, target=f"{month:%Y-%m}", threshold=threshold, spent=str(spent)
        )
        _announce_alert(alert, quota.budget_action)
    return alert


def _announce_alert(alert: BudgetAlert, action: str) -> None:
    """The "budget" notification, in the tenant's schema: an email to each owner and admin (unless they
    turned it off; the wording of tenants/email/budget_alert_*.txt) and the tenant's channels. Recorded
    with the alert, sent after commit."""
    from jobs.notifications.services import notify

    with schema_context(alert.tenant.schema_name):
        notify(
            "budget",
            threshold=alert.threshold,
            spent=str(alert.spent),
            budget=str(alert.budget),
            month=alert.month.isoformat(),
            action=str(action),
        )


def release_billing_hold(tenant: Tenant, *, actor) -> Quota:
    """New submissions flow again. Operators do this in the admin; the month's close does it for everyone."""
    with transaction.atomic():
        quota = Quota.objects.select_for_update().get(tenant=tenant)
        if quota.billing_hold:
            quota.billing_hold, quota.billing_hold_since = False, None
            quota.save(update_fields=["billing_hold", "billing_hold_since"])
            record_event("budget.hold_released", actor=actor, tenant=tenant, target=tenant.slug)
            transaction.on_commit(lambda: _release_held_worksets(tenant), robust=True)
    return quota


def _release_held_worksets(tenant: Tenant) -> None:
    """Worksets live in the tenant's schema: the task runs there and queues what the hold kept back."""
    from jobs.tasks import release_held_worksets_task

    release_held_worksets_task.apply_async(headers={"_schema_name": tenant.schema_name})


def budget_status(tenant: Tenant, today: date | None = None) -> dict | None:
    """For the banner: this month's highest alert, what is spent now and what happens at 100 %."""
    month = month_start(today or timezone.now().date())
    alert = BudgetAlert.objects.filter(tenant=tenant, month=month).order_by("-threshold").first()
    if alert is None:
        return None
    quota = quota_of(tenant)
    total = Invoice.objects.filter(tenant=tenant, month=month).values_list("total", flat=True).first()
    return {
        "threshold": alert.threshold,
        "spent": total if total is not None else alert.spent,
        "budget": quota.monthly_budget_usd or alert.budget,
        "action": Quota.BudgetAction(quota.budget_action),
        "on_hold": quota.billing_hold,
    }


def spent_share(spent: Decimal, budget: Decimal | None) -> int | None:
    if not budget:
        return None
    return int(spent * 100 / budget)
