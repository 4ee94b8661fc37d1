"""Validating a workset before it runs: the checks that need the catalogue, the bucket and the quotas.

``validate_workset`` answers a ``ValidationReport``: every problem found (not just the first), each with a
code from ``CODES``, a severity, the field it concerns, a message and a fix, plus the canonical spec (with
defaults, the reference genome under its canonical name) and the estimate. ``dry_run`` skips the bucket
HEADs but never the check that paths stay inside the tenant's bucket; ``strict`` turns warnings into
errors. Run it in the tenant's schema (a request on the tenant's host, or ``tenant_context``).
"""

import difflib
from dataclasses import dataclass, field, replace
from decimal import Decimal

from jobs.catalog.models import Cluster, Pipeline, ReferenceGenome
from jobs.estimates import Estimate, estimate_workset
from jobs.models import Workset
from jobs.spec import schema_problems, with_defaults
from jobs.spec.locations import HEAD_CONCURRENCY, OutsideBucket, bucket_key, head_many
from tenants.models import GB, Bucket, Tenant
from tenants.services.quotas import ApprovalRequired, QuotaExceeded, check_quota
from tenants.storage import StorageError, storage_for

ERROR, WARNING = "error", "warning"
COVERAGE_UNUSUAL = (Decimal("0.25"), Decimal(4))  # × the pipeline's default coverage


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    fix: str


CODES = {
    c.code: c
    for c in [
        Code(
            "WS-CFG-001", ERROR, "The spec does not match the schema", "correct the field as the message says"
        ),
        Code("WS-CFG-002", ERROR, "Unknown pipeline", "use one of the pipelines in the catalogue"),
        Code("WS-CFG-003", ERROR, "Unknown reference genome", "use a reference genome from the catalogue"),
        Code("WS-CFG-004", ERROR, "FASTQ not found in the bucket", "upload it or correct the path"),
        Code(
            "WS-CFG-005",
            ERROR,
            "Path outside the tenant's bucket",
            "give a key in your bucket, e.g. inputs/S1_R1.fastq.gz, or s3://<your bucket>/<key>",
        ),
        Code("WS-CFG-006", ERROR, "Duplicate sample id", "give every sample its own sample_id"),
        Code("WS-CFG-007", ERROR, "R1 and R2 are the same file", "point fastq_r2 at the second read file"),
        Code("WS-CFG-008", ERROR, "Pipeline disabled", "choose another pipeline or ask your operator"),
        Code(
            "WS-CFG-009", ERROR, "Reference genome disabled", "choose another reference or ask your operator"
        ),
        Code("WS-CFG-010", WARNING, "Unusual coverage", "check the coverage; leave it empty for the default"),
        Code(
            "WS-CFG-011", ERROR, "Export location outside the tenant's bucket", "give a prefix in your bucket"
        ),
        Code(
            "WS-CFG-012",
            ERROR,
            "Unknown cluster",
            "leave preferred_cluster empty or name a registered cluster",
        ),
        Code(
            "WS-CFG-013",
            ERROR,
            "Cluster disabled",
            "leave preferred_cluster empty or pick an enabled cluster",
        ),
        Code("WS-STO-001", ERROR, "The bucket could not be checked", "try again, or validate with dry_run"),
        Code(
            "WS-QTA-001",
            WARNING,
            "Concurrent worksets at the limit",
            "it will wait in the queue; cancel a running workset or ask for a higher limit",
        ),
        Code("WS-QTA-002", ERROR, "Not enough storage quota", "delete files or ask for a higher quota"),
        Code(
            "WS-QTA-003",
            WARNING,
            "Billing hold: a submission waits in billing_hold",
            "an operator can release the hold; it ends with the month",
        ),
        Code("WS-QTA-004", WARNING, "Owner approval required", "an owner approves it after submission"),
        Code(
            "WS-QTA-005",
            ERROR,
            "Estimate above the workset's budget",
            "raise budget_usd or run fewer samples",
        ),
    ]
}


@dataclass(frozen=True)
class Problem:
    code: str
    severity: str
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f" {self.field}" if self.field else ""
        return f"{self.code}{where}: {self.message} (fix: {self.fix})"

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
            "text": str(self),
        }


def problem(code: str, field_path: str, message: str, fix: str = "") -> Problem:
    entry = CODES[code]
    return Problem(code, entry.severity, field_path, message, fix or entry.fix)


@dataclass
class ValidationReport:
    problems: list[Problem] = field(default_factory=list)
    spec: dict | None = None
    estimate: dict | None = None
    dry_run: bool = False
    strict: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "dry_run": self.dry_run,
            "strict": self.strict,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.as_dict() for p in self.problems],
            "spec": self.spec,
            "estimate": self.estimate,
        }


