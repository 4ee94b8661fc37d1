from django.conf import settings
from django.shortcuts import redirect, render

from tenants.models import Tenant
from tenants.services import tenant_address


def landing(request):
    """Public host: explains Runyard and sends people to their tenant's host."""
    slug = request.GET.get("tenant", "").strip().lower()
    error = None
    if slug:
        if Tenant.objects.customers().filter(slug=slug).exists():
            scheme = "https" if settings.PRODUCTION else "http"
            return redirect(f"{scheme}://{tenant_address(slug)}/accounts/login/")
        error = "No tenant by that name."
    context = {"error": error, "slug": slug, "signup_enabled": settings.SELF_SERVICE_SIGNUP}
    return render(request, "portal/landing.html", context)
