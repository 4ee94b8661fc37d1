from django.contrib import admin

from jobs.catalog.models import Cluster, Pipeline, ReferenceGenome


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