def validate_workset(
    tenant: Tenant, document, *, dry_run: bool = False, strict: bool = False
) -> ValidationReport:
    """Every problem of ``document`` for ``tenant``; the report is valid when none is an error."""
    report = ValidationReport(dry_run=dry_run, strict=strict)
    schema = [problem("WS-CFG-001", p.path, p.message) for p in schema_problems(document)]
    report.problems += schema
    if not isinstance(document, dict):
        return report
    checker = _Checker(tenant, document, dry_run=dry_run)
    report.problems += checker.catalogue()
    report.problems += checker.samples()
    report.problems += checker.export()
    if not schema:
        report.spec = checker.canonical()
        report.problems += checker.bucket()
        if checker.pipeline is not None:
            estimate = estimate_workset(report.spec, pipeline=checker.pipeline)
            report.estimate = estimate.as_dict()
            report.problems += checker.coverage(report.spec)
            report.problems += checker.quotas(estimate, report.spec)
    if strict:
        report.problems = [replace(p, severity=ERROR) for p in report.problems]
    return report


class _Checker:
    """The checks of one validation, sharing what they looked up (catalogue rows, resolved keys)."""

    def __init__(self, tenant: Tenant, document: dict, *, dry_run: bool):
        self.tenant, self.document, self.dry_run = tenant, document, dry_run
        self.bucket_row = Bucket.objects.filter(tenant=tenant).first()
        self.bucket_name = self.bucket_row.name if self.bucket_row else None
        self.pipeline: Pipeline | None = None
        self.reference: ReferenceGenome | None = None
        self.keys: dict[str, str] = {}  # field path -> clean key, for the paths inside the bucket

    # --- catalogue ---

    def catalogue(self) -> list[Problem]:
        return [*self._pipeline(), *self._reference(), *self._cluster()]

    def _pipeline(self) -> list[Problem]:
        name = self.document.get("pipeline")
        if not isinstance(name, str) or not name.strip():
            return []
        self.pipeline = Pipeline.objects.filter(code=name.strip()).first() if _searchable(name) else None
        if self.pipeline is None:
            codes = list(Pipeline.objects.enabled().values_list("code", flat=True))
            near = _closest(name.strip().lower(), {code.lower(): code for code in codes})
            hint = f"did you mean “{near}”?" if near else f"use one of {', '.join(codes)}"
            return [problem("WS-CFG-002", "pipeline", f"no pipeline “{name}” in the catalogue", hint)]
        if not self.pipeline.enabled:
            found, self.pipeline = self.pipeline, None
            return [problem("WS-CFG-008", "pipeline", f"pipeline “{found.code}” is disabled")]
        return []

    def _reference(self) -> list[Problem]:
        name = self.document.get("reference_genome")
        if not isinstance(name, str) or not name.strip():
            return []
        found = ReferenceGenome.objects.named(name) if _searchable(name) else None
        if found is None:
            return [
                problem(
                    "WS-CFG-003", "reference_genome", f"no reference genome “{name}”", _reference_hint(name)
                )
            ]
        if not found.enabled:
            return [problem("WS-CFG-009", "reference_genome", f"reference genome “{found.code}” is disabled")]
        self.reference = found
        return []

    def _cluster(self) -> list[Problem]:
        name = self.document.get("preferred_cluster")
        if not isinstance(name, str) or not name.strip():
            return []
        found = Cluster.objects.filter(name=name.strip()).first() if _searchable(name) else None
        if found is None:
            names = list(Cluster.objects.enabled().values_list("name", flat=True))
            hint = f"use one of {', '.join(names)}" if names else "no cluster is registered: leave it empty"
            return [problem("WS-CFG-012", "preferred_cluster", f"no cluster “{name}”", hint)]
        if not found.enabled:
            return [problem("WS-CFG-013", "preferred_cluster", f"cluster “{found.name}” is disabled")]
        return []

    # --- samples, paths ---

    def samples(self) -> list[Problem]:
        samples = self.document.get("samples")
        if not isinstance(samples, list):
            return []
        problems, seen = [], {}
        for index, sample in enumerate(samples):
            if not isinstance(sample, dict):
                continue
            problems += self._duplicate(index, sample, seen)
            problems += self._paths(index, sample)
        return problems

    def _duplicate(self, index: int, sample: dict, seen: dict) -> list[Problem]:
        sample_id = sample.get("sample_id")
        if not isinstance(sample_id, str):
            return []
        if sample_id in seen:
            message = f"“{sample_id}” is also the id of samples[{seen[sample_id]}]"
            return [problem("WS-CFG-006", f"samples[{index}].sample_id", message)]
        seen[sample_id] = index
        return []

    def _paths(self, index: int, sample: dict) -> list[Problem]:
        problems = []
        for name in ("fastq_r1", "fastq_r2"):
            raw, path = sample.get(name), f"samples[{index}].{name}"
            if not isinstance(raw, str) or not raw:
                continue
            try:
                self.keys[path] = bucket_key(raw, self.bucket_name)
            except OutsideBucket as error:
                problems.append(problem("WS-CFG-005", path, f"outside your bucket: {error}"))
        r1, r2 = self.keys.get(f"samples[{index}].fastq_r1"), self.keys.get(f"samples[{index}].fastq_r2")
        if r1 and r1 == r2:
            problems.append(
                problem("WS-CFG-007", f"samples[{index}].fastq_r2", f"same file as fastq_r1 ({r1})")
            )
        return problems

    def export(self) -> list[Problem]:
        raw = self.document.get("export_uri")
        if not isinstance(raw, str):
            return []
        try:
            bucket_key(raw, self.bucket_name, folder=True)
        except OutsideBucket as error:
            return [problem("WS-CFG-011", "export_uri", f"outside your bucket: {error}")]
        return []

    def bucket(self) -> list[Problem]:
        """HEAD every FASTQ at once (skipped in a dry run); a missing one is WS-CFG-004."""
        if self.dry_run or not self.keys:
            return []
        if self.bucket_row is None:
            return [problem("WS-STO-001", "samples", "this tenant has no bucket yet", "ask your operator")]
        try:
            found = head_many(storage_for(self.bucket_row), self.keys.values(), concurrency=HEAD_CONCURRENCY)
        except StorageError as error:
            return [problem("WS-STO-001", "samples", str(error))]
        problems, failed = [], ""
        for path, key in self.keys.items():
            result = found[key]
            if result.error:
                failed = failed or result.error
            elif not result.found:
                problems.append(problem("WS-CFG-004", path, "not found in bucket"))
        if failed:
            problems.append(problem("WS-STO-001", "samples", f"some files could not be checked: {failed}"))
        return problems

    # --- after the schema holds ---

    def canonical(self) -> dict:
        spec = with_defaults(self.document)
        if self.reference is not None:
            spec["reference_genome"] = self.reference.code
        return spec

    def coverage(self, spec: dict) -> list[Problem]:
        default = self.pipeline.default_coverage
        low, high = default * COVERAGE_UNUSUAL[0], default * COVERAGE_UNUSUAL[1]
        given = [("coverage", spec.get("coverage"))]
        given += [(f"samples[{i}].coverage", s.get("coverage")) for i, s in enumerate(spec["samples"])]
        problems = []
        for path, value in given:
            if value is not None and not low <= Decimal(str(value)) <= high:
                message = f"{value}× is unusual for {self.pipeline.code} (its default is {default:g}×)"
                problems.append(problem("WS-CFG-010", path, message))
        return problems

    def quotas(self, estimate: Estimate, spec: dict) -> list[Problem]:
        problems = []
        running = Workset.objects.active().count() + 1
        problems += _quota(self.tenant, "concurrent_worksets", running, "WS-QTA-001", "")
        storage_bytes = int(estimate.storage_gb * GB)
        problems += _quota(self.tenant, "storage", storage_bytes, "WS-QTA-002", "")
        try:
            check_quota(self.tenant, "submission")
        except ApprovalRequired as error:
            problems.append(problem("WS-QTA-004", "", _text(error)))
        except QuotaExceeded as error:
            problems.append(problem("WS-QTA-003", "", _text(error)))
        budget = spec.get("budget_usd")
        if budget is not None and estimate.cost_usd is not None and estimate.cost_usd > Decimal(str(budget)):
            message = f"estimated ${estimate.cost_usd} is more than the budget of ${budget}"
            problems.append(problem("WS-QTA-005", "budget_usd", message))
        return problems


