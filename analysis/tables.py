"""A ready profile's parsed tables, read back from the tenant's bucket (Parquet) into the profile model.

Reading is the slow part of an insight request, so the profiles this process read last are kept in
memory, keyed by schema, code and parse attempt (a re-parse is a new key, never a stale answer), up to
KEEP profiles and KEEP_ROWS table rows in all (a profile with millions of instruction rows is read each
time rather than crowding out the rest, or the process's memory).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.db import connection

from analysis.models import Profile, State
from analysis.profiles import model, store
from tenants.access import current_tenant
from tenants.services.files import storage_of

KEEP = 8
KEEP_ROWS = 2_000_000
_cache: OrderedDict[tuple[str, str, int], model.Profile] = OrderedDict()
_lock = threading.Lock()


class NotReady(Exception):
    """The profile has no tables (yet): it is waiting, parsing, or its parse failed."""

    def __init__(self, profile: Profile):
        super().__init__(f"The profile {profile.code} is {profile.get_state_display().lower()}.")
        self.profile = profile


def parsed(profile: Profile) -> model.Profile:
    if profile.state != State.READY or not profile.tables:
        raise NotReady(profile)
    key = (connection.schema_name, profile.code, profile.attempt)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    storage = storage_of(current_tenant())
    frames = {
        name: store.table_from_parquet(b"".join(storage.download(path)))
        for name, path in profile.tables.items()
    }
    result = store.profile_from(store.meta_from_dict(profile.meta), frames)
    if _rows(result) <= KEEP_ROWS:
        with _lock:
            _cache[key] = result
            while len(_cache) > KEEP or sum(map(_rows, _cache.values())) > KEEP_ROWS:
                _cache.popitem(last=False)
    return result


def _rows(profile: model.Profile) -> int:
    return sum(len(frame) for frame in store.tables_of(profile).values())
