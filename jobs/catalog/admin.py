from django.contrib import admin

from jobs.catalog.models import Pipeline, ReferenceGenome


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
