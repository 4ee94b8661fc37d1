"""How fast Runyard reads a big callgrind file, against callgrind_annotate and gprof2dot, and whether
it gets the same totals.

    python bench/profile_parse.py [--dir DIR] [--separate-callers 6] [--rounds 60] [--min-mb 50]
                                  [--repeat 3] [--no-gprof2dot]

The file: a Python workload (json, re, decimal, sqlite3, xml, csv, hashlib, difflib … in a loop) run by
this virtualenv's interpreter (pyenv CPython here: not stripped, so every C function has a name) under
``valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes --I1=32768,8,64 --D1=32768,8,64
--LL=8388608,16,64 --dump-instr=yes --collect-jumps=yes --separate-callers=N``. Call contexts make the
file big (reference/profile-formats.md §3): N=6 and 60 rounds give ~65 MB in ~50 s of valgrind. The
file is kept in ``--dir`` (default: ``runyard-bench-profile-parse`` in the temporary directory) and
reused by later runs; its size is printed, and the run stops if it is under ``--min-mb``.

Each reader runs as its own process, timed from start to exit, with its peak RSS from ``wait4``:
``callgrind_annotate`` (the baseline), ``gprof2dot -f callgrind``, and Runyard's
``parse_callgrind(path)`` with ``instructions=True`` (every table) and ``instructions=False``. Runyard's
process also reports the parse alone (without importing pandas and numba), which is what MB/s and
the ratio use; the process wall time is printed beside it. Runyard runs ``--repeat`` times (best
kept). Its first-call compile time is measured once in a process with an empty numba cache
(``NUMBA_CACHE_DIR``). Checks: Runyard's sum of self costs equals the file's ``totals:`` line and its
``summary`` equals callgrind_annotate's PROGRAM TOTALS, for every event; the exit status is 1 if not.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

VALGRIND = [
    "valgrind",
    "--tool=callgrind",
    "--cache-sim=yes",
    "--branch-sim=yes",
    "--I1=32768,8,64",
    "--D1=32768,8,64",
    "--LL=8388608,16,64",
    "--dump-instr=yes",
    "--collect-jumps=yes",
]

WORKLOAD = """
import csv, datetime, decimal, difflib, fractions, hashlib, io, json, re, sqlite3, statistics, sys
import textwrap
import xml.etree.ElementTree as ET


def run(rounds):
    acc = 0
    for r in range(rounds):
        doc = {"id": r, "items": [{"k": i, "v": str(i * 3.5), "tags": ["a", "b", str(i)]} for i in range(40)]}
        text = json.dumps(doc, sort_keys=True, indent=1)
        acc += len(json.loads(text)["items"])
        acc += len(re.findall(r'"k": (\\d+)', text)) + len(re.sub(r"\\s+", " ", text))
        ctx = decimal.Context(prec=30)
        acc += int(ctx.divide(decimal.Decimal(r + 7), decimal.Decimal(3)).sqrt() * 1000)
        con = sqlite3.connect(":memory:")
        con.execute("create table t (a integer, b text)")
        con.executemany("insert into t values (?, ?)", [(i, str(i)) for i in range(60)])
        acc += con.execute("select sum(a), count(b) from t where a % 3 = 0").fetchone()[0]
        con.close()
        root = ET.fromstring("<r>" + "".join(f"<i n='{i}'>{i * i}</i>" for i in range(50)) + "</r>")
        acc += sum(int(e.text) for e in root.iter("i"))
        buf = io.StringIO()
        csv.writer(buf).writerows([[i, i * 2, "x" * (i % 7)] for i in range(50)])
        acc += sum(len(row) for row in csv.reader(io.StringIO(buf.getvalue())))
        acc += len(hashlib.sha256(text.encode()).hexdigest())
        acc += len(textwrap.wrap(text[:2000], 40))
        acc += int(difflib.SequenceMatcher(None, text[:300], text[100:400]).ratio() * 100)
        acc += int(statistics.mean([i * 1.5 for i in range(100)]))
        acc += fractions.Fraction(r + 1, 7).numerator
        acc += datetime.date(2024, 1, 1 + r % 28).toordinal() % 97
    return acc


