"""The ``slurm`` backend: each step of a run is one Slurm batch job, the steps chained with ``afterok``
dependencies, so Slurm itself runs them one after another and never starts a step after a failed one.

The run directory has the ``local`` layout, ``RUNYARD_HOME/runs/<schema>/<workset code>/``, and must be on a
filesystem the worker and every compute node share (the same path everywhere): staging writes the inputs into
``work/`` on the worker, the jobs run there on the nodes, publishing reads ``work/results/`` on the worker::

    run.json            the plan, the spec, schema and code (written by submit)
    work/               the jobs' current directory (``--chdir``): inputs in work/inputs/, results in results/
    logs/<step>.log     the step's stdout and stderr (``--output``, appended to by each attempt)
    slurm.json          the Slurm job id of each step, and the ids of earlier attempts (atomic writes)
    slurm.lock          flock held by ``submit`` and ``cancel``, so two workers never submit one run twice
    slurm/<step>.sh     the batch script of the step (``exec`` of the step's argv)
    slurm/job-<id>.json a job's final state, cached: slurmctld forgets finished jobs after ``MinJobAge``

The worker talks to Slurm only through its commands (``sbatch``, ``scontrol``, ``scancel``, ``sinfo``) with
``SLURM_CONF`` from the settings; ``sacct`` is not used, so no slurmdbd is needed. A job is submitted with
``--no-requeue`` (a step that lost its node fails with NODE_FAIL and the run is retried from that step,
instead of Slurm rerunning it behind our back) and ``--kill-on-invalid-dep=yes`` (the steps after a failed
one are cancelled by Slurm rather than left pending for ever). Steps get the environment of the sbatch
call (``--export=ALL``), which is ``local.child_environment()``: paths and locale with the project on
``PYTHONPATH``, never the worker's secrets, as on ``local``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jobs.backends.base import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    BackendUnavailable,
    ExecutionBackend,
    Handle,
    PipelinePlan,
    Run,
    RunStatus,
    Step,
    StepStatus,
)
from jobs.backends.local import child_environment, read_json, run_directory, write_json

COMMAND_TIMEOUT_SECONDS = 30
CHECK_TIMEOUT_SECONDS = 10
CANCEL_WAIT_SECONDS = 15.0  # scancel returns at once; the job's processes are gone after Slurm's KillWait

# scontrol's JobState → our status. A state not listed here is taken as still pending.
STATES = {
    "PENDING": PENDING,
    "REQUEUED": PENDING,
    "REQUEUE_HOLD": PENDING,
    "REQUEUE_FED": PENDING,
    "RESV_DEL_HOLD": PENDING,
    "CONFIGURING": PENDING,
    "RUNNING": RUNNING,
    "COMPLETING": RUNNING,  # the job's processes may still be alive
    "SUSPENDED": RUNNING,
    "STOPPED": RUNNING,
    "SIGNALING": RUNNING,
    "STAGE_OUT": RUNNING,
    "RESIZING": RUNNING,
    "COMPLETED": SUCCEEDED,
    "FAILED": FAILED,
    "TIMEOUT": FAILED,
    "NODE_FAIL": FAILED,
    "OUT_OF_MEMORY": FAILED,
    "BOOT_FAIL": FAILED,
    "DEADLINE": FAILED,
    "PREEMPTED": FAILED,
    "SPECIAL_EXIT": FAILED,
    "CANCELLED": CANCELLED,
    "REVOKED": CANCELLED,
}
FINAL_STATES = frozenset(
    state for state, status in STATES.items() if status in (SUCCEEDED, FAILED, CANCELLED)
)
# States the step's own log may not explain: log_excerpt adds a line naming them, for the diagnostics.
EXPLAINED_STATES = {
    "TIMEOUT": "cancelled due to time limit",
    "NODE_FAIL": "node failure",
    "OUT_OF_MEMORY": "out of memory",
    "BOOT_FAIL": "node failure (the node did not boot)",
    "PREEMPTED": "cancelled due to preemption",
    "DEADLINE": "cancelled: the job's deadline passed",
}
NEVER_SATISFIED = "DependencyNeverSatisfied"
_FIELD = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9/:_.]*)=")


@dataclass(frozen=True)
class Job:
    """What ``scontrol show job`` says about one job (or the cached copy of its final state)."""

    job_id: str
    name: str
    state: str
    reason: str = ""
    exit_code: str = "0:0"
    start_time: str = ""
    end_time: str = ""
    run_time: str = ""
    cpus: int = 1
    batch_host: str = ""

    @classmethod
    def from_scontrol(cls, line: str) -> Job:
        fields = parse_fields(line)
        return cls(
            job_id=fields.get("JobId", ""),
            name=fields.get("JobName", ""),
            state=fields.get("JobState", ""),
            reason=fields.get("Reason", ""),
            exit_code=fields.get("ExitCode", "0:0"),
            start_time=fields.get("StartTime", ""),
            end_time=fields.get("EndTime", ""),
            run_time=fields.get("RunTime", ""),
            cpus=int(fields.get("NumCPUs", "1") or 1),
            batch_host=fields.get("BatchHost", ""),
        )

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def started(self) -> bool:
        """A job that got a node ran its script; one cancelled while pending never did."""
        return bool(self.batch_host)

    @property
    def status(self) -> str:
        return STATES.get(self.state, PENDING)

    def exit_status(self) -> int | None:
        """The exit code, or minus the signal that killed the script (as ``subprocess`` reports it)."""
        if not self.started or not self.final:
            return None
        code, _, signal = self.exit_code.partition(":")
        if signal.isdigit() and int(signal):
            return -int(signal)
        return int(code) if code.isdigit() else None

    def elapsed_seconds(self) -> int | None:
        """Slurm's run time, in whole seconds (its start and end times are truncated to the second). A job
        that ran and finished counts at least 1 s: it held its CPUs, and 0 would make its work free."""
        if not self.started:
            return None
        seconds = parse_duration(self.run_time)
        return max(seconds, 1) if seconds is not None and self.final else seconds

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def parse_fields(line: str) -> dict[str, str]:
    """``Key=value Key=value …`` (``scontrol -o``) into a dict; a value may contain spaces."""
    matches = list(_FIELD.finditer(line.strip()))
    fields = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(line.strip())
        fields.setdefault(match.group(1), line.strip()[match.end() : end].strip())
    return fields


def parse_duration(text: str) -> int | None:
    """Slurm's ``[days-]HH:MM:SS`` in seconds."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d\d):(\d\d)", text or "")
    if not match:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def slurm_time(text: str) -> str | None:
    """Slurm prints the controller's local time without a zone; we store ISO 8601 in UTC."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()
    except ValueError:
        return None  # "Unknown", "None", "N/A"


def job_name(schema: str, workset_code: str, step: str) -> str:
    return f"runyard-{schema}-{workset_code}-{step}"


class SlurmBackend(ExecutionBackend):
    name = "slurm"

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        slurm_conf: str | None = None,
        partition: str | None = None,
    ):
        if home is None or slurm_conf is None or partition is None:
            from django.conf import settings

            home = settings.RUNYARD_HOME if home is None else home
            slurm_conf = settings.SLURM_CONF if slurm_conf is None else slurm_conf
            partition = settings.SLURM_PARTITION if partition is None else partition
        self.home = Path(home)
        self.slurm_conf = slurm_conf
        self.partition = partition

    # --- talking to Slurm ---

    def environment(self) -> dict[str, str]:
        env = child_environment()
        if self.slurm_conf:
            env["SLURM_CONF"] = self.slurm_conf
        return env

    def command(self, *argv: str, timeout: float = COMMAND_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(  # noqa: S603 - Slurm's own commands, arguments we built
                argv, env=self.environment(), capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError as error:
            raise BackendUnavailable(f"{argv[0]} is not installed on this worker (Slurm client)") from error
        except subprocess.TimeoutExpired as error:
            raise BackendUnavailable(f"{argv[0]} did not answer within {timeout:g} s") from error

    def check(self) -> None:
        """The controller answers, a node of the partition can take work, and the runs directory takes
        files: what a submit needs."""
        ping = self.command("scontrol", "ping", timeout=CHECK_TIMEOUT_SECONDS)
        if ping.returncode != 0 or " is UP" not in ping.stdout:
            answer = (ping.stdout + ping.stderr).strip().splitlines()
            raise BackendUnavailable(f"the Slurm controller does not answer: {answer[0] if answer else ''}")
        partition = ("--partition", self.partition) if self.partition else ()
        nodes = self.command(
            "sinfo", "--noheader", "--Node", "--format=%N %T", *partition, timeout=CHECK_TIMEOUT_SECONDS
        )
        if nodes.returncode != 0:
            raise BackendUnavailable(f"sinfo failed: {nodes.stderr.strip()}")
        usable = [line for line in nodes.stdout.splitlines() if _node_usable(line)]
        if not usable:
            where = f"partition {self.partition}" if self.partition else "the cluster"
            raise BackendUnavailable(f"no node of {where} can take work: {nodes.stdout.strip() or 'none'}")
        runs = self.home / "runs"
        try:
            runs.mkdir(parents=True, exist_ok=True)
            probe = runs / f".probe-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise BackendUnavailable(f"the runs directory {runs} takes no files: {error}") from error

    def show_job(self, job_id: str) -> Job | None:
        """The job as slurmctld knows it; None once it has forgotten it (or never knew it)."""
        result = self.command("scontrol", "show", "job", "--oneliner", job_id)
        if result.returncode != 0:
            if "Invalid job id" in result.stderr:
                return None
            raise BackendUnavailable(f"scontrol show job {job_id} failed: {result.stderr.strip()}")
        line = next((line for line in result.stdout.splitlines() if line.startswith("JobId=")), "")
        return Job.from_scontrol(line) if line else None

    # --- the run directory ---

    def run_dir(self, schema: str, workset_code: str) -> Path:
        return run_directory(self.home, schema, workset_code)

    def prepare(self, run: Run) -> Path:
        """Create the run directory (staging writes the inputs into ``work/`` before ``submit``)."""
        run_dir = self.run_dir(run.schema, run.workset_code)
        for sub in ("work", "logs", "slurm"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        return run_dir

    def job(self, run_dir: Path, job_id: str, expected_name: str) -> Job | None:
        """The job from the cache of final states, else from slurmctld (caching it once final). A job id
        that now names someone else's job (the controller's state was reset) counts as forgotten."""
        cached = read_json(run_dir / "slurm" / f"job-{job_id}.json")
        if cached:
            return Job(**cached)
        job = self.show_job(job_id)
        if job is None or job.name != expected_name:
            return None
        if job.final:
            write_json(run_dir / "slurm" / f"job-{job_id}.json", job.to_dict())
        return job

    def jobs(self, run_dir: Path, plan: PipelinePlan, record: dict) -> dict[str, Job | None]:
        """The current job of every step that has one (None: Slurm forgot it and we had no copy)."""
        run = read_json(run_dir / "run.json") or {}
        return {
            step: self.job(run_dir, job_id, job_name(run["schema"], run["workset_code"], step))
            for step, job_id in record["jobs"].items()
            if step in plan.step_names()
        }

    # --- the interface ---

    def submit(self, run: Run) -> Handle:
        run_dir = self.prepare(run)
        with _locked(run_dir / "slurm.lock"):
            write_json(
                run_dir / "run.json",
                {"schema": run.schema, "workset_code": run.workset_code, "plan": run.plan.to_dict()},
            )
            write_json(run_dir / "work" / "spec.json", run.spec)
            record = _record(run_dir)
            statuses = self.statuses(run_dir, run.plan, record)
            blocked = [s.name for s in statuses if s.status == PENDING and _never_ran(s)]
            self._cancel_jobs(run_dir, record, blocked)  # they can never run; their steps are submitted anew
            # The job the next submitted step waits for: one queued, running or just submitted.
            previous = None
            for step, status in zip(run.plan.steps, statuses, strict=True):
                if status.status == SUCCEEDED:
                    continue
                if status.status in (PENDING, RUNNING) and step.name in record["jobs"] and _live(status):
                    previous = record["jobs"][step.name]  # already queued or running: never a second job
                    continue
                if step.name in record["jobs"]:
                    record["history"].append({"step": step.name, "job_id": record["jobs"][step.name]})
                previous = record["jobs"][step.name] = self._sbatch(run, run_dir, step, after=previous)
                write_json(run_dir / "slurm.json", record)  # after every job: none is ever lost track of
            return self._handle(run_dir, record)

    def _sbatch(self, run: Run, run_dir: Path, step: Step, *, after: str | None) -> str:
        script = run_dir / "slurm" / f"{step.name}.sh"
        script.write_text(
            "#!/bin/sh\n"
            f"# Step {step.name} of workset {run.workset_code} (schema {run.schema}), by Runyard.\n"
            f'echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) {step.name}: Slurm job $SLURM_JOB_ID on $(hostname)"\n'
            f"exec {shlex.join(step.argv)}\n"
        )
        argv = [
            "sbatch",
            "--parsable",
            f"--job-name={job_name(run.schema, run.workset_code, step.name)}",
            f"--chdir={run_dir / 'work'}",
            f"--output={run_dir / 'logs' / f'{step.name}.log'}",
            "--open-mode=append",
            "--export=ALL",
            "--no-requeue",
            "--kill-on-invalid-dep=yes",
        ]
        if after:
            argv.append(f"--dependency=afterok:{after}")
        if self.partition:
            argv.append(f"--partition={self.partition}")
        result = self.command(*argv, str(script))
        if result.returncode != 0:
            raise BackendUnavailable(f"sbatch refused step {step.name}: {result.stderr.strip()}")
        return result.stdout.strip().split(";")[0]

    def poll(self, handle: Handle) -> RunStatus:
        run_dir = Path(handle["run_dir"])
        return RunStatus(steps=self.statuses(run_dir, _plan(run_dir), _record(run_dir)))

    def statuses(self, run_dir: Path, plan: PipelinePlan, record: dict) -> list[StepStatus]:
        jobs = self.jobs(run_dir, plan, record)
        statuses: list[StepStatus] = []
        for name in plan.step_names():
            blocked = any(s.status in (FAILED, CANCELLED) or _never_ran(s) for s in statuses)
            if name not in jobs:
                statuses.append(StepStatus(name=name))
            elif jobs[name] is None:
                job_id = record["jobs"][name]
                statuses.append(StepStatus(name=name, status=FAILED, message=_forgotten(job_id)))
            else:
                statuses.append(_step_status(name, jobs[name], blocked=blocked))
        return statuses

    def cancel(self, handle: Handle) -> None:
        run_dir = Path(handle["run_dir"])
        if not (run_dir / "run.json").exists():
            return
        with _locked(run_dir / "slurm.lock"):
            record = _record(run_dir)
            plan = _plan(run_dir)
            live = [s.name for s in self.statuses(run_dir, plan, record) if s.status in (PENDING, RUNNING)]
            self._cancel_jobs(run_dir, record, live)

    def _cancel_jobs(self, run_dir: Path, record: dict, steps: list[str]) -> None:
        """scancel the steps' jobs, and wait until Slurm says they are over (their processes are gone)."""
        plan = _plan(run_dir)
        jobs = self.jobs(run_dir, plan, record)
        ids = [job.job_id for step in steps if (job := jobs.get(step)) and not job.final]
        if not ids:
            return
        result = self.command("scancel", *ids)
        if result.returncode != 0 and "Unable to contact" in result.stderr:
            raise BackendUnavailable(f"scancel {' '.join(ids)} failed: {result.stderr.strip()}")
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            jobs = self.jobs(run_dir, plan, record)
            if all(jobs.get(step) is None or jobs[step].final for step in steps):
                return
            time.sleep(0.1)

    def log_excerpt(self, handle: Handle, step: str, max_bytes: int = 16_384) -> str:
        """The log's tail; when Slurm ended the job for a reason the log may not say (time limit, node
        failure, memory), a last line names the Slurm state so the diagnostics can classify it."""
        run_dir = Path(handle["run_dir"])
        if step not in _plan(run_dir).step_names():
            raise KeyError(f"No step {step!r} in this run.")
        job = self.jobs(run_dir, _plan(run_dir), _record(run_dir)).get(step)
        log = run_dir / "logs" / f"{step}.log"
        if job is None or job.state not in EXPLAINED_STATES:
            return _tail(log, max_bytes)
        note = f"Slurm: job {job.job_id} ended {job.state} ({EXPLAINED_STATES[job.state]})\n"
        tail = _tail(log, max(0, max_bytes - len(note) - 1))
        text = (tail if not tail or tail.endswith("\n") else tail + "\n") + note
        return text.encode()[-max_bytes:].decode("utf-8", errors="ignore")

    @staticmethod
    def _handle(run_dir: Path, record: dict) -> Handle:
        return {"backend": "slurm", "run_dir": str(run_dir), "jobs": dict(record["jobs"])}


