"""Settings of the Celery workers (and the process queueing their task) of test_worker_kill.py:
tests/run_settings.py, whose queue is the module's own, with every kombu key on Redis under that name
too (``global_keyprefix``). The test's workers look for unacknowledged tasks with a visibility timeout of
a few seconds; under the prefix they only ever see this test's tasks, never another session's on the
shared Redis."""

from tests.run_settings import *  # noqa: F403
from tests.run_settings import CELERY_BROKER_TRANSPORT_OPTIONS, ISOLATION

CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": f"{ISOLATION}:"}
