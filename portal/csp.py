"""Content-Security-Policy: django-csp's middleware, plus the request's own websocket origin in connect-src.

The policy itself is ``CONTENT_SECURITY_POLICY`` in settings. Every tenant has its own host, so the
websocket origin (``wss://acme.example.com``) is added per request rather than listed in settings; older
browsers do not let ``'self'`` cover ws:/wss:.
"""

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.core.exceptions import DisallowedHost


class CSPMiddleware(BaseCSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts
        if report_only:
            return parts
        scheme = "wss" if request.is_secure() else "ws"
        own_socket = f"{scheme}://{host}"
        parts.update = {**(parts.update or {})}
        parts.update["connect-src"] = [*parts.update.get("connect-src", []), own_socket]
        return parts
