"""``{% iss_configured as has_iss %}``: whether the nav shows "ISS jobs" (one query per request at most)."""

from django import template

from tenants.access import is_public
from tenants.models import IssConnection

register = template.Library()


@register.simple_tag(takes_context=True)
def iss_configured(context) -> bool:
    request = context.get("request")
    tenant = getattr(request, "tenant", None)
    if request is None or is_public(tenant):
        return False
    if not hasattr(request, "_iss_configured"):
        request._iss_configured = IssConnection.objects.enabled().filter(tenant=tenant).exists()
    return request._iss_configured
