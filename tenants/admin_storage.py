"""Operators' admin for tenants' buckets: lifecycle numbers (re-applied to S3 on save), usage, the settings
read back from S3, and a page to restore files customers deleted.

Imported by ``tenants.admin``. Every write goes through ``tenants.services.buckets``.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from tenants import services
from tenants.models import Bucket
from tenants.services.quotas import format_bytes
from tenants.storage import InvalidKey, StorageError, clean_key, storage_for

LIFECYCLE_FIELDS = ["worksets_expire_days", "results_to_ia_days", "noncurrent_expire_days"]


class BucketInline(admin.StackedInline):
    """The tenant's page shows its bucket; numbers are edited on the bucket's own page."""

    model = Bucket
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "backend", "managed", "region", "cost_center", *LIFECYCLE_FIELDS, "usage"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # buckets come from onboarding

    @admin.display(description="Usage")
    def usage(self, bucket):
        return usage_of(bucket)


@admin.register(Bucket)
class BucketAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "backend", "managed", "usage", "measured_at"]
    list_filter = ["backend", "managed"]
    search_fields = ["name", "tenant__slug"]
    readonly_fields = [
        "tenant",
        "name",
        "backend",
        "region",
        "managed",
        "usage",
        "measured_at",
        "created",
        "settings_in_storage",
        "deleted_files",
    ]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "backend", "region", "managed", "cost_center"]}),
        ("Lifecycle (applied to the bucket on save)", {"fields": LIFECYCLE_FIELDS}),
        ("Usage", {"fields": ["usage", "measured_at", "deleted_files"]}),
        ("Read back from storage", {"fields": ["settings_in_storage"]}),
    ]

    def has_add_permission(self, request):
        return False  # buckets come from onboarding

    def has_delete_permission(self, request, obj=None):
        return False  # a bucket goes with its tenant: `runyard tenant delete --delete-bucket`

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        try:
            applied = services.apply_bucket_settings(obj, actor=request.user)
        except ValidationError as error:
            self.message_user(request, f"Saved, but not applied: {'; '.join(error.messages)}", messages.ERROR)
            return
        if applied:
            self.message_user(request, f"Lifecycle and tags applied to {obj.name}.", messages.SUCCESS)
        elif not obj.managed:
            self.message_user(
                request, f"{obj.name} is the customer's own: not reconfigured.", messages.WARNING
            )

    @admin.display(description="Usage")
    def usage(self, bucket):
        return usage_of(bucket)

    @admin.display(description="Settings in storage")
    def settings_in_storage(self, bucket):
        if bucket.backend != Bucket.Backend.S3:
            return "Local directory: no lifecycle, tags or encryption settings."
        try:
            found = services.read_bucket_settings(bucket)
        except StorageError as error:
            return f"Could not read the bucket: {error}"
        return format_html("<pre>{}</pre>", json.dumps(found, indent=2, default=str, sort_keys=True))

    @admin.display(description="Deleted files")
    def deleted_files(self, bucket):
        url = reverse("admin:tenants_bucket_deleted", args=[bucket.pk])
        return format_html('<a href="{}">Restore deleted files</a>', url)

    def get_urls(self):
        deleted = path(
            "<int:pk>/deleted/",
            self.admin_site.admin_view(self.deleted_view),
            name="tenants_bucket_deleted",
        )
        return [deleted, *super().get_urls()]

    def deleted_view(self, request, pk):
        """Files customers deleted that the bucket still keeps; operators restore them one by one."""
        if not self.has_change_permission(request):
            raise Http404
        bucket = get_object_or_404(Bucket.objects.select_related("tenant"), pk=pk)
        if request.method == "POST":
            self._restore(request, bucket, request.POST.get("key", ""))
            return redirect(request.get_full_path())
        prefix = request.GET.get("prefix", "")
        return TemplateResponse(
            request, "admin/tenants/bucket_deleted.html", self._deleted_context(request, bucket, prefix)
        )

    def _deleted_context(self, request, bucket, prefix):
        error, deleted = None, []
        try:
            deleted = storage_for(bucket).list_deleted(clean_key(prefix, folder=True, allow_empty=True))
        except (StorageError, InvalidKey) as failure:
            error = str(failure)
        return {
            **self.admin_site.each_context(request),
            "title": f"Deleted files of {bucket.tenant.slug}",
            "opts": self.model._meta,
            "original": bucket,
            "bucket": bucket,
            "deleted": deleted,
            "prefix": prefix,
            "error": error,
        }

    def _restore(self, request, bucket, raw_key):
        try:
            info = services.restore_deleted_file(bucket, clean_key(raw_key), actor=request.user)
        except (StorageError, InvalidKey) as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, f"Restored {info.key}.", messages.SUCCESS)


def usage_of(bucket: Bucket) -> str:
    measured = bucket.measured_at.strftime("%Y-%m-%d %H:%M") if bucket.measured_at else "never"
    return f"{format_bytes(bucket.bytes_used)} in {bucket.object_count} files (last full scan: {measured})"
