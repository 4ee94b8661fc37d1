"""When an automatic retry runs: exponential backoff with jitter. No Django.

The n-th retry (n = 1, 2, …) waits

    ceiling = min(cap, base × 2^(n−1))
    delay   = ceiling / 2 + uniform(0, ceiling / 2)        ("equal jitter")

so retries of many worksets that failed together spread out, each wait is at least half the exponential
step, and none exceeds ``cap``. Defaults (settings ``RUNYARD_RETRY_BASE_SECONDS`` and
``RUNYARD_RETRY_CAP_SECONDS``): base 30 s, cap 900 s, so the ceilings are 30, 60, 120, 240, 480, 900 …
seconds.
"""

from __future__ import annotations

import random


def backoff_ceiling(retry: int, *, base: float, cap: float) -> float:
    if retry < 1:
        raise ValueError("Retries are numbered from 1.")
    return min(cap, base * 2 ** (retry - 1))


def backoff_seconds(retry: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    ceiling = backoff_ceiling(retry, base=base, cap=cap)
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
