"""Settings of the processes the outage tests start: this session's queue and channel prefix
(tests/run_settings.py), with the dispatcher's and the run poller's periodic tasks kept for beat."""

from portal.settings import CELERY_BEAT_SCHEDULE as PORTAL_SCHEDULE
from tests.run_settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {name: PORTAL_SCHEDULE[name] for name in ("dispatch", "poll-runs")}
