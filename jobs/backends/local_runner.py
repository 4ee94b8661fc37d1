"""The supervisor of one local run: ``python -m jobs.backends.local_runner <run dir>``.

Started detached by ``LocalBackend.submit``; runs the plan's steps one after another and records each step's
marker. No Django. See ``jobs.backends.local`` for the run directory's layout and the guarantees.
"""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobs.backends.base import CANCELLED, FAILED, RUNNING, SUCCEEDED, PipelinePlan
from jobs.backends.local import _kill_group, _now, child_environment, group_alive, read_json, write_json


class Supervisor:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.current: subprocess.Popen | None = None
        self.cancelled = False

    def cancel_requested(self) -> bool:
        return self.cancelled or (self.run_dir / "cancel").exists()

    def on_sigterm(self, signum, frame) -> None:
        self.cancelled = True
        if self.current is not None:
            _kill_group(self.current.pid, grace=2.0)

    def run(self) -> int:
        plan = PipelinePlan.from_dict(read_json(self.run_dir / "run.json")["plan"])
        for step in plan.steps:
            marker_path = self.run_dir / "steps" / f"{step.name}.json"
            marker = read_json(marker_path) or {}
            if marker.get("status") == SUCCEEDED:
                continue  # finished by an earlier supervisor: never rerun
            if self.cancel_requested():
                self._record(step.name, status=CANCELLED, finished_at=_now())
                continue
            self._wait_for_orphan(step.name)
            exit_code = self._run_step(step)
            if exit_code != 0:
                for later in plan.steps[plan.steps.index(step) + 1 :]:
                    if self.cancel_requested():
                        self._record(later.name, status=CANCELLED, finished_at=_now())
                return 1
        return 0

    def _wait_for_orphan(self, name: str) -> None:
        """A step left running by a supervisor that was killed: wait until its process group is gone, so the
        step never runs twice at the same time (its outcome is unknown, so it runs again)."""
        lock = read_json(self.run_dir / "steps" / f"{name}.lock") or {}
        while lock.get("pgid") and group_alive(lock["pgid"]):
            time.sleep(0.2)
        (self.run_dir / "steps" / f"{name}.lock").unlink(missing_ok=True)

    def _run_step(self, step) -> int:
        started, cpu_before = _now(), _children_cpu_seconds()
        with open(self.run_dir / "logs" / f"{step.name}.log", "ab") as log:
            log.write(f"--- {started} {step.name}: {' '.join(step.argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(  # noqa: S603 - argv from the plan this host wrote
                list(step.argv),
                cwd=self.run_dir / "work",
                env=child_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cancel kills the whole tree
            )
            self.current = process
            write_json(
                self.run_dir / "steps" / f"{step.name}.lock", {"pid": process.pid, "pgid": process.pid}
            )
            self._record(step.name, status=RUNNING, started_at=started, pid=process.pid, pgid=process.pid)
            exit_code = process.wait()
            self.current = None
        finished, cpu_seconds = _now(), round(_children_cpu_seconds() - cpu_before, 3)
        if self.cancel_requested():
            status, message = CANCELLED, "Cancelled."
        elif exit_code == 0:
            status, message = SUCCEEDED, ""
        else:
            status, message = FAILED, f"Exited with code {exit_code}."
        self._record(
            step.name,
            status=status,
            exit_code=exit_code,
            started_at=started,
            finished_at=finished,
            pid=process.pid,
            pgid=process.pid,
            message=message,
            cpu_seconds=cpu_seconds,
        )
        (self.run_dir / "steps" / f"{step.name}.lock").unlink(missing_ok=True)
        return exit_code if status == SUCCEEDED else (exit_code or 1)

    def _record(self, name: str, **fields) -> None:
        path = self.run_dir / "steps" / f"{name}.json"
        marker = read_json(path) or {}
        if fields.get("status") == RUNNING:
            marker = {"history": marker.get("history", [])}  # earlier attempts stay, for the record
        marker.update(name=name, **fields)
        write_json(path, marker)


def _children_cpu_seconds() -> float:
    """User + system CPU time of the children waited for so far (the step and what it waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    run_dir = Path(argv[0]).resolve()
    with open(run_dir / "supervisor.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("Another supervisor is running this run.", file=sys.stderr)
            return 0
        write_json(run_dir / "supervisor.json", {"pid": os.getpid(), "started_at": _now()})
        supervisor = Supervisor(run_dir)
        signal.signal(signal.SIGTERM, supervisor.on_sigterm)
        return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
