"""Settings of the processes the profile browser test starts (daphne and a Celery worker): those of
tests/run_settings.py, with the queue and channel-layer prefix of the module's ``RUNYARD_TEST_ISOLATION``."""

from tests.run_settings import *  # noqa: F403
