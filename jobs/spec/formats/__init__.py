"""Import and export of the three compatibility formats, to and from the canonical spec. Pure: no Django.

- the sample-oriented YAML (``samples[]``, ``reference_genome``, ``pipeline``, ``priority``, ``max_retries``,
  ``preferred_cluster``, ``estimated_coverage``; ``name``, ``notifications``, ``export_uri``, ``notes`` and
  ``budget_usd`` when present). It carries the whole spec, so spec → YAML → spec is the identity.
- ``daylily_work.yaml`` as the Daylily monitor consumes it (``day-clone``, ``dy-r``, ``export_uri``,
  ``notes``, optional ``cluster_name`` and ``budget``). It names no samples, reference or priority: those
  come from the sample sheet and the importer's arguments.
- the 20-column ``stage_samples.tsv`` sample sheet.

Importers never rewrite a value they do not understand (an unknown priority stays as written, so the validator
reports it). What cannot be read at all raises ``FormatError`` with the line and the field.
"""

import re
from collections.abc import Mapping

from jobs.spec.formats.base import (
    DAYLILY_WORK,
    FORMATS,
    SAMPLE_SHEET_COLUMNS,
    SAMPLES_YAML,
    STAGE_SAMPLES,
    FormatError,
)
from jobs.spec.formats.daylily import DaylilyWork, from_daylily_work, read_daylily_work, to_daylily_work
from jobs.spec.formats.documents import decode_text
from jobs.spec.formats.samples_yaml import from_samples_yaml, to_samples_yaml
from jobs.spec.formats.sheet import from_stage_samples, read_stage_samples, to_stage_samples

__all__ = [
    "DAYLILY_WORK",
    "FORMATS",
    "SAMPLES_YAML",
    "SAMPLE_SHEET_COLUMNS",
    "STAGE_SAMPLES",
    "DaylilyWork",
    "FormatError",
    "detect_format",
    "from_daylily_work",
    "from_samples_yaml",
    "from_stage_samples",
    "parse",
    "read_daylily_work",
    "read_stage_samples",
    "to_daylily_work",
    "to_samples_yaml",
    "to_stage_samples",
]


def detect_format(text) -> str:
    """Which format a text is in: a tab-separated header with SAMPLE_ID is a sample sheet; a mapping with
    ``dy-r`` or ``day-clone`` is daylily_work.yaml; anything else is read as the sample-oriented YAML."""
    if isinstance(text, bytes):
        text = decode_text(text)
    if not isinstance(text, str):
        raise FormatError("Give the document as text.")
    first = next((line for line in text.removeprefix("\ufeff").splitlines() if line.strip()), "")
    if "\t" in first and "SAMPLE_ID" in first.split("\t"):
        return STAGE_SAMPLES
    if re.search(r"^(dy-r|day-clone)\s*:", text, flags=re.MULTILINE):
        return DAYLILY_WORK
    return SAMPLES_YAML


def parse(
    text,
    *,
    format: str | None = None,
    commands: Mapping[str, str] | None = None,
    sample_sheet=None,
    bucket: str | None = None,
    **fields,
) -> tuple[str, dict]:
    """(format, spec) of a document in any of the three formats. ``fields`` fill in what the daylily
    formats do not carry; the sample-oriented YAML carries everything and ignores them."""
    kind = format or detect_format(text)
    if kind == STAGE_SAMPLES:
        return kind, from_stage_samples(text, bucket=bucket, **fields)
    if kind == DAYLILY_WORK:
        spec = from_daylily_work(
            text, commands=commands or {}, sample_sheet=sample_sheet, bucket=bucket, **fields
        )
        return kind, spec
    if kind == SAMPLES_YAML:
        return kind, from_samples_yaml(text)
    raise FormatError(f"Unknown format {kind!r}; one of {', '.join(FORMATS)}.", field="format")
