"""The canonical workset spec: one versioned JSON Schema (``workset.v1.schema.json``) and what reads it.

Pure: no Django. Import formats (``jobs.spec.formats``) convert to and from this shape; the validation
service adds the checks that need the catalogue, the bucket and the tenant's quotas.
"""

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

SPEC_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("workset.v1.schema.json")
PRIORITIES = ("urgent", "normal", "low")


@dataclass(frozen=True)
class SchemaProblem:
    path: str  # e.g. "samples[2].fastq_r1", "" for the document itself
    message: str


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema(), format_checker=FormatChecker())


def field_path(parts) -> str:
    """("samples", 2, "fastq_r1") -> "samples[2].fastq_r1"."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_problems(document) -> list[SchemaProblem]:
    """Every schema violation, in document order, with the field path it concerns."""
    if not isinstance(document, dict):
        return [SchemaProblem("", "A workset spec must be a mapping of fields.")]
    errors = sorted(
        _validator().iter_errors(document), key=lambda error: [str(p) for p in error.absolute_path]
    )
    return [SchemaProblem(field_path(error.absolute_path), _message(error)) for error in errors]


def _message(error) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "Unknown field")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}."
    if error.validator == "pattern":
        rule = error.schema.get("description") or "wrong characters or length"
        return f"{error.instance!r} is not allowed: {rule}"
    if error.validator == "const" and error.absolute_path and error.absolute_path[-1] == "spec_version":
        return f"Unsupported spec_version {error.instance!r}; this Runyard reads version {SPEC_VERSION}."
    return error.message


def with_defaults(document: dict) -> dict:
    """A copy with the schema's defaults filled in, so a stored spec always has every top-level field."""
    spec = copy.deepcopy(document)
    spec.setdefault("spec_version", SPEC_VERSION)
    for name, definition in schema()["properties"].items():
        if name not in spec and "default" in definition:
            spec[name] = copy.deepcopy(definition["default"])
    for sample in spec.get("samples") or []:
        if isinstance(sample, dict):
            sample.setdefault("fastq_r2", None)
            sample.setdefault("coverage", None)
    return spec
