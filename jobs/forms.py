"""The "New workset" form: it only gathers fields into a spec document. Whether the spec is valid is the
validation service's answer (one set of rules for the page, the API and the CLI), shown next to the fields.
"""

from django import forms

from jobs.catalog.models import Pipeline, ReferenceGenome
from jobs.spec import PRIORITIES

SAMPLE_FIELDS = ("sample_id", "fastq_r1", "fastq_r2", "coverage")
BLANK_ROWS = 3

DEFAULT_REFERENCE = "GRCh38"  # the human reference most runs use; the list itself is the catalogue


class WorksetForm(forms.Form):
    name = forms.CharField(max_length=64, required=False, help_text="3–64 letters, digits, space . _ -")
    pipeline = forms.ChoiceField(choices=())
    reference_genome = forms.ChoiceField(choices=(), label="Reference genome")
    priority = forms.ChoiceField(choices=[(p, p) for p in PRIORITIES], initial="normal")
    max_retries = forms.IntegerField(min_value=0, max_value=10, initial=3, label="Max retries")
    coverage = forms.FloatField(required=False, help_text="Empty: the pipeline's default.")
    preferred_cluster = forms.CharField(max_length=100, required=False, label="Preferred cluster")
    export_uri = forms.CharField(
        max_length=1024, required=False, label="Export to", help_text="Empty: results/<workset id>/."
    )
    notification_emails = forms.CharField(
        required=False, label="Notify", help_text="Email addresses, separated by commas."
    )
    budget_usd = forms.FloatField(required=False, min_value=0, label="Budget (USD)")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [
            (p.code, f"{p.code} — {p.name}") for p in Pipeline.objects.enabled()
        ]
        self.fields["reference_genome"].choices = [
            (g.code, f"{g.code} ({', '.join(g.aliases)})" if g.aliases else g.code)
            for g in ReferenceGenome.objects.enabled()
        ]
        self.fields["reference_genome"].initial = DEFAULT_REFERENCE

    def document(self, samples: list[dict]) -> dict:
        """The spec these fields describe; empty optional fields are left out, so defaults apply."""
        data = self.cleaned_data
        document = {"spec_version": 1, "name": data["name"].strip()}
        for field in ("pipeline", "reference_genome", "priority", "max_retries"):
            document[field] = data[field]
        for field in ("coverage", "budget_usd"):
            if data.get(field) is not None:
                document[field] = data[field]
        for field in ("preferred_cluster", "export_uri", "notes"):
            if data.get(field):
                document[field] = data[field].strip()
        emails = [e.strip() for e in (data.get("notification_emails") or "").split(",") if e.strip()]
        if emails:
            document["notifications"] = {"emails": emails}
        document["samples"] = samples
        return document


def initial_from(document: dict) -> dict:
    """Form fields filled from a spec (an uploaded file, a retry): the inverse of ``document``."""
    initial = {
        key: document.get(key)
        for key in WorksetForm.base_fields
        if key in document and document.get(key) is not None
    }
    emails = (document.get("notifications") or {}).get("emails") or []
    if emails:
        initial["notification_emails"] = ", ".join(emails)
    return initial


def sample_rows(post) -> list[dict]:
    """The sample rows of a submitted form, blank rows dropped, in order."""
    columns = {field: post.getlist(field) for field in SAMPLE_FIELDS}
    count = max((len(values) for values in columns.values()), default=0)
    rows = []
    for index in range(count):
        row = {
            field: (columns[field][index] if index < len(columns[field]) else "").strip()
            for field in SAMPLE_FIELDS
        }
        if any(row.values()):
            rows.append(row)
    return rows


def samples_of(rows: list[dict]) -> list[dict]:
    """Rows as spec samples: empty R2 and coverage left out; a coverage that is not a number is kept as
    text, so the validator reports it on its field instead of the form dropping it."""
    samples = []
    for row in rows:
        sample = {"sample_id": row["sample_id"], "fastq_r1": row["fastq_r1"]}
        if row.get("fastq_r2"):
            sample["fastq_r2"] = row["fastq_r2"]
        if row.get("coverage"):
            sample["coverage"] = _number(row["coverage"])
        samples.append(sample)
    return samples


def rows_of(document: dict) -> list[dict]:
    samples = document.get("samples") or []
    return [
        {field: "" if s.get(field) is None else str(s.get(field)) for field in SAMPLE_FIELDS}
        for s in samples
        if isinstance(s, dict)
    ]


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text
