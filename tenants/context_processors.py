from tenants.access import is_public
from tenants.models import Role


def tenant(request):
    current = getattr(request, "tenant", None)
    if is_public(current):
        return {"tenant": None, "membership": None}
    membership = getattr(request, "membership", None)
    return {
        "tenant": current,
        "membership": membership,
        "can_see_billing": bool(membership and membership.allows(Role.ADMIN)),
        "can_see_activity": bool(membership and membership.allows(Role.ADMIN)),
        "budget_banner": _budget_banner(current) if membership else None,
    }


def _budget_banner(tenant):
    """This month's budget alert, on every page of the tenant until the month ends."""
    from tenants.services.budgets import budget_status

    return budget_status(tenant)
