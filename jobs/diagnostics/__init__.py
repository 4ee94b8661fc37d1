"""Diagnostics: recognising why a step failed from its log, and what to do about it.

``catalogue`` holds the codes (pure data); ``report`` matches a log against them and renders the answer.
No Django imports here: the workers, the dispatcher and the admin all use it.
"""

from jobs.diagnostics.catalogue import (
    BY_CODE,
    CATALOGUE,
    FAILURE_CLASSES,
    RETRYABLE_CLASSES,
    SEVERITIES,
    UNKNOWN,
    Entry,
)
from jobs.diagnostics.report import (
    Diagnosis,
    Match,
    MatchedLine,
    diagnose,
    diagnose_all,
    render_html,
    render_text,
)

__all__ = [
    "BY_CODE",
    "CATALOGUE",
    "FAILURE_CLASSES",
    "RETRYABLE_CLASSES",
    "SEVERITIES",
    "UNKNOWN",
    "Diagnosis",
    "Entry",
    "Match",
    "MatchedLine",
    "diagnose",
    "diagnose_all",
    "render_html",
    "render_text",
]