def _step_status(name: str, job: Job, *, blocked: bool) -> StepStatus:
    if not job.started and (blocked or job.reason == NEVER_SATISFIED):
        # afterok: it cannot run after a step that did not succeed; Slurm cancels it (kill-on-invalid-dep)
        message = f"Never ran (Slurm job {job.job_id}): an earlier step did not succeed."
        return StepStatus(name=name, message=message)
    status = job.status
    elapsed = job.elapsed_seconds()
    return StepStatus(
        name=name,
        status=status,
        exit_code=job.exit_status(),
        started_at=slurm_time(job.start_time) if job.started else None,
        finished_at=slurm_time(job.end_time) if job.final and job.started else None,
        message=_message(job),
        vcpu_seconds=float(elapsed * job.cpus) if elapsed is not None else None,
    )


def _message(job: Job) -> str:
    if job.state == "FAILED":
        return f"Slurm: FAILED (job {job.job_id}, exit code {job.exit_code.partition(':')[0]})"
    if job.status == PENDING and job.reason not in ("", "None"):
        return f"Slurm: {job.state} ({job.reason})"
    return f"Slurm: {job.state}" if job.state != "COMPLETED" else ""


def _never_ran(status: StepStatus) -> bool:
    return status.message.startswith("Never ran")


def _live(status: StepStatus) -> bool:
    """A pending or running job that can still run (not one blocked behind a failed step)."""
    return not _never_ran(status)


def _forgotten(job_id: str) -> str:
    return f"Slurm no longer knows job {job_id} and its final state was not recorded."


def _node_usable(line: str) -> bool:
    """sinfo's ``%T``: idle, mixed, allocated or completing take (or will take) work; down, drained,
    drain* or not responding (``*``) do not."""
    state = line.split()[-1] if line.split() else ""
    return state in ("idle", "mixed", "allocated", "completing", "planned")


def _record(run_dir: Path) -> dict:
    record = read_json(run_dir / "slurm.json") or {}
    return {"jobs": record.get("jobs", {}), "history": record.get("history", [])}


def _plan(run_dir: Path) -> PipelinePlan:
    data = read_json(run_dir / "run.json")
    if data is None:
        raise FileNotFoundError(f"No run at {run_dir}.")
    return PipelinePlan.from_dict(data["plan"])


def _tail(path: Path, max_bytes: int) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - max_bytes))
            return log.read(max_bytes).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
