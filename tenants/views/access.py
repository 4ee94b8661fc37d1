"""Tenant-host pages: dashboard, API tokens, members. Access is checked by TenantAccessMiddleware."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs.stats import dashboard_counts, queue_stats
from tenants import services
from tenants.forms import InviteForm, RoleForm, TokenForm, add_validation_errors
from tenants.models import ApiToken, Membership, Role
from tenants.services.usage_summary import month_summary


def get_token_for_user(request, code) -> ApiToken:
    return get_object_or_404(ApiToken, code=code, user=request.user, tenant=request.tenant)


def get_membership_for_user(request, code) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), code=code, tenant=request.tenant)


def dashboard(request):
    """The live cards (worksets running, queued, failed; this month's cost) come from the same functions
    as ``/api/v1/queue/stats`` and ``/api/v1/usage``, which the page fetches again on every live update."""
    context = {
        "member_count": Membership.objects.filter(tenant=request.tenant).count(),
        "token_count": ApiToken.objects.usable().filter(user=request.user, tenant=request.tenant).count(),
        "workset_counts": dashboard_counts(queue_stats()["by_state"]),
        "month": month_summary(request.tenant, timezone.now().date()),
    }
    return render(request, "tenants/dashboard.html", context)


NEW_KEY_SESSION = "runyard.new_token_key"


def tokens(request):
    """Create-then-redirect: the new key rides in the session for exactly one page view."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            _, key = services.create_api_token(
                user=request.user,
                tenant=request.tenant,
                name=form.cleaned_data["name"],
                expires_at=expires_at,
                actor=request.user,
            )
        except ValidationError as error:
            add_validation_errors(form, error)
        else:
            request.session[NEW_KEY_SESSION] = key
            return redirect("tokens")
    rows = ApiToken.objects.filter(user=request.user, tenant=request.tenant)
    new_key = request.session.pop(NEW_KEY_SESSION, None)
    return render(request, "tenants/tokens.html", {"form": form, "tokens": rows, "new_key": new_key})


@require_POST
def revoke_token(request, code):
    token = get_token_for_user(request, code)
    services.revoke_api_token(token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("tokens")


def _require_admin(request) -> None:
    if not request.membership.allows(Role.ADMIN):
        raise PermissionDenied("Only owners and admins manage members.")


def members(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        _require_admin(request)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_member(
                request.tenant, form.cleaned_data["email"], form.cleaned_data["role"], actor=request.user
            )
            messages.success(request, f"{form.cleaned_data['email']} added.")
            return redirect("members")
        except ValidationError as error:
            add_validation_errors(form, error)
    rows = Membership.objects.filter(tenant=request.tenant).select_related("user")
    can_manage = request.membership.allows(Role.ADMIN)
    return render(
        request,
        "tenants/members.html",
        {"form": form, "memberships": rows, "can_manage": can_manage, "roles": Role.choices},
    )


@require_POST
def change_member_role(request, code):
    membership = get_membership_for_user(request, code)
    _require_admin(request)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors["role"])
        services.change_role(membership, form.cleaned_data["role"], actor=request.user)
        messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("members")


@require_POST
def remove_member(request, code):
    membership = get_membership_for_user(request, code)
    _require_admin(request)
    try:
        services.remove_member(membership, actor=request.user)
        messages.success(request, f"{membership.user.email} removed.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("members")
