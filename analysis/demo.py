"""Demo data of the analysis app for ``runyard demo``.

Profiles: acme gets two real profiles of one program, before and after an
optimisation (``analysis/demo_profiles``: callgrind with simulated caches and branches, per instruction,
each joined with the binary's ``objdump -d``), so hotspots, the vector mix and the diff have data.

They are parsed like any upload (the demo runs the task inline). Idempotent: a demo profile already there
(by name) is kept.

Costs: the Heliox-shaped sample of ``analysis/demo_costs`` (3 teams with budgets, 30 GPU jobs on A100
and H100 over two weeks, 14 days of rates), moved to end yesterday, ingested like an upload.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.core.files.base import ContentFile

from analysis.models import GpuJob, Profile, Source
from analysis.services.costs import start_cost_ingest
from analysis.services.profiles import create_profile

FILES = Path(__file__).resolve().parent / "demo_profiles"


@dataclass(frozen=True)
class DemoProfile:
    name: str
    stem: str


DEMO_PROFILES = (
    DemoProfile("Particles, before (linked records)", "before"),
    DemoProfile("Particles, after (contiguous arrays, AVX2)", "after"),
)


def seed_demo_profiles() -> int:
    """Create the demo profiles that are missing (in the tenant's schema); return how many were made."""
    made = 0
    for demo in DEMO_PROFILES:
        if Profile.objects.filter(source=Source.DEMO, name=demo.name).exists():
            continue
        profile_file, objdump = FILES / f"{demo.stem}.callgrind", FILES / f"{demo.stem}.objdump"
        with open(profile_file, "rb") as data, open(objdump, "rb") as disassembly:
            create_profile(
                name=demo.name,
                filename=f"callgrind.out.{demo.stem}",
                data=data,
                size=profile_file.stat().st_size,
                actor=None,
                source=Source.DEMO,
                disassembly=(f"{demo.stem}.objdump", disassembly, objdump.stat().st_size),
            )
        made += 1
    return made


# --- Cost analytics -------------------------------------------------------------------------------------

COST_FILES = Path(__file__).resolve().parent / "demo_costs"
COST_SAMPLE_LAST_RATE_DAY = date(2026, 1, 14)  # the sample's rates run 2026-01-01 … 01-14


def _shifted_costs(days: int) -> tuple[str, str]:
    """The Heliox-shaped sample (3 teams, 30 jobs, 14 days of rates) moved by whole days: costs unchanged."""
    sample = json.loads((COST_FILES / "heliox-jobs.json").read_text())
    for job in sample["jobs"]:
        for field in ("start_time", "end_time"):
            moment = datetime.fromisoformat(job[field].replace("Z", "+00:00")) + timedelta(days=days)
            job[field] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = (COST_FILES / "rates.csv").read_text().splitlines()
    rates = [lines[0]] + [
        f"{date.fromisoformat(day) + timedelta(days=days)},{rest}"
        for day, rest in (line.split(",", 1) for line in lines[1:])
    ]
    return json.dumps(sample, indent=1), "\n".join(rates) + "\n"


def seed_demo_costs(today: date) -> bool:
    """Ingest the sample's rates and jobs, moved so that its last rate day is yesterday, through the same
    service as an upload (in the tenant's schema; tasks run inline in the demo). Skipped once the tenant
    has GPU jobs. Returns whether it ingested."""
    if GpuJob.objects.exists():
        return False
    jobs, rates = _shifted_costs((today - timedelta(days=1) - COST_SAMPLE_LAST_RATE_DAY).days)
    start_cost_ingest(ContentFile(rates.encode(), name="demo-rates.csv"), kind="rates", actor=None)
    start_cost_ingest(ContentFile(jobs.encode(), name="demo-gpu-jobs.json"), kind="jobs", actor=None)
    return True
