"""The ``local`` backend: a run's steps are subprocesses on this host, one after another.

Layout of a run directory, ``RUNYARD_HOME/runs/<schema>/<workset code>/``::

    run.json            the plan, the spec, schema and code (written by submit)
    work/               the steps' current directory; staged inputs in work/inputs/, results in work/results/
    steps/<step>.json   the step's status marker (status, exit code, times, pid and process group)
    steps/<step>.lock   the PID of the process running the step, while it runs
    logs/<step>.log     the step's stdout and stderr
    supervisor.lock     held (flock) by the supervisor while it lives; its PID inside
    cancel              present once the run is cancelled

``submit`` starts a detached supervisor, ``python -m jobs.backends.local_runner <run dir>`` in its own
session, so a Celery worker dying does not take the run with it. The supervisor holds ``supervisor.lock``, so
two supervisors never work on one run; a second ``submit`` while one is alive does nothing, and after it died
a new one skips the steps whose marker says ``succeeded`` (resume from the failed step). Each step runs in its
own process group, which ``cancel`` kills (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from jobs.backends.base import (
    CANCELLED,
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    BackendUnavailable,
    ExecutionBackend,
    Handle,
    PipelinePlan,
    Run,
    RunStatus,
    StepStatus,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CANCEL_GRACE_SECONDS = 5.0
CHECK_TIMEOUT_SECONDS = 10


def run_directory(home: Path | str, schema: str, workset_code: str) -> Path:
    for part in (schema, workset_code):
        if not part or "/" in part or part.startswith("."):
            raise ValueError(f"Unsafe path part {part!r}.")
    return Path(home) / "runs" / schema / workset_code


# What a step may inherit from the worker: how to find programs and speak the locale, nothing more. The
# worker's own environment holds the database URL, storage keys and the secret key; steps never need them.
INHERITED = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TMPDIR", "VIRTUAL_ENV"})


def child_environment() -> dict[str, str]:
    """The environment of the supervisor and the steps (and of Slurm's commands, whose jobs inherit it):
    the allowed part of this one, locale settings, and the project importable."""
    env = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_json(path: Path, data: dict) -> None:
    """Atomically, from any process or thread: readers never see half a file."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        json.dump(data, out, indent=2, sort_keys=True)
    os.replace(out.name, path)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def group_alive(pgid: int | None) -> bool:
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(pid_alive(pid) for pid in _group_members(pgid))


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def supervisor_alive(run_dir: Path) -> bool:
    """True while a supervisor holds the run's lock."""
    lock = run_dir / "supervisor.lock"
    if not lock.exists():
        return False
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


class LocalBackend(ExecutionBackend):
    name = "local"

    def __init__(self, home: Path | str | None = None, *, python: str | None = None):
        if home is None:
            from django.conf import settings

            home = settings.RUNYARD_HOME
        self.home = Path(home)
        self.python = python or sys.executable

    def check(self) -> None:
        """The runs directory takes files and the step interpreter starts, as a run would need."""
        runs = self.home / "runs"
        try:
            runs.mkdir(parents=True, exist_ok=True)
            probe = runs / f".probe-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
            subprocess.run(
                [self.python, "-c", "pass"], check=True, timeout=CHECK_TIMEOUT_SECONDS, capture_output=True
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise BackendUnavailable(f"local backend cannot start a step: {error}") from error

    def run_dir(self, schema: str, workset_code: str) -> Path:
        return run_directory(self.home, schema, workset_code)

    def prepare(self, run: Run) -> Path:
        """Create the run directory (staging writes the inputs into ``work/`` before ``submit``)."""
        run_dir = self.run_dir(run.schema, run.workset_code)
        for sub in ("work", "steps", "logs"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        return run_dir

    def submit(self, run: Run) -> Handle:
        run_dir = self.prepare(run)
        (run_dir / "cancel").unlink(missing_ok=True)
        write_json(
            run_dir / "run.json",
            {"schema": run.schema, "workset_code": run.workset_code, "plan": run.plan.to_dict()},
        )
        write_json(run_dir / "work" / "spec.json", run.spec)
        handle: Handle = {"backend": self.name, "run_dir": str(run_dir), "supervisor_pid": None}
        if not self._reset_unfinished(run_dir, run.plan):
            handle["supervisor_pid"] = (read_json(run_dir / "supervisor.json") or {}).get("pid")
            return handle  # a supervisor is at work on this run already
        if all(self._marker(run_dir, step).get("status") == SUCCEEDED for step in run.plan.step_names()):
            return handle  # nothing left to do
        with open(run_dir / "logs" / "supervisor.log", "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [self.python, "-m", "jobs.backends.local_runner", str(run_dir)],
                cwd=run_dir,
                env=child_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        handle["supervisor_pid"] = process.pid
        self._reap_later(process)
        return handle

    def _reset_unfinished(self, run_dir: Path, plan: PipelinePlan) -> bool:
        """Under the supervisor lock: the steps not succeeded become pending again (a new attempt), so a poll
        right after submit does not see the last attempt's failure. False when a supervisor holds the lock."""
        with open(run_dir / "supervisor.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                for name in plan.step_names():
                    marker = self._marker(run_dir, name)
                    if marker and marker.get("status") != SUCCEEDED:
                        earlier = {k: v for k, v in marker.items() if k not in ("name", "history")}
                        history = [*marker.get("history", []), earlier]
                        write_json(run_dir / "steps" / f"{name}.json", {"name": name, "history": history})
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return True

    @staticmethod
    def _reap_later(process: subprocess.Popen) -> None:
        """Keep a reference so the child is reaped when it exits (no zombie in a long-lived worker)."""
        threading.Thread(target=process.wait, daemon=True).start()

    def poll(self, handle: Handle) -> RunStatus:
        run_dir = Path(handle["run_dir"])
        plan = self._plan(run_dir)
        supervised = supervisor_alive(run_dir)
        steps = []
        for name in plan.step_names():
            marker = self._marker(run_dir, name)
            status = marker.get("status", PENDING)
            message = marker.get("message", "")
            if status == RUNNING and not supervised and not pid_alive(marker.get("pid")):
                # Worded as a node failure (WS-CLU-001, transient): the run is retried from this step.
                status, message = FAILED, "Lost contact with node: supervisor and step gone (restarted?)."
            steps.append(
                StepStatus(
                    name=name,
                    status=status,
                    exit_code=marker.get("exit_code"),
                    started_at=marker.get("started_at"),
                    finished_at=marker.get("finished_at"),
                    message=message,
                    vcpu_seconds=marker.get("cpu_seconds"),
                )
            )
        return RunStatus(steps=steps)

    def cancel(self, handle: Handle) -> None:
        run_dir = Path(handle["run_dir"])
        if not (run_dir / "run.json").exists():
            return
        status = self.poll(handle)
        if status.finished and not supervisor_alive(run_dir):
            return
        (run_dir / "cancel").touch()
        supervisor = read_json(run_dir / "supervisor.json") or {}
        if supervisor.get("pid") and supervisor_alive(run_dir):
            _signal(supervisor["pid"], signal.SIGTERM, group=False)
        for step in status.steps:
            marker = self._marker(run_dir, step.name)
            if marker.get("status") == RUNNING and marker.get("pgid"):
                _kill_group(marker["pgid"])
        deadline = time.monotonic() + CANCEL_GRACE_SECONDS
        while supervisor_alive(run_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Whatever the supervisor could not record (it was killed, or was not running): record it here.
        for step in self.poll(handle).steps:
            if step.status not in FINISHED:
                marker = self._marker(run_dir, step.name)
                marker.update(
                    status=CANCELLED, finished_at=marker.get("finished_at") or _now(), name=step.name
                )
                write_json(run_dir / "steps" / f"{step.name}.json", marker)

    def log_excerpt(self, handle: Handle, step: str, max_bytes: int = 16_384) -> str:
        run_dir = Path(handle["run_dir"])
        if step not in self._plan(run_dir).step_names():
            raise KeyError(f"No step {step!r} in this run.")
        path = run_dir / "logs" / f"{step}.log"
        try:
            with open(path, "rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - max_bytes))
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @staticmethod
    def _plan(run_dir: Path) -> PipelinePlan:
        data = read_json(run_dir / "run.json")
        if data is None:
            raise FileNotFoundError(f"No run at {run_dir}.")
        return PipelinePlan.from_dict(data["plan"])

    @staticmethod
    def _marker(run_dir: Path, step: str) -> dict:
        return read_json(run_dir / "steps" / f"{step}.json") or {}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _signal(pid: int, signum: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        (os.killpg if group else os.kill)(pid, signum)


def _kill_group(pgid: int, grace: float = CANCEL_GRACE_SECONDS) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    _signal(pgid, signal.SIGTERM, group=True)
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_alive(pgid):
        _signal(pgid, signal.SIGKILL, group=True)
