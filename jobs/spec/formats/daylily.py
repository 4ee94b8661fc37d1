"""``daylily_work.yaml`` as the Daylily monitor consumes it; its samples come from ``stage_samples.tsv``."""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from jobs.spec import SPEC_VERSION
from jobs.spec.formats.base import DEFAULT_DAY_CLONE, FormatError
from jobs.spec.formats.documents import dump_yaml, in_spec_order, load_yaml
from jobs.spec.formats.sheet import read_stage_samples


@dataclass(frozen=True)
class DaylilyWork:
    command: str
    day_clone: str | None
    export_uri: str | None
    notes: str | None
    cluster_name: str | None
    budget: float | int | None


def normalise_command(command: str) -> str:
    """Commands compare by their words: YAML's folded ``dy-r: >`` adds a newline, people add spaces."""
    return " ".join(command.split())


def to_daylily_work(
    spec: dict,
    *,
    command: str,
    export_uri: str | None = None,
    day_clone: str = DEFAULT_DAY_CLONE,
    workdir: str | None = None,
) -> str:
    """``daylily_work.yaml`` for a spec. ``command`` is the pipeline's ``dy-r`` from the catalogue;
    ``export_uri`` is used when the spec has none; ``workdir`` fills ``{workdir_name}`` in ``day-clone``."""
    document: dict = {
        "day-clone": day_clone.replace("{workdir_name}", workdir) if workdir else day_clone,
        "dy-r": command,
        "export_uri": spec.get("export_uri") or export_uri,
        "notes": spec.get("notes") or "",
    }
    if spec.get("preferred_cluster"):
        document["cluster_name"] = spec["preferred_cluster"]
    if spec.get("budget_usd") is not None:
        document["budget"] = spec["budget_usd"]
    name = "".join(char for char in re.sub(r"\s+", " ", str(spec.get("name") or "")) if char.isprintable())
    header = f"# daylily_work.yaml of the Runyard workset {name}; its samples are in stage_samples.tsv\n"
    return header + dump_yaml(document)


def read_daylily_work(text) -> DaylilyWork:
    document = load_yaml(text)
    data = document.data
    if not isinstance(data, dict):
        raise FormatError("daylily_work.yaml must be a mapping (day-clone: …, dy-r: …).", line=1)
    if "dy-r" not in data:
        raise FormatError("dy-r (the pipeline's target) is missing.", line=1, field="dy-r")
    values = {}
    for key in ("dy-r", "day-clone", "export_uri", "notes", "cluster_name"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise document.error(f"{key} must be text.", key)
        values[key] = value
    budget = data.get("budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))):
        raise document.error("budget must be a number (US dollars).", "budget")
    if not (values["dy-r"] or "").strip():
        raise document.error("dy-r is empty.", "dy-r")
    return DaylilyWork(
        command=normalise_command(values["dy-r"]),
        day_clone=values["day-clone"],
        export_uri=values["export_uri"],
        notes=values["notes"],
        cluster_name=values["cluster_name"],
        budget=budget,
    )


def from_daylily_work(
    text,
    *,
    commands: Mapping[str, str],
    sample_sheet=None,
    bucket: str | None = None,
    **fields,
) -> dict:
    """The spec of a ``daylily_work.yaml`` (and its ``stage_samples.tsv`` when given).

    ``commands`` maps each catalogue pipeline's ``dy-r`` to its code; a command not in it is kept as written
    in ``pipeline``, for the validator to report. ``fields`` supply what the file does not say (name,
    reference_genome, priority, …)."""
    work = read_daylily_work(text)
    known = {normalise_command(command): code for command, code in commands.items()}
    spec: dict = {"spec_version": SPEC_VERSION, **fields, "pipeline": known.get(work.command, work.command)}
    if sample_sheet is not None:
        spec["samples"] = read_stage_samples(sample_sheet, bucket=bucket)
    spec["export_uri"] = work.export_uri
    spec["notes"] = work.notes or ""
    if work.cluster_name:
        spec["preferred_cluster"] = work.cluster_name
    if work.budget is not None:
        spec["budget_usd"] = work.budget
    return in_spec_order(spec)
