from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django_tenants.utils import tenant_context

from jobs.catalog.models import Cluster, DeadLetter, Pipeline, QueueEntry, ReferenceGenome


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "vcpu_hours_per_x",
        "vcpus_per_sample",
        "storage_gb_per_x",
        "default_coverage",
        "enabled",
    ]
    list_filter = ["enabled"]
    search_fields = ["code", "name"]


@admin.register(ReferenceGenome)
class ReferenceGenomeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "species", "aliases", "enabled"]
    list_filter = ["enabled", "species"]
    search_fields = ["code", "name", "aliases"]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "backend",
        "region",
        "usd_per_vcpu_hour",
        "capacity",
        "enabled",
        "health",
        "health_latency_ms",
        "health_checked_at",
    ]
    list_filter = ["backend", "region", "enabled", "health"]
    search_fields = ["name", "region"]
    readonly_fields = ["health", "health_checked_at", "health_latency_ms", "failed_checks", "health_message"]


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    """Every tenant's queue (read-only: the dispatcher and the services write it), with its statistics."""

    change_list_template = "admin/catalog/queueentry/change_list.html"
    list_display = [
        "workset_code",
        "tenant",
        "pipeline",
        "priority",
        "status",
        "cluster",
        "queued_at",
        "reason",
    ]
    list_filter = ["status", "priority", "cluster", "pipeline"]
    search_fields = ["workset_code", "workset_name", "tenant__slug"]
    list_select_related = ["tenant", "cluster"]
    ordering = ["rank", "queued_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        from jobs.queue import operator_stats

        return super().changelist_view(request, {**(extra_context or {}), "stats": operator_stats()})


class RequeueForm(ActionForm):
    cluster = forms.ModelChoiceField(
        Cluster.objects.enabled(),
        required=False,
        empty_label="(the dispatcher chooses)",
        to_field_name="name",
    )


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """The dead-letter queue: worksets whose last failure was not retried (or retries were used up), with
    the diagnosis. Requeue (optionally on another cluster) resumes from the failed step; discard archives."""

    action_form = RequeueForm
    actions = ["requeue", "discard"]
    list_display = ["workset_code", "tenant", "workset_name", "pipeline", "failure_code", "dead_since"]
    list_filter = ["failure_code", "pipeline"]
    search_fields = ["workset_code", "workset_name", "tenant__slug"]
    list_select_related = ["tenant"]
    fields = ["tenant", "workset_code", "workset_name", "pipeline", "priority", "failure_code", "report"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Dead since", ordering="updated_at")
    def dead_since(self, entry):
        return entry.updated_at

    @admin.display(description="Diagnosis")
    def report(self, entry):
        from jobs.diagnostics import diagnose, render_html

        excerpt = (entry.diagnosis or {}).get("excerpt", "")
        step = (entry.diagnosis or {}).get("step", "")
        html = render_html(diagnose(excerpt))  # every piece of text in it is escaped
        return format_html("<p>Failed step: <code>{}</code></p>{}", step or "?", mark_safe(html))  # noqa: S308

    @admin.action(description="Requeue (resume from the failed step; optionally on the cluster chosen above)")
    def requeue(self, request, queryset):
        from jobs.services import requeue_dead_letter

        cluster = request.POST.get("cluster", "")
        self._apply(request, queryset, requeue_dead_letter, "requeued", cluster=cluster)

    @admin.action(description="Discard (archive; the tenant still sees it)")
    def discard(self, request, queryset):
        from jobs.services import discard_dead_letter

        self._apply(request, queryset, discard_dead_letter, "discarded")

    def _apply(self, request, queryset, service, verb: str, **options) -> None:
        from jobs.models import IllegalTransition, Workset

        done = []
        for entry in queryset.select_related("tenant"):
            with tenant_context(entry.tenant):
                workset = Workset.objects.filter(code=entry.workset_code).first()
                try:
                    if workset is not None:
                        service(entry.tenant, workset, actor=request.user, **options)
                        done.append(entry.workset_code)
                except (IllegalTransition, ValidationError, PermissionDenied) as error:
                    self.message_user(request, f"{entry.workset_code}: {error}", messages.ERROR)
        if done:
            self.message_user(request, f"{len(done)} workset(s) {verb}: {', '.join(done)}.", messages.SUCCESS)
