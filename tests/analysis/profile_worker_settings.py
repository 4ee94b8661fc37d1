"""Settings of the processes the profile browser test starts (daphne and a Celery worker).

The portal's own settings, with a Celery queue and channel-layer prefix of this test run only: the Redis
they share with other runs never hands this run's parse task to another worker, nor another run's
messages to this server's sockets.
"""

import os

from portal.settings import *  # noqa: F403
from portal.settings import CHANNEL_LAYERS

ISOLATION = os.environ["RUNYARD_TEST_ISOLATION"]
CELERY_TASK_DEFAULT_QUEUE = ISOLATION
CELERY_BEAT_SCHEDULE: dict = {}
if "CONFIG" in CHANNEL_LAYERS["default"]:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{ISOLATION}:"
