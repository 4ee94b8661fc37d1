"""Waiting on a condition in tests that drive real processes (daphne, Celery workers)."""

import time
from pathlib import Path


def wait_for(condition, what: str, log: Path | None = None, timeout: float = 60, every: float = 0.05):
    """``condition()``'s first truthy value; past ``timeout`` seconds an AssertionError naming ``what``,
    with the end of the processes' ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    tail = f":\n{log.read_text()[-4000:]}" if log else ""
    raise AssertionError(f"{what} did not happen within {timeout} s{tail}")
