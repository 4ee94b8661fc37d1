"""Execution backends: one interface (``base.ExecutionBackend``) and its implementations (``local``,
``slurm``)."""

from jobs.backends.base import BackendUnavailable, ExecutionBackend


def backend_for(kind: str) -> ExecutionBackend:
    """The backend a cluster of this kind runs on; one that is not built yet is unavailable, not faked."""
    if kind == "local":
        from jobs.backends.local import LocalBackend

        return LocalBackend()
    if kind == "slurm":
        from jobs.backends.slurm import SlurmBackend

        return SlurmBackend()
    raise BackendUnavailable(f"the {kind} backend is not available in this Runyard yet")
