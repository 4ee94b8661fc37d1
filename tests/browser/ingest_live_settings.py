"""Settings of the daphne and Celery worker of the cost ingest browser test: the profile browser test's
(a queue and channel-layer prefix of this run only), with no read timeout on the channel layer's Redis.

redis-py 8 reads with a 5 s timeout by default, the same as channels_redis's blocking pop, so a socket
with nothing to say for 5 s is closed and reopened; the uploads list does not catch up after a reconnection,
and the test would miss the "done" message now and then. This keeps the test about the page.
"""

from tests.analysis.profile_worker_settings import *  # noqa: F403
from tests.analysis.profile_worker_settings import CHANNEL_LAYERS

if "CONFIG" in CHANNEL_LAYERS["default"]:
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {"address": host, "socket_timeout": None} for host in CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    ]
