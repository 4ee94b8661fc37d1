"""The one interface every execution backend implements. No Django here: a backend gets a ``Run`` (which
workset, in which tenant schema, its spec and its ``PipelinePlan``) and answers with plain data.

Contract
--------
- ``submit(run) -> handle``: start the run (or pick it up again) and return a *handle*, a JSON-serialisable
  ``dict`` with at least ``{"backend": <name>}``; it can be stored on the workset and given back to ``poll``,
  ``cancel`` and ``log_excerpt`` by any process, later. Submitting the same run again is safe: a step whose
  status is ``succeeded`` is never rerun (this is how a retry resumes from the failed step), and no step ever
  runs twice at the same time.
- ``poll(handle) -> RunStatus``: read-only and idempotent; call it as often as you like.
- ``cancel(handle)``: idempotent; stops the running step (its whole process tree) and the steps after it.
  Cancelling a finished run does nothing.
- ``log_excerpt(handle, step, max_bytes)``: the last ``max_bytes`` of the step's combined stdout/stderr
  (what the diagnostics catalogue classifies); "" when the step has not written anything yet.
- ``check()``: prove the backend can start work now (the cluster health check times it); raises
  ``BackendUnavailable`` with the reason when it cannot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = "pending", "running", "succeeded", "failed", "cancelled"
STEP_STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})

Handle = dict[str, Any]


class BackendUnavailable(Exception):
    """The backend cannot run work now; the message says why (for the cluster's health)."""


@dataclass(frozen=True)
class Step:
    """One step: ``argv`` is run with the run's work directory as the current directory; ``reads`` and
    ``writes`` are paths relative to it (documentation for people and for resuming, not enforced)."""

    name: str
    argv: tuple[str, ...]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "argv": list(self.argv),
            "reads": list(self.reads),
            "writes": list(self.writes),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Step:
        return cls(
            name=data["name"],
            argv=tuple(data["argv"]),
            reads=tuple(data.get("reads", ())),
            writes=tuple(data.get("writes", ())),
        )


@dataclass(frozen=True)
class PipelinePlan:
    """The ordered steps of one pipeline for one workset; steps run one after another, and a failed step
    stops the run."""

    pipeline: str
    steps: tuple[Step, ...]

    def __post_init__(self):
        names = [step.name for step in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError("A plan needs at least one step, and step names must be unique.")

    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    def to_dict(self) -> dict:
        return {"pipeline": self.pipeline, "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def from_dict(cls, data: dict) -> PipelinePlan:
        return cls(pipeline=data["pipeline"], steps=tuple(Step.from_dict(step) for step in data["steps"]))


@dataclass(frozen=True)
class Run:
    """What to run: the workset (by code, in its tenant's schema), its canonical spec and its plan."""

    schema: str
    workset_code: str
    spec: dict
    plan: PipelinePlan


@dataclass(frozen=True)
class StepStatus:
    name: str
    status: str = PENDING
    exit_code: int | None = None
    started_at: str | None = None  # ISO 8601, UTC
    finished_at: str | None = None
    message: str = ""
    # vCPU-seconds the step used, measured: CPU time on ``local``, elapsed × allocated CPUs on Slurm.
    vcpu_seconds: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunStatus:
    steps: list[StepStatus] = field(default_factory=list)

    @property
    def state(self) -> str:
        """The run as a whole: failed/cancelled when a step is, succeeded when all are, running when one is
        or when some are done and others wait, else pending."""
        statuses = [step.status for step in self.steps]
        for final in (CANCELLED, FAILED):
            if final in statuses:
                return final
        if statuses and all(status == SUCCEEDED for status in statuses):
            return SUCCEEDED
        if RUNNING in statuses or SUCCEEDED in statuses:
            return RUNNING
        return PENDING

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def current_step(self) -> StepStatus | None:
        """The running or failed step, or the first pending one."""
        for step in self.steps:
            if step.status in (RUNNING, FAILED, CANCELLED):
                return step
        return next((step for step in self.steps if step.status == PENDING), None)

    def step(self, name: str) -> StepStatus:
        return next(step for step in self.steps if step.name == name)

    def to_dict(self) -> dict:
        return {"state": self.state, "steps": [step.to_dict() for step in self.steps]}


class ExecutionBackend(ABC):
    name: str

    @abstractmethod
    def submit(self, run: Run) -> Handle:
        """Start (or resume) the run; never reruns a succeeded step, never runs a step twice at once."""

    @abstractmethod
    def poll(self, handle: Handle) -> RunStatus:
        """The status of every step of the plan, in order. Idempotent, no side effects."""

    @abstractmethod
    def cancel(self, handle: Handle) -> None:
        """Stop the running step and everything after it. Idempotent."""

    @abstractmethod
    def log_excerpt(self, handle: Handle, step: str, max_bytes: int = 16_384) -> str:
        """The tail of the step's output (stdout and stderr together), at most ``max_bytes`` bytes."""

    @abstractmethod
    def check(self) -> None:
        """Start something trivial the way a run would; raise ``BackendUnavailable`` if that fails."""
