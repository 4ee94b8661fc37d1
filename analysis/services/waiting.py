"""Profiles and cost ingests waiting for their Celery task, and completed worksets whose results wait to be
searched for profiler output: sent once the upload (or the completion) commits, sent again by beat's sweep
when the first send was lost.

A broker that is down (Redis restarting) must not turn a stored upload into an error: the send failure is
logged with the row's code and the upload answers as usual. The row stays waiting (``pending``, never
claimed by a worker), and ``resend_waiting`` (beat, once per tenant) sends its task again once it has
waited ``RUNYARD_RESEND_WAITING_SECONDS``. A second delivery is a no-op: the worker claims a waiting row
with a conditional update, so only one delivery starts it; a workset's search imports each file once and
then sets ``profiles_searched_at``, which takes it out of the sweep.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import ChannelError, OperationalError

from analysis.models import CostIngest, Profile, State
from analysis.models.costs import IngestState

log = logging.getLogger(__name__)

RESEND_AT_MOST = 500  # per tenant and sweep; the next sweep takes the rest


def send_after_commit(task, *args) -> None:
    """Send ``task(*args)`` in this schema once committed; a refused send is logged, not raised."""
    schema = connection.schema_name
    transaction.on_commit(lambda: _send(task, schema, *args))


def resend_waiting() -> list[str]:
    """In this tenant's schema: send again the parse, ingest or results search of rows waiting longer than
    the setting."""
    from analysis.tasks import find_result_profiles_task, ingest_costs_task, parse_profile_task
    from jobs.models import State as WorksetState
    from jobs.models import Workset

    cutoff = timezone.now() - timedelta(seconds=settings.RUNYARD_RESEND_WAITING_SECONDS)
    profiles = Profile.objects.filter(state=State.PENDING, created_at__lt=cutoff).order_by("created_at")
    ingests = CostIngest.objects.filter(state=IngestState.PENDING, created_at__lt=cutoff).order_by(
        "created_at"
    )
    unsearched = Workset.objects.filter(
        state=WorksetState.COMPLETED, profiles_searched_at=None, finished_at__lt=cutoff
    ).order_by("finished_at")
    schema, sent = connection.schema_name, []
    for code, attempt in profiles.values_list("code", "attempt")[:RESEND_AT_MOST]:
        sent += [code] if _send(parse_profile_task, schema, code, attempt) else []
    for code in ingests.values_list("code", flat=True)[:RESEND_AT_MOST]:
        sent += [code] if _send(ingest_costs_task, schema, code) else []
    for code in unsearched.values_list("code", flat=True)[:RESEND_AT_MOST]:
        sent += [code] if _send(find_result_profiles_task, schema, code) else []
    return sent


def _send(task, schema: str, code: str, *args) -> bool:
    try:
        task.apply_async(args=(code, *args), headers={"_schema_name": schema})
    except (OperationalError, ChannelError):  # the broker refused or is gone: the sweep sends it later
        log.warning("could not send %s for %s in %s; it waits for the resend sweep", task.name, code, schema)
        log.debug("send failure", exc_info=True)
        return False
    return True