def _quota(tenant: Tenant, kind: str, amount: int, code: str, field_path: str) -> list[Problem]:
    try:
        check_quota(tenant, kind, amount)
    except QuotaExceeded as error:
        return [problem(code, field_path, _text(error))]
    return []


def _text(error: Exception) -> str:
    messages = getattr(error, "messages", None) or [str(error)]
    return " ".join(messages)


def _searchable(name: str) -> bool:
    """PostgreSQL refuses NUL in text; no catalogue name holds control characters, so it is unknown."""
    return name.isprintable()


def _closest(name: str, choices: dict[str, str]) -> str | None:
    """The canonical name whose spelling (lower-case, with or without separators) is nearest to ``name``."""
    squeezed = {_squeeze(key): value for key, value in choices.items()}
    if _squeeze(name) in squeezed:
        return squeezed[_squeeze(name)]
    near = difflib.get_close_matches(_squeeze(name), list(squeezed), n=1, cutoff=0.6)
    return squeezed[near[0]] if near else None


def _squeeze(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _reference_hint(name: str) -> str:
    references = list(ReferenceGenome.objects.enabled())
    names = {ref.code.lower(): ref.code for ref in references}
    names.update({alias: ref.code for ref in references for alias in ref.aliases_lower})
    near = _closest(name.strip().lower(), names)
    if near:
        return f"did you mean “{near}”?"
    return f"use one of {', '.join(ref.code for ref in references)} (or an alias such as hg38)"
