from portal import health

PROBES = {"/healthz": health.healthz, "/readyz": health.readyz}


class HealthCheckMiddleware:
    """Answer probes on any host (load balancers probe by IP), before tenant lookup."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path.rstrip("/"))
        if probe is not None:
            return probe(request)
        return self.get_response(request)
