"""The analysis app's tables (tenant schema): profiles, and the cost analytics of external GPU jobs."""

from analysis.models.costs import CostIngest, CostRollup, GpuJob, RateSnapshot, Team
from analysis.models.profiles import Profile, ProfileQuerySet, Source, State

__all__ = [
    "CostIngest",
    "CostRollup",
    "GpuJob",
    "Profile",
    "ProfileQuerySet",
    "RateSnapshot",
    "Source",
    "State",
    "Team",
]
