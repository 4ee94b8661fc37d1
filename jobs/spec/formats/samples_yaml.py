"""The sample-oriented YAML: it carries the whole spec, so spec → YAML → spec is the identity."""

from jobs.spec import SPEC_VERSION
from jobs.spec.formats.base import YAML_KEYS, FormatError
from jobs.spec.formats.documents import Document, dump_yaml, in_spec_order, load_yaml


def to_samples_yaml(spec: dict) -> str:
    """The sample-oriented YAML of a spec: every field the spec has, under the YAML's names."""
    document = {YAML_KEYS[key]: spec[key] for key in YAML_KEYS if key in spec}
    extra = {key: value for key, value in spec.items() if key not in YAML_KEYS and key != "spec_version"}
    return dump_yaml({**document, **extra})


def from_samples_yaml(text) -> dict:
    """The spec of a sample-oriented YAML (the canonical spec as YAML is accepted too)."""
    document = load_yaml(text)
    data = document.data
    if not isinstance(data, dict):
        raise FormatError("The document must be a mapping of fields (name: …, samples: …).", line=1)
    if "estimated_coverage" in data and "coverage" in data:
        raise document.error("Give either estimated_coverage or coverage, not both.", "coverage")
    spec = {("coverage" if key == "estimated_coverage" else key): value for key, value in data.items()}
    spec.setdefault("spec_version", SPEC_VERSION)
    _check_samples(document, spec)
    return in_spec_order(spec)


def _check_samples(document: Document, spec: dict) -> None:
    """Only the shape here; the schema checks the values (and reports them with their field paths)."""
    samples = spec.get("samples")
    if samples is None:
        return
    if not isinstance(samples, list):
        raise document.error("samples must be a list of samples (- sample_id: …).", "samples")
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict):
            raise document.error("Each sample must be a mapping (sample_id, fastq_r1, …).", "samples", index)