print(run(int(sys.argv[1])))
"""

# Runs in the child: the parse alone is timed, and what the checks need is printed as JSON.
RUNYARD = """
import json, sys, time
started = time.perf_counter()
from analysis.profiles.callgrind import parse_callgrind
imported = time.perf_counter()
profile = parse_callgrind(sys.argv[1], instructions=sys.argv[2] == "1")
parsed = time.perf_counter()
events = profile.meta.events
print(json.dumps({
    "import": imported - started,
    "parse": parsed - imported,
    "self": [int(profile.functions[f"self_{e}"].sum()) for e in events],
    "totals": [profile.meta.totals[e] for e in events],
    "summary": [profile.meta.summary[e] for e in events] if profile.meta.summary else None,
    "rows": {t: len(getattr(profile, t)) for t in ("functions", "lines", "instructions", "calls")},
}))
"""

# Runs in the child with an empty numba cache: the first parse compiles, the second does not.
COMPILE = """
import json, sys, time
from analysis.profiles.callgrind import parse_callgrind_text
text = "events: Ir\\npositions: instr line\\nfl=(1) a.c\\nfn=(1) f\\n0x10 1 5\\ntotals: 5\\n"
started = time.perf_counter()
parse_callgrind_text(text)
first = time.perf_counter()
parse_callgrind_text(text)
print(json.dumps({"first": first - started, "second": time.perf_counter() - first}))
"""


@dataclass
class Run:
    label: str
    wall: float
    rss_mb: float
    stdout: str
    parse: float | None = None
    detail: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.parse if self.parse is not None else self.wall


def main() -> int:
    args = parse_args()
    path = profile_file(args)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({size_mb:.1f} MB)")
    if size_mb < args.min_mb:
        print(f"the file is under --min-mb {args.min_mb}: raise --separate-callers or --rounds")
        return 1
    compile_time(path)
    runs = [annotate(path)]
    if args.gprof2dot:
        runs.append(gprof2dot(path))
    for instructions in (True, False):
        runs.append(best(runyard(path, instructions) for _ in range(args.repeat)))
    report(runs, size_mb)
    return 0 if check(path, runs) else 1


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_dir = Path(tempfile.gettempdir()) / "runyard-bench-profile-parse"
    parser.add_argument("--dir", type=Path, default=default_dir, help="where the profile is made and kept")
    parser.add_argument("--separate-callers", type=int, default=6, help="valgrind's call context depth")
    parser.add_argument("--rounds", type=int, default=60, help="iterations of the workload's loop")
    parser.add_argument("--min-mb", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs of Runyard's reader (best kept)")
    parser.add_argument("--no-gprof2dot", dest="gprof2dot", action="store_false")
    return parser.parse_args()


# -- the file ----------------------------------------------------------------------------------------


def profile_file(args) -> Path:
    """The cached profile, made by valgrind when missing."""
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"callgrind.sep{args.separate_callers}.r{args.rounds}.out"
    if path.exists():
        return path
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install valgrind)")
    (args.dir / "workload.py").write_text(WORKLOAD)
    python = os.path.realpath(sys.executable)
    pattern = args.dir / "callgrind.out.%p"
    command = [*VALGRIND, f"--separate-callers={args.separate_callers}", f"--callgrind-out-file={pattern}"]
    print(f"profiling {python} workload.py {args.rounds} under callgrind (about a minute) …", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [*command, python, "workload.py", str(args.rounds)], cwd=args.dir, check=True, capture_output=True
    )
    made = max(args.dir.glob("callgrind.out.*"), key=lambda p: p.stat().st_size)  # %p: one per process
    made.rename(path)
    print(f"valgrind took {time.perf_counter() - started:.0f} s")
    return path


# -- the readers ---------------------------------------------------------------------------------------


def measured(label: str, command: list[str], env: dict | None = None) -> Run:
    """Run ``command`` to its end; wall time and the peak RSS of that process (``wait4``)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.returncode != 0:
            sys.exit(f"{label} failed ({process.returncode}): {stderr[-2000:]}")
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    return Run(label, wall, usage.ru_maxrss / 1024, stdout)


