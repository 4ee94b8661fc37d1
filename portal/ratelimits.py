"""Rate limits on API token use, uploads and the admin's sign-in (django-ratelimit, counted in the cache).

The cache is Redis where ``REDIS_URL`` is set, else the file cache; its keys go through
``django_tenants.cache.make_key``, so every count is also per tenant. Sign-in on tenant hosts is limited by
allauth (``ACCOUNT_RATE_LIMITS``); chat questions are counted by ``chat.services``.
"""

import ipaddress

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage


def over_limit(request, group: str, key: str, rate: str) -> int | None:
    """Count one hit on ``key`` and return the seconds to wait when it is over ``rate``, else None."""
    usage = get_usage(request, group=group, key=lambda _group, _request: key, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def client_address(request) -> str:
    """The client's address: behind a reverse proxy, the last entry of the header it appends to
    (``RUNYARD_CLIENT_IP_HEADER``, the audit log's rule; earlier entries are the client's own claims)."""
    header = getattr(settings, "RUNYARD_CLIENT_IP_HEADER", "")
    for candidate in (
        request.headers.get(header, "").split(",")[-1] if header else "",
        request.META["REMOTE_ADDR"],
    ):
        try:
            return str(ipaddress.ip_address(candidate.strip()))
        except ValueError:
            continue
    return "unknown"


def too_many_requests(request, message: str, wait: int):
    """429 in the API's one error shape on /api/, else a page that says when to try again."""
    from portal.rest import error_body  # portal.rest imports DRF, whose settings import the token auth

    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("throttled", message, hint=f"Try again in {wait} s."), status=429)
    else:
        response = render(request, "portal/rate_limited.html", {"message": message, "wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _uploader(request) -> str | None:
    """Who is uploading: the signed-in user, or the owner of the bearer token (checked later by the view)."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    from tenants.authentication import parse_key
    from tenants.models import ApiToken

    header = request.headers.get("Authorization", "").split()
    parsed = parse_key(header[1]) if len(header) == 2 else None
    if parsed is None:
        return None
    user_id = ApiToken.objects.filter(key_id=parsed[0]).values_list("user_id", flat=True).first()
    return f"user:{user_id}" if user_id else None


def _is_upload(request) -> bool:
    return request.method in ("POST", "PUT") and request.content_type == "multipart/form-data"


class UploadRateLimitMiddleware:
    """Every multipart/form-data request (files, profiles, knowledge documents, cost data, YAML imports)
    counts as one upload of its user, on any page or API endpoint."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _is_upload(request):
            who = _uploader(request)
            wait = who and over_limit(request, "uploads", who, settings.RUNYARD_RATE_UPLOADS)
            if wait:
                message = f"Too many uploads: at most {settings.RUNYARD_RATE_UPLOADS} per user."
                return too_many_requests(request, message, wait)
        return self.get_response(request)


class AdminSignInRateLimitMiddleware:
    """The operators' admin sign-in (Django's form on the public host, not allauth's): every attempt counts
    per client address and per user name typed, with the tenant hosts' sign-in rates."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info == "/admin/login/":
            account = request.POST.get("username", "").strip().lower()
            wait = over_limit(
                request, "admin-login-ip", client_address(request), settings.RUNYARD_RATE_LOGIN_PER_IP
            )
            if account and not wait:
                rate = settings.RUNYARD_RATE_LOGIN_FAILURES_PER_ACCOUNT
                wait = over_limit(request, "admin-login-account", account, rate)
            if wait:
                return too_many_requests(request, "Too many sign-in attempts.", wait)
        return self.get_response(request)
