"""Every format Runyard reads, uploaded through the API as a customer would: detected by content, parsed
in the background, answering hotspots. The files are made here by the real tools (gcc -pg + gprof,
perf record + perf script/report, objdump) or are excerpts of real public files (Intel SDE -mix), and the
tabular format is written by Runyard's own writer."""

import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.profiles.callgrind import parse_callgrind
from analysis.profiles.tabular import write_tabular

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent / "samples"
DEMO = ROOT / "analysis" / "demo_profiles"

PROGRAM = r"""
#include <stdio.h>
#define HOT __attribute__((noipa))
HOT double spin(long n) { double x = 0; for (long i = 0; i < n; i++) x += i * 0.5; return x; }
HOT long walk(long n) { long s = 0; for (long i = 0; i < n; i++) s += (i * 7) % 13; return s; }
int main(void) {
    double d = 0; long s = 0;
    for (int r = 0; r < 40; r++) { d += spin(4000000); s += walk(1000000); }
    printf("%f %ld\n", d, s);
    return 0;
}
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, bytes]:
    """gprof and perf outputs of one program, where ``spin`` takes most of the time."""
    work = tmp_path_factory.mktemp("formats")
    (work / "p.c").write_text(PROGRAM)
    run = lambda *args: subprocess.run(args, cwd=work, check=True, capture_output=True).stdout  # noqa: E731
    run("gcc", "-O1", "-g", "-pg", "-o", "p_pg", "p.c")
    run("./p_pg")
    run("gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", "p", "p.c")
    run("perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-o", "perf.data", "./p")
    return {
        "gprof": run("gprof", "-b", "p_pg", "gmon.out"),
        "perf_script": run("perf", "script", "-i", "perf.data"),
        # the layout the README recommends: samples and periods as columns, nothing estimated
        "perf_report": run(
            "perf",
            "report",
            "--stdio",
            "-i",
            "perf.data",
            "--no-children",
            "-g",
            "none",
            "--sort",
            "dso,sym",
            "-F",
            "overhead,sample,period,dso,sym",
        ),
        "objdump": run("objdump", "-d", "p"),
    }


@pytest.fixture
def uploaded(api_for, world, django_capture_on_commit_callbacks):
    alice = api_for(world.alice)

    def post(filename: str, content: bytes) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            response = alice.post(
                "/api/v1/profiles", {"file": SimpleUploadedFile(filename, content)}, format="multipart"
            )
        assert response.status_code == 202, response.json()
        code = response.json()["code"]
        profile = alice.get(f"/api/v1/profiles/{code}").json()
        assert profile["state"] == "ready", profile
        return {**profile, "hotspots": alice.get(f"/api/v1/profiles/{code}/hotspots").json()}

    return post


@pytest.mark.parametrize("fmt", ["gprof", "perf_script", "perf_report"])
def test_sampled_profiles_show_the_hot_function_first(made, uploaded, fmt):
    profile = uploaded("profile.txt", made[fmt])  # the name says nothing: the content decides
    assert profile["format"] == fmt
    top = profile["hotspots"]["rows"][0]
    assert top["function"] == "spin", profile["hotspots"]["rows"][:3]
    assert profile["hotspots"]["kind"] == "sampled"


def test_a_disassembly_alone_gives_the_static_vector_mix(made, uploaded, api_for, world):
    profile = uploaded("p.objdump", made["objdump"])
    assert profile["format"] == "objdump" and profile["tool"] == "objdump"
    mix = api_for(world.alice).get(f"/api/v1/profiles/{profile['code']}/vectorization").json()
    assert mix["program_basis"] == "static"
    assert "spin" in {row["function"] for row in mix["rows"]}


def test_an_sde_mix_excerpt_is_read_with_its_instruction_counts(uploaded):
    profile = uploaded("sde-mix-out.txt", (SAMPLES / "sde-mix-out.gapbs-tid0.txt").read_bytes())
    assert profile["format"] == "sde_mix" and profile["hotspots"]["kind"] == "exact"
    assert profile["hotspots"]["rows"][0]["self"]["value"] > 0


@pytest.mark.parametrize("table_format", ["csv", "parquet"])
def test_the_runyard_tabular_format_round_trips_a_callgrind_profile(uploaded, tmp_path, table_format):
    original = parse_callgrind(DEMO / "before.callgrind")
    target = tmp_path / f"profile.{table_format}.zip"
    write_tabular(original, target, format=table_format)
    profile = uploaded("export.zip", target.read_bytes())
    assert profile["format"] == "tabular"
    assert profile["meta"]["totals"] == original.meta.totals
    assert profile["hotspots"]["rows"][0]["function"] == original.self_cost("Ir").idxmax()
