"""API authentication: a bearer token works only on the host of the tenant it was made for; the session
works as DRF's, with its CSRF check made on Django's request."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.ratelimits import over_limit
from tenants.models import TOKEN_PREFIX, ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)


def parse_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Bearer <token>'.")
        token = self._token_for(header[1], getattr(request._request, "tenant", None))
        wait = over_limit(request._request, "api-token", token.key_id, settings.RUNYARD_RATE_API_TOKEN)
        if wait:
            raise exceptions.Throttled(
                wait, detail=f"This token made too many requests (at most {settings.RUNYARD_RATE_API_TOKEN})."
            )
        self._touch(token)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def _token_for(self, key: str, tenant) -> ApiToken:
        invalid = exceptions.AuthenticationFailed("Invalid token.")
        parsed = parse_key(key)
        if parsed is None:
            raise invalid
        token = ApiToken.objects.usable().select_related("user").filter(key_id=parsed[0]).first()
        if token is None or not token.matches(parsed[1]) or not token.user.is_active:
            raise invalid
        if not self._bound_to(token, tenant):
            raise invalid
        return token

    @staticmethod
    def _bound_to(token: ApiToken, tenant) -> bool:
        if tenant is None:
            return False
        if tenant.schema_name == get_public_schema_name():
            return token.tenant_id is None and token.user.is_staff
        return token.tenant_id == tenant.pk

    @staticmethod
    def _touch(token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema, so the docs page offers 'Authorize'."""

    target_class = ApiTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "ry_<id>_<secret>"}


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, whose CSRF check reads Django's request rather than DRF's.

    DRF's check reads ``request.POST`` of its own request, which parses the body with the view's parsers
    before any permission is checked: a member of another tenant who posted JSON to a form-only endpoint
    (``/api/v1/files/upload``) got 415 instead of the 404 every non-member gets. Django's request reads a
    form body only, as the CSRF middleware does for pages; DRF still parses the body later, for the view.
    """

    def enforce_csrf(self, request):
        super().enforce_csrf(request._request)


class SessionCookieScheme(SessionScheme):
    target_class = SessionAuthentication
