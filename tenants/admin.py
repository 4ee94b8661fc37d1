"""Operators' admin (public host): tenants, domains, users, memberships, tokens and the audit trail."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from tenants import admin_assistant, admin_audit, admin_billing, admin_iss, services  # noqa: F401 (admin_* register)
from tenants.admin_costs import CostIngestAdmin
from tenants.admin_storage import BucketInline
from tenants.forms import add_validation_errors
from tenants.models import ApiToken, Domain, Membership, Tenant, User


class OnboardTenantForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=40, help_text="Becomes <slug>.<base domain>.")
    owner_email = forms.EmailField(help_text="A new user gets an email to choose a password.")
    bucket = forms.CharField(
        max_length=63,
        required=False,
        label="Existing bucket (bring your own)",
        help_text="Leave empty to create a managed bucket. An existing bucket is checked for access and "
        "never reconfigured.",
    )
    cost_center = forms.CharField(max_length=100, required=False, help_text="Tagged CostCenter on the bucket")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(CostIngestAdmin, admin.ModelAdmin):
    list_display = ["slug", "name", "status", "created"]
    list_filter = ["status"]
    search_fields = ["slug", "name"]
    readonly_fields = ["slug", "schema_name", "status", "created"]
    inlines = [DomainInline, MembershipInline, BucketInline]
    actions = ["suspend", "activate", "ingest_gpu_jobs"]

    def get_queryset(self, request):
        return super().get_queryset(request).customers()

    def get_urls(self):
        onboard = path("add/", self.admin_site.admin_view(self.onboard_view), name="tenants_tenant_add")
        return [onboard, *self.cost_ingest_urls(), *super().get_urls()]

    def onboard_view(self, request):
        """Adding a tenant in the admin goes through onboard_tenant, like the CLI and the API."""
        form = OnboardTenantForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                tenant = services.onboard_tenant(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_validation_errors(form, error)
            else:
                self.message_user(request, f"Tenant {tenant.slug} onboarded.", messages.SUCCESS)
                return redirect("admin:tenants_tenant_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Onboard a tenant",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tenants/onboard.html", context)

    def delete_model(self, request, obj):
        """Deleting here goes through delete_tenant like the CLI: audited, drafts dropped, bucket kept."""
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset):
        for tenant in queryset:
            try:
                services.delete_tenant(tenant, actor=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)

    @admin.action(description="Suspend selected tenants (read-only)")
    def suspend(self, request, queryset):
        for tenant in queryset:
            services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=request.user)

    @admin.action(description="Reactivate selected tenants")
    def activate(self, request, queryset):
        for tenant in queryset:
            services.set_tenant_status(tenant, Tenant.Status.ACTIVE, actor=request.user)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__email", "tenant__slug"]
    autocomplete_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "tenant", "key_id", "created", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "user__email", "key_id"]
    readonly_fields = [
        "user",
        "tenant",
        "name",
        "key_id",
        "created",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["secret_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # the key is shown once to its owner: create tokens on the tokens page or CLI

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.revoke_api_token(token, actor=request.user)
