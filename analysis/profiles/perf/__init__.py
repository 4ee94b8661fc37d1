"""Readers for perf's text outputs (perf 6.x; notes in reference/profile-formats.md §1.2):
``perf script`` (samples with or without call chains, default or pinned ``-F`` fields) and
``perf report --stdio`` (one table per event).

perf samples: each sample carries a period (the events, or nanoseconds for cpu-clock, it stands for).
Every event that appears becomes a cost column holding the sum of periods (what perf report calls
Period), plus a count of samples: ``samples`` for a single event, ``samples:<event>`` for several.

``perf script``, one pass, line by line; memory follows the number of distinct functions, call edges,
source lines and addresses, never the number of samples:
* self cost: the periods of the samples whose leaf frame is the function;
* inclusive cost: the periods of the samples whose chain holds the function, once per sample;
* call edges from adjacent frames (caller above callee), once per sample: ``calls`` counts samples,
  not calls (perf does not count calls);
* ``lines`` from the leaf frame's srcline (``-F …,srcline``) when present; ``instructions`` from the
  leaf frame's address in call chains, which perf prints DSO-relative (joinable with objdump).

``perf report --stdio``: the rows of each event's table. Costs come from the Period column when it is
there, else from overhead % × the header's event count (labelled ``estimated``); inclusive costs from
the Children column when there is one, else they are the self costs. Call-graph tree lines are
skipped; the call table is empty.

Modules: ``script`` and ``report`` (one reader each), ``costs`` (the costs both accumulate, how an
event is described).
"""

from analysis.profiles.perf.costs import describe_perf_event
from analysis.profiles.perf.report import parse_perf_report, parse_perf_report_text, sniff_perf_report
from analysis.profiles.perf.script import parse_perf_script, parse_perf_script_text, sniff_perf_script

__all__ = [
    "describe_perf_event",
    "parse_perf_report",
    "parse_perf_report_text",
    "parse_perf_script",
    "parse_perf_script_text",
    "sniff_perf_report",
    "sniff_perf_script",
]
