"""Deterministic insights over a normalised ``Profile`` (analysis.profiles.model), whatever tool
wrote it: hotspots, vectorization coverage, memory bottlenecks, compiler-flag advice, a one-function
deep dive, a run-to-run diff and a flame tree. Every number is a ``Figure`` naming its events, their
kind (exact, sampled, simulated, measured, estimated) and the rows it came from; what the profile
did not measure is reported as not measured, never filled in. No Django here.
"""

from analysis.insights.detail import FunctionDetail, function_detail
from analysis.insights.diff import ProfileDiff, diff
from analysis.insights.figures import Figure
from analysis.insights.flame import Flame, flame
from analysis.insights.hotspots import Hotspots, hotspots
from analysis.insights.memory import Memory, memory
from analysis.insights.recommendations import Recommendation, Recommendations, recommendations
from analysis.insights.summary import summary
from analysis.insights.targets import TARGETS, target_info
from analysis.insights.vectorization import Vectorization, vectorization

__all__ = [
    "TARGETS",
    "Figure",
    "Flame",
    "FunctionDetail",
    "Hotspots",
    "Memory",
    "ProfileDiff",
    "Recommendation",
    "Recommendations",
    "Vectorization",
    "diff",
    "flame",
    "function_detail",
    "hotspots",
    "memory",
    "recommendations",
    "summary",
    "target_info",
    "vectorization",
]
