"""The committed demo profiles are what make_demo_profiles.sh makes (gcc, valgrind and objdump run
here), small, free of build paths, and they tell the story the demo is for."""

import subprocess
import tempfile
from pathlib import Path

from analysis.insights import diff, memory
from analysis.profiles.callgrind import parse_callgrind

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "demo_profiles"
OUTPUTS = ("before.callgrind", "after.callgrind", "before.objdump", "after.objdump")


def own_functions(path: Path, program: str):
    """The program's own functions: the dynamic loader's work varies with the environment."""
    profile = parse_callgrind(path)
    table = profile.functions[profile.functions.object == f"/src/demo/{program}"]
    return table.set_index("function").filter(like="self_").sort_index()


def test_the_script_remakes_the_committed_profiles(tmp_path):
    subprocess.run([str(DEMO / "make_demo_profiles.sh"), str(tmp_path)], check=True, capture_output=True)
    for program in ("before", "after"):
        table = own_functions(DEMO / f"{program}.callgrind", program)
        fresh = own_functions(tmp_path / f"{program}.callgrind", program)
        assert list(table.index) == list(fresh.index)
        exact = [f"self_{event}" for event in ("Ir", "Dr", "Dw", "Bc", "Bi")]
        assert table[exact].equals(fresh[exact])
        # Simulated misses move by a few lines with where the heap lands (the environment's size).
        simulated = table.drop(columns=exact)
        assert ((simulated - fresh[simulated.columns]).abs() <= 0.01 * simulated + 20).all().all()
        objdump = f"{program}.objdump"
        assert (DEMO / objdump).read_text() == (tmp_path / objdump).read_text()


def test_the_committed_files_are_small_and_have_no_build_paths():
    for name in OUTPUTS:
        text = (DEMO / name).read_text()
        assert len(text.encode()) < 400_000, name
        assert tempfile.gettempdir() + "/" not in text, name  # the build directory was rewritten
    assert "ob=(" in (DEMO / "before.callgrind").read_text()
    assert "/src/demo/before" in (DEMO / "before.callgrind").read_text()


def test_the_demo_shows_the_chase_fixed_and_the_branch_left_alone():
    before = parse_callgrind(DEMO / "before.callgrind")
    after = parse_callgrind(DEMO / "after.callgrind")
    assert memory(before).rows[0].function == "update_particles"
    assert [row.function for row in diff(before, after).improvements][:1] == ["update_particles"]
    branchy = {row.function: row for row in memory(after, limit=50).rows}["count_above"]
    assert branchy.figures["branch_mispredict_rate"].value > 0.2
