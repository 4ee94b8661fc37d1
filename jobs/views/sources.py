"""Where the "New workset" page gets a spec besides its form: an uploaded file in any of the formats
(``jobs.generator.parse``) or the FASTQ pairs under a prefix of the tenant's bucket (``generator.discover``).
Both only fill the form in; submitting is always the form's job, so every path validates the same way.
"""

from django.core.exceptions import ValidationError

from jobs import generator
from jobs.spec.formats import FormatError
from tenants.storage import StorageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def document_from_upload(tenant, upload) -> dict:
    """The spec an uploaded file holds: the sample-oriented YAML, daylily_work.yaml or stage_samples.tsv."""
    if upload is None:
        raise ValidationError("Choose a file to upload.")
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB.")
    try:
        return generator.parse(tenant, upload.read()).spec
    except FormatError as error:
        raise ValidationError(f"{upload.name}: {error}") from error


def rows_from_prefix(tenant, prefix: str) -> list[dict]:
    """One row per FASTQ pair found under ``prefix``."""
    try:
        folder, pairing, _ = generator.discover(tenant, prefix)
    except (generator.DiscoverError, StorageError) as error:
        raise ValidationError(str(error)) from error
    if not pairing.pairs:
        raise ValidationError(f"No FASTQ pairs under “{folder or '/'}”.")
    return [
        {
            "sample_id": s["sample_id"],
            "fastq_r1": s["fastq_r1"],
            "fastq_r2": s["fastq_r2"] or "",
            "coverage": "",
        }
        for s in pairing.samples()
    ]
