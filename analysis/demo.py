"""Demo profiles for ``runyard demo``: acme gets two real profiles of one program, before and after an
optimisation (``analysis/demo_profiles``: callgrind with simulated caches and branches, per instruction,
each joined with the binary's ``objdump -d``), so hotspots, the vector mix and the diff have data.

They are parsed like any upload (the demo runs the task inline). Idempotent: a demo profile already there
(by name) is kept.
"""

from dataclasses import dataclass
from pathlib import Path

from analysis.models import Profile, Source
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
