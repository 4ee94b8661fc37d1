"""Which cluster a workset goes to, and why: a score over the clusters that can take it now. No Django.

Score of a cluster that runs the workset's pipeline and has room (enabled, not unhealthy, fewer worksets
than its capacity):

    1000  if it is the workset's preferred cluster
   + 100  if it is in the region of the tenant's bucket (data locality: no cross-region transfer)
   +  50 × cheapest $/vCPU-hour among the candidates / its $/vCPU-hour (the cheapest gets 50)
   +  25 × (1 − worksets it runs / capacity) (the emptier gets up to 25)
   −  30  if its last health check said degraded

The highest score wins; ties go to the name, so the choice is reproducible. The reason names every
criterion that decided it, and says when a preference or the bucket's region could not be honoured
(failover), so the workset page can tell the user where it runs and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PREFERRED, LOCAL, COST, ROOM, DEGRADED = 1000, 100, 50, 25, -30


@dataclass(frozen=True)
class Candidate:
    name: str
    region: str
    usd_per_vcpu_hour: Decimal
    capacity: int
    used: int
    enabled: bool = True
    health: str = "unknown"
    pipelines: tuple[str, ...] = ()  # empty: every pipeline

    def runs(self, pipeline: str) -> bool:
        return not self.pipelines or pipeline in self.pipelines

    @property
    def has_room(self) -> bool:
        return self.used < self.capacity

    @property
    def usable(self) -> bool:
        return self.enabled and self.health != "unhealthy" and self.has_room


@dataclass(frozen=True)
class Choice:
    cluster: Candidate
    score: float
    reason: str


def rank(
    candidates: list[Candidate], *, pipeline: str, preferred: str = "", region: str = ""
) -> list[Choice]:
    """The usable clusters that run ``pipeline``, best first, each with its reason."""
    candidates = [c for c in candidates if c.runs(pipeline)]
    usable = [c for c in candidates if c.usable]
    if not usable:
        return []
    cheapest = min(c.usd_per_vcpu_hour for c in usable)
    notes = _failover_notes(candidates, usable, preferred=preferred, region=region)
    choices = [_score(c, cheapest, preferred=preferred, region=region, notes=notes) for c in usable]
    return sorted(choices, key=lambda choice: (-choice.score, choice.cluster.name))


def why_none(candidates: list[Candidate], pipeline: str) -> str:
    """Why no cluster can take a workset of ``pipeline`` now (the wait reason on the queue entry)."""
    candidates = [c for c in candidates if c.runs(pipeline)]
    if not any(c.enabled for c in candidates):
        return f"Waiting: no enabled cluster runs the pipeline {pipeline}."
    if not any(c.enabled and c.health != "unhealthy" for c in candidates):
        return "Waiting: every enabled cluster is unhealthy."
    return "Waiting: every healthy cluster is running at capacity."


def _score(c: Candidate, cheapest: Decimal, *, preferred: str, region: str, notes: list[str]) -> Choice:
    score, parts = 0.0, []
    if preferred and c.name == preferred:
        score += PREFERRED
        parts.append("the preferred cluster")
    if region and c.region == region:
        score += LOCAL
        parts.append(f"same region as the bucket ({region})")
    price_share = float(cheapest / c.usd_per_vcpu_hour) if c.usd_per_vcpu_hour else 1.0
    score += COST * price_share
    cheapest_note = " (cheapest)" if price_share == 1 else ""
    parts.append(f"${c.usd_per_vcpu_hour.normalize():f}/vCPU-hour{cheapest_note}")
    score += ROOM * (1 - c.used / c.capacity)
    parts.append(f"{c.used} of {c.capacity} places in use")
    if c.health == "degraded":
        score += DEGRADED
        parts.append("degraded")
    reason = f"Placed on {c.name} ({c.region}): " + "; ".join(parts) + "."
    return Choice(cluster=c, score=round(score, 3), reason=" ".join([reason, *notes])[:500])


def _failover_notes(all_: list[Candidate], usable: list[Candidate], *, preferred: str, region: str):
    notes = []
    if preferred and preferred not in {c.name for c in usable}:
        wanted = next((c for c in all_ if c.name == preferred), None)
        notes.append(f"The preferred cluster {preferred} {_unusable(wanted)}.")
    if region and not any(c.region == region for c in usable):
        notes.append(f"No cluster in the bucket's region {region} can take it: failed over to another one.")
    return notes


def _unusable(c: Candidate | None) -> str:
    if c is None:
        return "does not exist"
    if not c.enabled:
        return "is disabled"
    if c.health == "unhealthy":
        return "is unhealthy"
    return "is full"
