"""Tenant hosts are for members only: everyone else gets 404, anonymous visitors the login page."""

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.shortcuts import render

from tenants.access import is_public, membership_for

# Paths that work without a membership: signing in and out, the assets the login page needs, and signed
# file links (their signature is the permission; tenants.views.files.signed_link checks it).
OPEN_PREFIXES = ("/accounts/", "/static/", "/files/link/")
SIGN_OUT = "/accounts/logout/"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TenantAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if is_public(tenant) or request.path.startswith("/api/"):
            return self.get_response(request)  # the API checks access in portal.rest.IsTenantMember
        user = request.user
        if not user.is_authenticated:
            if request.path.startswith(OPEN_PREFIXES):
                return self.get_response(request)
            return redirect_to_login(request.get_full_path())
        membership = membership_for(request)
        if membership is None and not request.path.startswith(SIGN_OUT):
            raise Http404
        request.membership = membership
        if not tenant.is_active and not request.path.startswith(OPEN_PREFIXES):
            return suspended_response(request)
        return self.get_response(request)


def suspended_response(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "tenant_suspended", "message": "This tenant is suspended; it is read-only."}},
            status=403,
        )
    return render(request, "tenants/suspended.html", status=403)
