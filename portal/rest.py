"""The API's shared parts: the viewset base, pagination and the one error shape.

Access is checked by ``portal.permissions.IsTenantMember`` (the default permission class).
Viewsets derive from ``ScopedViewSet``, whose queryset is ``Model.objects.visible_to(membership)``,
where the membership is the caller's in the host's tenant.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse, QueryDict
from rest_framework import exceptions, viewsets
from rest_framework.views import exception_handler as drf_exception_handler

from tenants.models import Role
from tenants.storage.base import StorageUnavailable


class ScopedViewSet(viewsets.GenericViewSet):
    """Base for every API viewset: rows come from ``visible_to(membership)``, looked up by code."""

    lookup_field = "code"
    read_role = Role.VIEWER
    write_role = Role.MEMBER

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.membership)


def json_object_body(request, *, what: str = "", required: bool = False) -> dict:
    """The request's body as a JSON object; a form, a list or a scalar (or, if ``required``, no body at
    all) is a 400 on ``body``."""
    body = request.data
    missing = required and request.META.get("CONTENT_LENGTH") in (None, "", "0")
    if missing or not isinstance(body, dict) or isinstance(body, QueryDict):
        raise exceptions.ValidationError({"body": [f"The body must be a JSON object{what}."]})
    return body


def _fields(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {"non_field_errors": [str(item) for item in (detail if isinstance(detail, list) else [detail])]}


def error_body(code: str, message: str, *, fields: dict | None = None, hint: str | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if hint:
        body["hint"] = hint
    return {"error": body}


class StorageBusy(exceptions.APIException):
    status_code = 503
    default_code = "storage_busy"
    default_detail = "Storage is busy right now; try again in a moment."


def exception_handler(exc, context):
    """Render every API error as ``{"error": {"code", "message", "fields"?, "hint"?}}``.

    A service's single-message ValidationError with a code (``QuotaExceeded(..., code="storage_quota")``)
    keeps that code and message, so clients can tell a quota refusal from a bad field. Storage that is
    still throttled or down after its client's retries is a 503 with ``Retry-After`` on any endpoint.
    """
    if isinstance(exc, StorageUnavailable):
        response = exception_handler(StorageBusy(str(exc) or None), context)
        response.data["error"]["hint"] = f"Try again in {exc.retry_after} s."
        response["Retry-After"] = str(exc.retry_after)
        return response
    coded = None
    if isinstance(exc, DjangoValidationError):
        if not hasattr(exc, "error_dict") and getattr(exc, "code", None):
            coded = (exc.code, exc.messages[0])
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if coded:
        response.data = error_body(coded[0], coded[1], fields=_fields(exc.detail))
    elif isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", "Some fields are not valid.", fields=_fields(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(code if isinstance(code, str) else "error", str(detail))
    return response


def json_404(request, exception=None):
    """handler404 for API paths; pages keep the HTML 404."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_500(request):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    from django.views.defaults import server_error

    return server_error(request)
