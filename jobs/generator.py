"""The YAML generator: a spec from the form, every format of it, parsing them back, and FASTQ pairs found
under a prefix of the tenant's bucket. Nothing here writes; the page and ``/api/v1/worksets/generate-yaml``,
``…/parse`` and ``…/discover`` share these functions.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from jobs.catalog.models import Pipeline, ReferenceGenome
from jobs.spec import PRIORITIES, formats, schema_problems, with_defaults
from jobs.spec.locations import OutsideBucket, bucket_key
from jobs.spec.pairing import Pairing, is_fastq, pair_fastqs
from tenants.models import Bucket, Tenant
from tenants.services.files import storage_of

MAX_DISCOVERED_FILES = 5_000
MAX_DISCOVER_DEPTH = 4
LISTING_PAGE = 1_000


class DiscoverError(ValueError):
    """The prefix cannot be searched (outside the bucket, malformed); the message says why."""


def catalogue() -> dict:
    """What the form offers: the enabled pipelines and references, and the priorities."""
    return {
        "pipelines": [
            {
                "code": p.code,
                "name": p.name,
                "command": p.command,
                "default_coverage": float(p.default_coverage),
            }
            for p in Pipeline.objects.enabled()
        ],
        "references": [
            {"code": r.code, "name": r.name, "aliases": r.aliases} for r in ReferenceGenome.objects.enabled()
        ],
        "priorities": list(PRIORITIES),
    }


def pipeline_commands() -> dict[str, str]:
    """{dy-r command: pipeline code}, to read a daylily_work.yaml back."""
    return {p.command: p.code for p in Pipeline.objects.all()}


def bucket_name(tenant: Tenant) -> str | None:
    bucket = Bucket.objects.filter(tenant=tenant).first()
    return bucket.name if bucket else None


def spec_of(fields: dict) -> dict:
    """The canonical spec (defaults filled in) of the form's fields or of ``{"spec": {…}}``."""
    document = dict(fields["spec"] if isinstance(fields.get("spec"), dict) else fields)
    samples = document.pop("samples", None)
    spec = with_defaults({**document, "samples": samples} if isinstance(samples, list) else document)
    if samples is not None and not isinstance(samples, list):
        spec["samples"] = samples  # as sent, for the schema to report
    return spec


def problems_of(spec: dict) -> list[dict]:
    """What the preview shows under the YAML: schema problems and names missing from the catalogue. The
    full validation (bucket, quotas) is ``POST /api/v1/worksets/validate``."""
    found = [{"field": p.path, "message": p.message} for p in schema_problems(spec)]
    pipeline = spec.get("pipeline")
    if isinstance(pipeline, str) and pipeline and not _pipeline_known(pipeline):
        found.append({"field": "pipeline", "message": f"{pipeline!r} is not a pipeline of the catalogue."})
    reference = spec.get("reference_genome")
    if isinstance(reference, str) and reference and not _reference_known(reference):
        found.append(
            {"field": "reference_genome", "message": f"{reference!r} is not a reference of the catalogue."}
        )
    return found


def default_export_uri(spec: dict, bucket: str | None) -> str:
    folder = f"results/{slugify(str(spec.get('name') or '')) or 'workset'}/"
    return f"s3://{bucket}/{folder}" if bucket else folder


def generate(tenant: Tenant, fields: dict) -> dict:
    """Every format of the spec the fields describe. daylily_work.yaml needs the pipeline's command, so it
    is null while the pipeline is not one of the catalogue."""
    spec = spec_of(fields)
    bucket = bucket_name(tenant)
    pipeline = (
        Pipeline.objects.filter(code=spec.get("pipeline")).first() if _text(spec.get("pipeline")) else None
    )
    work = None
    if pipeline is not None:
        slug = slugify(str(spec.get("name") or "")) or "workset"
        work = formats.to_daylily_work(
            spec, command=pipeline.command, export_uri=default_export_uri(spec, bucket), workdir=slug
        )
    return {
        "yaml": formats.to_samples_yaml(spec),
        "daylily_work_yaml": work,
        "stage_samples_tsv": formats.to_stage_samples(spec, bucket=bucket),
        "spec": spec,
        "problems": problems_of(spec),
    }


@dataclass(frozen=True)
class Parsed:
    format: str
    spec: dict
    problems: list[dict]


def parse(tenant: Tenant, text, *, sample_sheet=None, format: str | None = None, fields=None) -> Parsed:
    """The spec of a document in any of the three formats (raises ``formats.FormatError``).

    ``fields`` (name, reference_genome, priority, …) fill what daylily_work.yaml and the sample sheet do
    not carry; FASTQ URIs in the tenant's own bucket come back as keys."""
    kind, spec = formats.parse(
        text,
        format=format or None,
        commands=pipeline_commands(),
        sample_sheet=sample_sheet,
        bucket=bucket_name(tenant),
        **(fields or {}),
    )
    spec = with_defaults(spec)
    return Parsed(kind, spec, problems_of(spec))


def discover(tenant: Tenant, prefix: str) -> tuple[str, Pairing, bool]:
    """(clean prefix, FASTQ pairs, truncated) under ``prefix`` of the tenant's bucket, sub-folders included
    (up to MAX_DISCOVER_DEPTH levels and MAX_DISCOVERED_FILES FASTQ files)."""
    folder = _folder(prefix, bucket_name(tenant))
    storage = storage_of(tenant)
    keys, truncated = [], False
    pending = [(folder, 0)]
    while pending and not truncated:
        current, depth = pending.pop(0)
        token = None
        while True:
            listing = storage.list(current, token=token, limit=LISTING_PAGE)
            keys.extend(info.key for info in listing.objects if is_fastq(info.key))
            if depth < MAX_DISCOVER_DEPTH:
                pending.extend((sub, depth + 1) for sub in listing.folders if sub != current)
            else:
                truncated = truncated or bool(listing.folders)
            token = listing.next_token
            if len(keys) >= MAX_DISCOVERED_FILES:
                keys, truncated = keys[:MAX_DISCOVERED_FILES], True
                break
            if not token:
                break
    return folder, pair_fastqs(keys), truncated


def _folder(prefix, bucket: str | None) -> str:
    if not isinstance(prefix, str) or not prefix.strip() or prefix.strip() == "/":
        return ""
    try:
        return bucket_key(prefix, bucket, folder=True)
    except OutsideBucket as error:
        raise DiscoverError(f"{error}.") from error


def _pipeline_known(code: str) -> bool:
    return _text(code) and Pipeline.objects.enabled().filter(code=code).exists()


def _reference_known(name: str) -> bool:
    return _text(name) and ReferenceGenome.objects.enabled().named(name) is not None


def _text(value) -> bool:
    """A name worth looking up: text, not empty, and without NUL (which PostgreSQL cannot compare)."""
    return isinstance(value, str) and bool(value) and "\x00" not in value


def spec_from_text(tenant: Tenant, text) -> dict:
    """The spec of ``{"yaml": text}`` in any of the three formats, for validate and submit alike; a text
    that cannot be read is a ValidationError on ``yaml`` with its line."""
    if not isinstance(text, str):
        raise ValidationError({"yaml": "Must be the YAML text."})
    try:
        return parse(tenant, text).spec
    except formats.FormatError as error:
        raise ValidationError({"yaml": str(error)}) from error
