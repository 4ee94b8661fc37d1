"""Operators' admin for the audit trail: searchable, filterable, read-only, exported as CSV.

Imported by ``tenants.admin``. "Export CSV" on the list streams every event matching the list's current search
and filters; the "Export selected" action streams the ticked rows.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path
from django.utils import timezone

from tenants.activity import CSV_HEADER, csv_response
from tenants.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created", "actor", "tenant", "action", "target", "source", "ip"]
    list_filter = ["action", "source", "tenant", "created"]
    date_hierarchy = "created"
    search_fields = ["action", "target", "actor__email", "tenant__slug", "tenant__name", "ip"]
    list_select_related = ["actor", "tenant"]
    readonly_fields = ["created", *CSV_HEADER[1:]]
    actions = ["export_selected"]
    show_full_result_count = False  # the trail is long; COUNT(*) on every page view is not needed

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the trail is append-only, for operators too

    def get_urls(self):
        export = path(
            "export/", self.admin_site.admin_view(self.export_view), name="tenants_auditevent_export"
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """Every event the list shows with the same query string (search and filters), all pages."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return csv_response(changelist.get_queryset(request), _filename())

    @admin.action(description="Export selected events as CSV", permissions=["view"])
    def export_selected(self, request, queryset):
        return csv_response(queryset, _filename())


def _filename() -> str:
    return f"runyard-audit-{timezone.now():%Y%m%d-%H%M}.csv"
