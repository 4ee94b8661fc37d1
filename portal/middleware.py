from portal import health, metrics

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
