from django.http import JsonResponse
from django.shortcuts import render

from portal import health, metrics
from tenants.storage.base import StorageUnavailable

PROBES = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": metrics.metrics_view}


class HealthCheckMiddleware:
    """Answer probes and the metrics scrape on any host (load balancers and Prometheus reach the
    processes by IP), before tenant lookup."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path.rstrip("/"))
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class StorageBusyMiddleware:
    """A page whose storage is still throttled or down after the storage client's retries answers 503 with
    a message to try again, instead of a server error. The API answers the same in its error shape
    (``portal.rest``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, StorageUnavailable):
            return None
        from portal.rest import error_body  # portal.rest imports DRF, whose settings import the token auth

        wait = exception.retry_after
        if request.path.startswith("/api/"):
            body = error_body("storage_busy", str(exception), hint=f"Try again in {wait} s.")
            response = JsonResponse(body, status=503)
        else:
            context = {"message": str(exception), "wait": wait}
            response = render(request, "portal/storage_busy.html", context, status=503)
        response["Retry-After"] = str(wait)
        return response
