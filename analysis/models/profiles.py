"""A tenant's profiles: the uploaded (or imported) profiler file and what parsing it produced.

The raw file and the parsed tables (Parquet, ``analysis.profiles.store``) live in the tenant's bucket;
the row keeps where they are, the file's metadata (tool, events and how each was obtained, totals) and a
small summary for lists. ``attempt`` counts parses: a parse writes its tables under its own attempt and
finishes only if no newer parse was asked for meanwhile, so a re-parse or a redelivered task can never
leave a mix of two parses.
"""

from django.db import models
from django.utils import timezone

from jobs.models import new_code, user_link


class State(models.TextChoices):
    PENDING = "pending", "Waiting to be parsed"
    PARSING = "parsing", "Parsing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Source(models.TextChoices):
    UPLOAD = "upload", "Uploaded"
    WORKSET = "workset", "Workset results"
    ISS = "iss", "ISS job"
    DEMO = "demo", "Demo data"


class ProfileQuerySet(models.QuerySet):
    def visible_to(self, membership):
        """Every member of the tenant sees its profiles; the schema holds only this tenant's."""
        return self if membership is not None else self.none()

    def ready(self):
        return self.filter(state=State.READY)

    def of_workset(self, code: str):
        """Profiles made from a workset's results."""
        return self.filter(source=Source.WORKSET, source_ref=code).order_by("filename")


class Profile(models.Model):
    code = models.CharField(max_length=40, unique=True, editable=False)
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    source_ref = models.CharField(max_length=500, blank=True, help_text="Workset code or ISS job/file.")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="Bytes of the file as stored.")
    raw_key = models.CharField(max_length=1024, help_text="The profiler's file in the tenant's bucket.")
    disassembly_key = models.CharField(
        max_length=1024, blank=True, help_text="An objdump -d of the profiled binary, joined on address."
    )
    owns_raw = models.BooleanField(default=True, help_text="Deleting the profile deletes the raw file.")
    format = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the file parsed.")
    attempt = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    error_line = models.PositiveIntegerField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    tables = models.JSONField(default=dict, blank=True, help_text="Table name → Parquet key in the bucket.")
    created_by = user_link()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    parsed_at = models.DateTimeField(null=True, blank=True)

    objects = ProfileQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["raw_key"], condition=models.Q(source="workset"), name="one_profile_per_result_file"
            )
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        if not self.code:
            self.code = new_code(self.name, default="profile")
        super().save(*args, **kwargs)

    @property
    def tables_prefix(self) -> str:
        return f"profiles/{self.code}/parsed-{self.attempt}/"
