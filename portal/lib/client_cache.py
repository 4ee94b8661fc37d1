"""One client per connector connection row (ISS, HWA), kept for the life of the process.

Its token cache and connection pool are then reused by every request of the tenant. A row changed in the
admin (``updated`` moves, or the tenant's slug that names its secret) gets a new client on the next call,
and the old one is closed.
"""

import threading
from collections.abc import Callable


class ClientCache:
    def __init__(self):
        self._clients: dict[int, tuple[object, object]] = {}
        self._lock = threading.Lock()

    def client_for(self, connection, build: Callable[[], object]):
        version = (connection.updated, connection.tenant.slug)
        with self._lock:
            cached = self._clients.get(connection.pk)
            if cached and cached[0] == version:
                return cached[1]
            client = build()
            self._clients[connection.pk] = (version, client)
        if cached:
            cached[1].close()
        return client
