"""Operators' admin action on the tenant list: "Ingest GPU job metadata…" for one tenant.

The intermediate page takes a file (teams and jobs, or rates) and runs ``start_cost_ingest`` inside that
tenant's schema with the operator as actor: the same service as the tenant's upload page and API, so
the file lands in the tenant's bucket and is ingested by the same Celery task. Mixed into
``tenants.admin.TenantAdmin``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django_tenants.utils import tenant_context

from analysis.models.costs import IngestKind
from tenants.forms import add_validation_errors
from tenants.models import Tenant


class CostIngestAdminForm(forms.Form):
    kind = forms.ChoiceField(choices=IngestKind.choices, initial=IngestKind.JOBS, label="The file holds")
    file = forms.FileField(help_text="Teams and jobs: JSON, JSON Lines or CSV (Heliox's shape). Rates: CSV.")


class CostIngestAdmin:
    """The action and its page; ``cost_ingest_urls()`` goes into the admin's ``get_urls``."""

    def cost_ingest_urls(self) -> list:
        view = self.admin_site.admin_view(self.ingest_costs_view)
        return [path("<int:tenant_id>/ingest-costs/", view, name="tenants_tenant_ingest_costs")]

    @admin.action(description="Ingest GPU job metadata…")
    def ingest_gpu_jobs(self, request, queryset):
        tenants = list(queryset[:2])
        if len(tenants) != 1:
            self.message_user(request, "Choose one tenant to ingest a file into.", messages.WARNING)
            return None
        return redirect(reverse("admin:tenants_tenant_ingest_costs", args=[tenants[0].pk]))

    def ingest_costs_view(self, request, tenant_id: int):
        from analysis.services.costs import start_cost_ingest

        tenant = get_object_or_404(Tenant.objects.customers(), pk=tenant_id)
        form = CostIngestAdminForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                with tenant_context(tenant):
                    ingest = start_cost_ingest(
                        form.cleaned_data["file"], kind=form.cleaned_data["kind"], actor=request.user
                    )
            except ValidationError as error:
                add_validation_errors(form, error)
            else:
                message = f"{ingest.filename} is being ingested into {tenant.slug} (ingest {ingest.code})."
                self.message_user(request, message, messages.SUCCESS)
                return redirect("admin:tenants_tenant_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "tenant": tenant,
            "title": f"Ingest GPU job metadata into {tenant.name}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tenants/ingest_costs.html", context)
