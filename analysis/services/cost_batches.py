"""One batch of an ingest applied to the tables: teams, jobs or rates upserted, rollups kept in step.

Each function takes the batch's validated records, writes what changed, and answers per-row counts
``{"inserted", "updated", "unchanged"}`` plus the rows refused here (values the database cannot hold).
A row is compared with the state the table (or an earlier row of the same batch) already has, so a
file applied twice counts every row unchanged the second time and writes nothing. The caller runs
the batch in one transaction under the tenant's cost lock (``analysis.rollups.lock_costs``).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from analysis.costs.rates import RateRecord
from analysis.costs.records import JobRecord, RowError, TeamRecord
from analysis.models import GpuJob, RateSnapshot, Team
from analysis.models.costs import RateSource
from analysis.rollups import apply_job_changes, array_cursor, reprice

NAME_LENGTH = 200
CENTS = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")
MAX_BUDGET = Decimal("999999999999.99")
MAX_RATE = Decimal("99999999.9999")
JOB_FIELDS = (
    "team_id",
    "model_name",
    "provider",
    "gpu_type",
    "gpu_count",
    "start_time",
    "end_time",
    "status",
)


def new_counts() -> dict[str, int]:
    return {"inserted": 0, "updated": 0, "unchanged": 0}


def _too_long(row: int, kind: str, **values: str) -> RowError | None:
    for field, value in values.items():
        if len(value) > NAME_LENGTH:
            return RowError(row, field, f"{field} is longer than {NAME_LENGTH} characters", kind)
    return None


# -- teams -------------------------------------------------------------------------------------------------


def apply_teams(records: list[tuple[int, TeamRecord]]) -> tuple[dict, list[RowError]]:
    """Teams by name: created, or their description and budget updated when the row gives them (a row
    without a budget never drops one)."""
    counts, refused = new_counts(), []
    teams = {team.name: team for team in Team.objects.filter(name__in={r.name for _, r in records})}
    for row, record in records:
        budget = None if record.budget_usd is None else record.budget_usd.quantize(CENTS)
        problem = _too_long(row, "team", name=record.name)
        if problem is None and budget is not None and budget > MAX_BUDGET:
            problem = RowError(row, "budget_usd", f"budget_usd must be at most {MAX_BUDGET}", "team")
        if problem is not None:
            refused.append(problem)
            continue
        team = teams.get(record.name)
        if team is None:
            teams[record.name] = Team.objects.create(
                name=record.name, description=record.description, budget_usd=budget
            )
            counts["inserted"] += 1
            continue
        changed = []
        if record.description and record.description != team.description:
            team.description = record.description
            changed.append("description")
        if budget is not None and budget != team.budget_usd:
            team.budget_usd = budget
            changed.append("budget_usd")
        if changed:
            team.save(update_fields=[*changed, "updated"])
        counts["updated" if changed else "unchanged"] += 1
    return counts, refused


def _team_ids(names: set[str]) -> tuple[dict[str, int], int]:
    """Team ids by name; a team only named by jobs is created without a budget. Also how many were."""
    ids = dict(Team.objects.filter(name__in=names).values_list("name", "id"))
    missing = [Team(name=name) for name in sorted(names - ids.keys())]
    for team in Team.objects.bulk_create(missing):
        ids[team.name] = team.id
    return ids, len(missing)


# -- jobs --------------------------------------------------------------------------------------------------


def apply_jobs(
    records: list[tuple[int, JobRecord]], ingest_id: int | None
) -> tuple[dict, list[RowError], int]:
    """Jobs upserted by job_id, the rollups moved by the difference. Returns counts, refused rows and
    the number of teams created because jobs named them."""
    counts, refused, kept = new_counts(), [], []
    for row, record in records:
        problem = _too_long(
            row, "job", job_id=record.job_id, team_name=record.team_name, model_name=record.model_name
        )
        if problem is None:
            kept.append(record)
        else:
            refused.append(problem)
    team_ids, teams_created = _team_ids({record.team_name for record in kept})
    stored = _stored_jobs({record.job_id for record in kept})
    final: dict[str, tuple] = {}
    for record in kept:
        state = _state(record, team_ids[record.team_name])
        before = final.get(record.job_id, stored.get(record.job_id))
        counts["inserted" if before is None else "unchanged" if before == state else "updated"] += 1
        final[record.job_id] = state
    changed = {job_id: state for job_id, state in final.items() if stored.get(job_id) != state}
    _write_jobs(changed, ingest_id)
    old = {job_id: stored[job_id] for job_id in changed if job_id in stored}
    apply_job_changes(_frame(old), _frame(changed))
    return counts, refused, teams_created


def _state(record: JobRecord, team_id: int) -> tuple:
    return (
        team_id,
        record.model_name,
        record.provider,
        record.gpu_type,
        record.gpu_count,
        record.start_time,
        record.end_time,
        record.status,
    )


def _stored_jobs(job_ids: set[str]) -> dict[str, tuple]:
    """The stored state of these jobs (one query with an array parameter, not 5 000 placeholders)."""
    with array_cursor() as cursor:
        cursor.execute(
            f"SELECT job_id, {', '.join(_COLUMNS)} FROM {GpuJob._meta.db_table} WHERE job_id = ANY(%b)",  # noqa: S608
            [list(job_ids)],
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


_COLUMNS = list(JOB_FIELDS)
_TYPES = ["bigint", "text", "text", "text", "integer", "timestamptz", "timestamptz", "text"]


def _write_jobs(changed: dict[str, tuple], ingest_id: int | None) -> None:
    """Insert or update the changed jobs in one statement (Django's bulk_create would build 5 000 models)."""
    if not changed:
        return
    columns = list(zip(*changed.values(), strict=True))
    arrays = ", ".join(f"%b::{kind}[]" for kind in ["text", *_TYPES])
    names = ", ".join(_COLUMNS)
    with array_cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {GpuJob._meta.db_table} (job_id, {names}, ingest_id, updated)
            SELECT u.*, %s::bigint, now() FROM unnest({arrays}) AS u
            ON CONFLICT (job_id) DO UPDATE SET
                {", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS)},
                ingest_id = EXCLUDED.ingest_id, updated = EXCLUDED.updated
            """,  # noqa: S608 - names come from the model; values are bound
            [ingest_id, list(changed), *map(list, columns)],
        )


def _frame(states: dict[str, tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(job_id, *state) for job_id, state in states.items()], columns=["job_id", *JOB_FIELDS]
    )
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"gpu_count": "int64"}).assign(team_name=frame["team_id"])


# -- rates -------------------------------------------------------------------------------------------------


def apply_rates(records: list[tuple[int, RateRecord]], actor_id: int | None) -> tuple[dict, list[RowError]]:
    """Rates upserted by (day, provider, gpu_type); the rollups of the changed keys repriced."""
    counts, refused = new_counts(), []
    stored = {
        (rate.day, rate.provider, rate.gpu_type): rate
        for rate in RateSnapshot.objects.filter(day__in={record.day for _, record in records})
    }
    new, updated, changed = [], [], set()
    for row, record in records:
        usd = record.usd_per_gpu_hour.quantize(RATE_PLACES)
        if usd > MAX_RATE:
            refused.append(
                RowError(row, "usd_per_gpu_hour", f"usd_per_gpu_hour must be at most {MAX_RATE}", "rate")
            )
            continue
        rate = stored.get(record.key)
        if rate is None:
            rate = RateSnapshot(day=record.day, provider=record.provider, gpu_type=record.gpu_type)
            new.append(rate)
            counts["inserted"] += 1
        elif rate.usd_per_gpu_hour == usd:
            counts["unchanged"] += 1
            continue
        else:
            updated.append(rate)
            counts["updated"] += 1
        rate.usd_per_gpu_hour, rate.source, rate.updated_by_id = usd, RateSource.IMPORT, actor_id
        stored[record.key] = rate
        changed.add(record.key)
    RateSnapshot.objects.bulk_create(new, batch_size=2000)
    RateSnapshot.objects.bulk_update(
        [rate for rate in updated if rate.pk], ["usd_per_gpu_hour", "source", "updated_by"], batch_size=1000
    )
    reprice(changed)
    return counts, refused
