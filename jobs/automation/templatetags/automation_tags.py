"""``{% hwa_configured as has_hwa %}``: whether the nav shows "Automation" (one query per request at most)."""

from django import template

from jobs.automation.models import HwaConnection
from tenants.access import is_public

register = template.Library()


@register.simple_tag(takes_context=True)
def hwa_configured(context) -> bool:
    request = context.get("request")
    tenant = getattr(request, "tenant", None)
    if request is None or is_public(tenant):
        return False
    if not hasattr(request, "_hwa_configured"):
        request._hwa_configured = HwaConnection.objects.enabled().filter(tenant=tenant).exists()
    return request._hwa_configured
