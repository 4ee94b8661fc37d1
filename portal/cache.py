"""Django's Redis cache, degraded to a cache that misses while Redis is unreachable.

Nothing the portal keeps in the cache is the only copy (rate-limit counters, allauth's sign-in history,
the HWA breaker, lookups that are asked again), so a Redis restart must not turn pages into 500s. On a
connection error or timeout the operation answers like an empty cache and the backend stops asking Redis
for ``RETRY_SECONDS``, so a request during an outage pays for one failed connect, not one per cache call.

While Redis is down, rate limits fail open (``add`` answers True: the counter "starts at 1", and
allauth's short lock around its history is taken): an outage must not lock every user out. One warning is
logged when Redis is lost and one when it answers again.
"""

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class Unavailable(ValueError):
    """``incr`` of a key the cache cannot see: callers already treat ValueError as "no such key"."""


class _Outage:
    """Whether a Redis server is known to be down, shared by the process: Django makes one cache object
    per thread and per async task, so the object itself would forget at the next request."""

    def __init__(self) -> None:
        self.until = 0.0
        self.lock = threading.Lock()

    def lost(self, error: Exception) -> None:
        with self.lock:
            first, self.until = not self.until, time.monotonic() + RETRY_SECONDS
        if first:
            log.warning("cache unreachable, serving without it: %s: %s", type(error).__name__, error)

    def back(self) -> None:
        with self.lock:
            was_down, self.until = bool(self.until), 0.0
        if was_down:
            log.warning("cache reachable again")


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def outage_of(location: str) -> _Outage:
    with _outages_lock:
        return _outages.setdefault(location, _Outage())


class DegradingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._outage = outage_of(str(server))

    def _guard(self, operation, fallback, *args, **kwargs):
        outage = self._outage
        if outage.until and time.monotonic() < outage.until:
            return fallback()
        try:
            result = operation(*args, **kwargs)
        except UNREACHABLE as error:
            outage.lost(error)
            return fallback()
        if outage.until:
            outage.back()
        return result

    def add(self, key, *args, **kwargs):
        return self._guard(super().add, lambda: True, key, *args, **kwargs)

    def get(self, key, default=None, version=None):
        return self._guard(super().get, lambda: default, key, default, version)

    def set(self, key, *args, **kwargs):
        return self._guard(super().set, lambda: None, key, *args, **kwargs)

    def touch(self, key, *args, **kwargs):
        return self._guard(super().touch, lambda: False, key, *args, **kwargs)

    def delete(self, key, *args, **kwargs):
        return self._guard(super().delete, lambda: False, key, *args, **kwargs)

    def get_many(self, keys, *args, **kwargs):
        return self._guard(super().get_many, dict, keys, *args, **kwargs)

    def has_key(self, key, *args, **kwargs):
        return self._guard(super().has_key, lambda: False, key, *args, **kwargs)

    def incr(self, key, *args, **kwargs):
        def unavailable():
            raise Unavailable(f"Key '{key}' not found: the cache is unreachable")

        return self._guard(super().incr, unavailable, key, *args, **kwargs)

    def set_many(self, data, *args, **kwargs):
        return self._guard(super().set_many, lambda: list(data), data, *args, **kwargs)

    def delete_many(self, keys, *args, **kwargs):
        return self._guard(super().delete_many, lambda: None, keys, *args, **kwargs)

    def clear(self):
        return self._guard(super().clear, lambda: False)