def annotate(path: Path) -> Run:
    print("callgrind_annotate …", flush=True)
    return measured("callgrind_annotate", ["callgrind_annotate", "--threshold=100", "--auto=no", str(path)])


def gprof2dot(path: Path) -> Run:
    print("gprof2dot …", flush=True)
    tool = shutil.which("gprof2dot") or str(Path(sys.executable).with_name("gprof2dot"))
    return measured("gprof2dot -f callgrind", [tool, "-f", "callgrind", "-o", os.devnull, str(path)])


def runyard(path: Path, instructions: bool) -> Run:
    label = f"Runyard instructions={instructions}"
    print(f"{label} …", flush=True)
    run = measured(label, [sys.executable, "-c", RUNYARD, str(path), "1" if instructions else "0"])
    run.detail = json.loads(run.stdout.strip().splitlines()[-1])
    run.parse = run.detail["parse"]
    return run


def best(runs) -> Run:
    return min(runs, key=lambda run: run.seconds)


def compile_time(path: Path) -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        run = measured("compile", [sys.executable, "-c", COMPILE], env=env)
    times = json.loads(run.stdout.strip().splitlines()[-1])
    print(
        f"numba first-call compile (empty cache): {times['first']:.1f} s; "
        f"the same call from the cache: {times['second'] * 1000:.0f} ms"
    )


# -- report and checks -------------------------------------------------------------------------------


def report(runs: list[Run], size_mb: float) -> None:
    baseline = runs[0].wall
    print()
    print(f"{'reader':32} {'wall s':>8} {'parse s':>8} {'MB/s':>8} {'peak RSS':>10} {'vs annotate':>12}")
    for run in runs:
        parse = f"{run.parse:8.2f}" if run.parse is not None else f"{'':8}"
        ratio = baseline / run.seconds
        print(
            f"{run.label:32} {run.wall:8.2f} {parse} {size_mb / run.seconds:8.1f} "
            f"{run.rss_mb:8.0f} MB {ratio:11.1f}x"
        )
        if run.parse is not None:
            rows = ", ".join(f"{name} {count:,}" for name, count in run.detail["rows"].items())
            print(f"{'':32} process: {size_mb / run.wall:.1f} MB/s, {baseline / run.wall:.1f}x; rows: {rows}")
    print()
    print("MB/s and the ratio use the parse alone for Runyard (wall time of the process for the others,")
    print("whose start-up is a small part of it); Runyard's process line includes importing pandas/numba.")


def check(path: Path, runs: list[Run]) -> bool:
    totals = file_totals(path)
    program = annotate_totals(runs[0].stdout)
    ok = True
    for run in runs:
        if run.parse is None:
            continue
        same_totals = run.detail["self"] == run.detail["totals"] == totals
        same_summary = run.detail["summary"] == program
        print(
            f"{run.label}: sum of self costs == totals: line: {'yes' if same_totals else 'NO'}; "
            f"summary == callgrind_annotate PROGRAM TOTALS: {'yes' if same_summary else 'NO'}"
        )
        ok = ok and same_totals and same_summary
    print(f"Ir: totals: {totals[0]:,}, PROGRAM TOTALS {program[0]:,}")
    return ok


def file_totals(path: Path) -> list[int]:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        tail = handle.read().decode(errors="replace")
    line = next(line for line in reversed(tail.splitlines()) if line.startswith("totals:"))
    return [int(value) for value in line.split()[1:]]


def annotate_totals(text: str) -> list[int]:
    for line in text.splitlines():
        if line.rstrip().endswith("PROGRAM TOTALS"):
            tokens = re.sub(r"\(\s*[\d.]+%\)", " ", line).split()[:-2]
            return [0 if token == "." else int(token.replace(",", "")) for token in tokens]
    raise SystemExit("callgrind_annotate printed no PROGRAM TOTALS")


if __name__ == "__main__":
    sys.exit(main())
