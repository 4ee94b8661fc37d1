"""``runyard demo``'s profiles: two real profiles of one program, parsed like uploads, joined with the
binary's disassembly; seeding twice adds nothing."""

import pytest
from django_tenants.utils import tenant_context

from analysis.demo import DEMO_PROFILES, seed_demo_profiles
from analysis.models import Profile
from analysis.tables import parsed

pytestmark = pytest.mark.django_db


def test_the_demo_profiles_are_parsed_joined_and_seeded_once(world, django_capture_on_commit_callbacks):
    with tenant_context(world.tenant):
        with django_capture_on_commit_callbacks(execute=True):
            assert seed_demo_profiles() == len(DEMO_PROFILES)
        profiles = list(Profile.objects.filter(source="demo").order_by("id"))
        assert [p.state for p in profiles] == ["ready", "ready"], [(p.state, p.error) for p in profiles]
        for profile in profiles:
            tables = parsed(profile)
            dynamic = tables.mix[(tables.mix.basis == "dynamic") & (tables.mix.key_type == "register_class")]
            whole = dynamic[dynamic.function == ""].set_index("key")["count"]
            # every executed instruction is counted once: the program's own are classified, the
            # loader's and libc's (not in the binary's disassembly) are "unknown"
            instructions = tables.instructions
            assert whole.sum() == instructions["Ir"].sum()
            program = instructions[instructions.object == f"/src/demo/{profile.filename.rsplit('.', 1)[1]}"]
            assert whole.drop("unknown").sum() == program["Ir"].sum() > 0
        after = parsed(profiles[1]).mix
        assert after[(after.basis == "dynamic") & (after.key == "ymm")]["count"].sum() > 0  # AVX2 after
        assert seed_demo_profiles() == 0
