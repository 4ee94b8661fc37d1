"""Settings of the processes a test session starts (daphne, Celery workers): the portal's own, with a Celery
queue and a channel-layer prefix of that session only (``RUNYARD_TEST_ISOLATION``).

The Redis they share with other sessions (the other pytest-xdist worker, another run on the machine) then
never hands one session's tasks to another's worker, nor one session's live messages to another's sockets.
The test process itself uses the same prefix (``_live_messages_of_this_run`` in tests/conftest.py), so what a
test sends reaches the sockets of the server it started.
"""

import os

from portal.settings import *  # noqa: F403
from portal.settings import CHANNEL_LAYERS

ISOLATION = os.environ["RUNYARD_TEST_ISOLATION"]
CELERY_TASK_DEFAULT_QUEUE = ISOLATION
CELERY_BEAT_SCHEDULE: dict = {}
if "CONFIG" in CHANNEL_LAYERS["default"]:
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{ISOLATION}:"
