"""Cost analytics of GPU jobs run outside Runyard (Heliox-shaped job metadata), in the tenant's schema.

``Team`` and ``GpuJob`` hold the ingested metadata (jobs upserted by ``job_id``), ``RateSnapshot`` the
tenant's US dollars per GPU-hour for one (UTC day, provider, GPU type), ``CostIngest`` one upload and
its report. ``CostRollup`` is derived: one row per (day, team, model, provider, GPU type) summing the
prorated GPU-hours and cost of the *closed* jobs (completed, failed, cancelled) that ran that day
(``analysis.costs.proration`` has the formula). It is maintained incrementally by
``analysis.cost_services`` on ingestion and on rate changes; open jobs (pending, running) grow with
the clock, so they are prorated to "now" when a question is asked and never stored in a rollup.
"""

from django.db import models
from django.utils import timezone

from analysis.costs.records import STATUSES
from jobs.models import new_code, user_link

MONEY = {"max_digits": 14, "decimal_places": 2}


class CostQuerySet(models.QuerySet):
    def visible_to(self, membership):
        """Every member of the tenant sees its cost data; the schema holds only this tenant's."""
        return self if membership is not None else self.none()


JobStatus = models.TextChoices("JobStatus", [(status.upper(), status) for status in STATUSES])


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    budget_usd = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Monthly budget in US dollars; empty when none is set."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GpuJob(models.Model):
    job_id = models.CharField(max_length=200, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="jobs")
    model_name = models.CharField(max_length=200)
    provider = models.CharField(max_length=20)
    gpu_type = models.CharField(max_length=20)
    gpu_count = models.PositiveIntegerField()
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices)
    ingest = models.ForeignKey(
        "CostIngest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The ingest that last inserted or changed the job.",
    )
    updated = models.DateTimeField(auto_now=True)

    objects = CostQuerySet.as_manager()

    class Meta:
        ordering = ["-start_time", "job_id"]
        indexes = [
            models.Index(fields=["team", "start_time"], name="gpujob_team_start"),
            models.Index(fields=["start_time"], name="gpujob_start"),
            models.Index(
                fields=["status"], condition=models.Q(status__in=["pending", "running"]), name="gpujob_open"
            ),
        ]

    def __str__(self) -> str:
        return self.job_id


class RateSource(models.TextChoices):
    IMPORT = "import", "Imported CSV"
    OPERATOR = "operator", "Entered by an operator"
    DEMO = "demo", "Demo data"


class RateSnapshot(models.Model):
    day = models.DateField(help_text="The UTC day the rate applies to.")
    provider = models.CharField(max_length=20)
    gpu_type = models.CharField(max_length=20)
    usd_per_gpu_hour = models.DecimalField(max_digits=12, decimal_places=4)
    source = models.CharField(max_length=10, choices=RateSource.choices, default=RateSource.IMPORT)
    updated_by = user_link()
    updated = models.DateTimeField(auto_now=True)

    objects = CostQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "provider", "gpu_type"]
        constraints = [
            models.UniqueConstraint(fields=["day", "provider", "gpu_type"], name="one_rate_per_day_and_gpu")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.gpu_type}: ${self.usd_per_gpu_hour}/GPU-hour"


class CostRollup(models.Model):
    """Closed jobs' prorated figures for one (day, team, model, provider, GPU type); see module doc."""

    day = models.DateField()
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    model_name = models.CharField(max_length=200)
    provider = models.CharField(max_length=20)
    gpu_type = models.CharField(max_length=20)
    gpu_hours = models.FloatField(default=0)
    cost = models.FloatField(default=0, help_text="US dollars, over the priced GPU-hours only.")
    unpriced_gpu_hours = models.FloatField(default=0, help_text="GPU-hours of a day with no rate.")
    jobs_started = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team", "model_name", "provider", "gpu_type"], name="one_rollup_per_key"
            )
        ]
        indexes = [models.Index(fields=["day"], name="costrollup_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.team_id} {self.model_name} {self.provider} {self.gpu_type}"


class IngestKind(models.TextChoices):
    JOBS = "jobs", "Teams and jobs"
    RATES = "rates", "Rates"


class IngestState(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Ingesting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class CostIngest(models.Model):
    code = models.CharField(max_length=40, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=IngestKind.choices)
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=10, help_text="json, jsonl or csv.")
    raw_key = models.CharField(max_length=1024, help_text="The uploaded file in the tenant's bucket.")
    size = models.BigIntegerField(help_text="Bytes of the uploaded file.")
    state = models.CharField(max_length=10, choices=IngestState.choices, default=IngestState.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the file read.")
    rows_done = models.BigIntegerField(default=0, help_text="Rows read and applied so far.")
    counts = models.JSONField(
        default=dict, blank=True, help_text='{"jobs": {"inserted": n, "updated": n, "unchanged": n}, …}'
    )
    failed = models.BigIntegerField(default=0, help_text="Rows refused.")
    failures = models.JSONField(
        default=list, blank=True, help_text="The first refused rows: row, kind, field, message."
    )
    error = models.TextField(blank=True, help_text="Why the whole ingest failed, if it did.")
    created_by = user_link()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = CostQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        if not self.code:
            self.code = new_code(self.filename, default="ingest")
        super().save(*args, **kwargs)
