"""The pipeline and reference-genome catalogues (public schema), edited by operators in the admin.

Every form, API and validator reads these tables, so the lists can never disagree.
"""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

CODE = RegexValidator(r"^[a-z0-9][a-z0-9_-]{1,39}$", "Lower-case letters, digits, '-' and '_'.")
CONSTANT = {"max_digits": 12, "decimal_places": 6, "validators": [MinValueValidator(Decimal(0))]}


class PipelineQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class Pipeline(models.Model):
    """A pipeline customers can run, with the constants estimates use before a tenant has its own history."""

    code = models.CharField(max_length=40, unique=True, validators=[CODE])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    command = models.CharField(
        max_length=500,
        help_text="The Daylily target arguments (dy-r), e.g. 'help' or 'produce_snv_concordances …'.",
    )
    vcpu_hours_per_x = models.DecimalField(
        **CONSTANT, help_text="vCPU-hours one sample needs per 1× of coverage."
    )
    vcpus_per_sample = models.PositiveIntegerField(
        default=16,
        validators=[MinValueValidator(1)],
        help_text="vCPUs one sample runs on (gives the duration).",
    )
    storage_gb_per_x = models.DecimalField(
        **CONSTANT, help_text="GB of results and intermediates one sample writes per 1× of coverage."
    )
    default_coverage = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    enabled = models.BooleanField(default=True)

    objects = PipelineQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ReferenceGenomeQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def named(self, name: str):
        """The genome called ``name`` by its code or an alias, ignoring case ("hg38" finds GRCh38)."""
        name = (name or "").strip().lower()
        return self.filter(models.Q(code__iexact=name) | models.Q(aliases_lower__contains=[name])).first()


class ReferenceGenome(models.Model):
    code = models.CharField(max_length=40, unique=True, help_text="The canonical name, e.g. GRCh38.")
    name = models.CharField(max_length=100)
    species = models.CharField(max_length=100)
    aliases = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, help_text="Other names, e.g. hg38, grch38."
    )
    aliases_lower = ArrayField(models.CharField(max_length=40), default=list, editable=False)
    enabled = models.BooleanField(default=True)

    objects = ReferenceGenomeQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(Lower("code"), name="reference_code_unique_ignoring_case")]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        self.aliases_lower = sorted({alias.strip().lower() for alias in self.aliases if alias.strip()})
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "aliases_lower"}
        super().save(*args, **kwargs)


class ClusterQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class Cluster(models.Model):
    """A compute cluster worksets run on, registered by operators. Health is written by the periodic
    health check; the dispatcher routes around unhealthy clusters (both arrive with the execution work)."""

    class Backend(models.TextChoices):
        LOCAL = "local", "Local (subprocesses on the worker host)"
        SLURM = "slurm", "Slurm"

    class Health(models.TextChoices):
        UNKNOWN = "unknown"
        HEALTHY = "healthy"
        DEGRADED = "degraded"
        UNHEALTHY = "unhealthy"

    name = models.CharField(max_length=100, unique=True, validators=[CODE])
    backend = models.CharField(max_length=10, choices=Backend.choices)
    region = models.CharField(max_length=40, help_text="Where it runs, e.g. us-east-1 (data locality).")
    usd_per_vcpu_hour = models.DecimalField(
        **CONSTANT, verbose_name="$/vCPU-hour", help_text="What a vCPU-hour costs the provider here."
    )
    capacity = models.PositiveIntegerField(
        default=4, validators=[MinValueValidator(1)], help_text="Worksets it runs at once."
    )
    pipelines = ArrayField(
        models.CharField(max_length=40),
        default=list,
        blank=True,
        help_text="The pipelines it can run (catalogue codes); empty means every pipeline.",
    )
    enabled = models.BooleanField(default=True)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN, editable=False)
    health_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    health_latency_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    failed_checks = models.PositiveSmallIntegerField(default=0, editable=False)
    health_message = models.CharField(max_length=500, blank=True, editable=False)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def runs(self, pipeline: str) -> bool:
        return not self.pipelines or pipeline in self.pipelines


class QueueEntryQuerySet(models.QuerySet):
    def dispatchable(self):
        """Queued entries in dispatch order: priority, then age."""
        return self.filter(status=QueueEntry.Status.QUEUED).order_by("rank", "queued_at", "id")

    def placed(self):
        return self.filter(status=QueueEntry.Status.PLACED)


class QueueEntry(models.Model):
    """The public index of every workset that waits for, or holds, a place on a cluster, across tenants.

    Worksets live in their tenant's schema; the dispatcher orders work across tenants, counts places per
    cluster and tenant, and operators see the dead-letter queue, so those facts are mirrored here. Only
    ``jobs.queue`` writes these rows, in the same transaction as the workset's own state change."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RETRY_WAIT = "retry_wait"
        PLACED = "placed", "Placed (dispatched or running)"
        DEAD_LETTER = "dead_letter", "Dead letter"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="queue_entries")
    workset_code = models.CharField(max_length=40)
    workset_name = models.CharField(max_length=64)
    pipeline = models.CharField(max_length=40)
    priority = models.CharField(max_length=10)
    rank = models.PositiveSmallIntegerField(help_text="0 goes first (urgent), then normal, then low.")
    preferred_cluster = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    queued_at = models.DateTimeField(help_text="When it first queued: its age in the queue.")
    not_before = models.DateTimeField(null=True, blank=True, help_text="A retry waits until then.")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Why it was placed there, or waits.")
    failure_code = models.CharField(max_length=20, blank=True)
    diagnosis = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = QueueEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "queue entries"
        ordering = ["rank", "queued_at", "id"]
        constraints = [models.UniqueConstraint("tenant", "workset_code", name="one_entry_per_workset")]
        indexes = [models.Index(fields=["status", "rank", "queued_at"])]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.workset_code} ({self.status})"


class DeadLetterManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(status=QueueEntry.Status.DEAD_LETTER)


class DeadLetter(QueueEntry):
    """The dead-letter queue, as operators see it in the admin."""

    objects = DeadLetterManager()

    class Meta:
        proxy = True
        verbose_name = "dead letter"
        verbose_name_plural = "dead-letter queue"


class SlotCounter(models.Model):
    """Places in use, per scope: ``global``, ``tenant:<id>``, ``cluster:<id>``.

    Taken with a conditional update (``used < limit``) in the dispatcher's transaction and given back in
    the transaction that ends the run, so concurrent dispatchers can never overfill a cluster, a tenant's
    quota or the global limit, and the count cannot drift from the entries it counts."""

    scope = models.CharField(max_length=60, primary_key=True)
    used = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope}: {self.used}"
